// Just enough of RFC 7741 (the VP8 RTP payload format) to tell whether a
// packet starts a frame and whether that frame is a keyframe.

/** For the first packet of a VP8 frame: true if it is a keyframe; null if the packet does not start a frame. */
export function vp8FrameStart(payload: Buffer): { keyframe: boolean } | null {
  if (payload.length < 1) return null;
  const b0 = payload[0];
  const start = (b0 & 0x10) !== 0;
  const partition = b0 & 0x07;
  if (!start || partition !== 0) return null;
  let offset = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return null;
    const x = payload[1];
    offset = 2;
    if (x & 0x80) offset += payload.length > offset && payload[offset] & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) offset += 1; // TL0PICIDX
    if (x & 0x20 || x & 0x10) offset += 1; // TID/Y/KEYIDX
  }
  if (payload.length <= offset) return null;
  // The VP8 payload header: P bit (inverse keyframe flag) is bit 0.
  return { keyframe: (payload[offset] & 0x01) === 0 };
}
