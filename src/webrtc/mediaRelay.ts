// One viewer's copy of one kind (audio or video) of a stream's media: a
// track of its own, carried by the viewer's RTP sender, fed with the packets
// of the stream's one file player (streamMedia.ts fans them out). Each relay
// writes its own copy of each packet's header, because werift's sender
// rewrites the header it is given in place (SSRC, payload type, offsets,
// extensions) and keeps the packet for retransmission:
//  - sequence numbers are the relay's own and stay continuous however many
//    packets it drops (a gap starts werift's 5 ms NACK timer per stream, see
//    docs/werift.md and werift-webrtc#655);
//  - a video relay starts at a keyframe: a late joiner's first frames would
//    reference frames it never got, so it drops frames until the next
//    keyframe (at most one GOP: werift's file player does not answer PLI);
//  - at each loop restart the timestamps carry on one frame after the last
//    packet this relay sent, instead of werift's mapping onto the previous
//    packet (the "looping glitch" in docs/werift.md, which froze browsers
//    for a GOP every loop);
//  - quality `low` sends only video keyframes (quality.ts), per viewer;
//  - frames and keyframes sent, and frames dropped, are counted for the stats.
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';

/** What the stream's dispatcher knows about a packet, worked out once for every relay. */
export type PacketInfo = {
  /** The first packet with this RTP timestamp. */
  newFrame: boolean;
  /** Video: the packet starts a keyframe. */
  keyframe: boolean;
  /** The source's last frame interval in RTP ticks (0 until known). */
  frameTicks: number;
};

export class MediaRelay {
  readonly track: MediaStreamTrack;
  framesSent = 0;
  keyframesSent = 0;
  framesDropped = 0;
  private outSeq = Math.floor(Math.random() * 0x10000);
  private tsOffset = 0;
  private lastOutTs: number | null = null;
  private sourceChanged = false;
  /** Whether the packets of the current frame are forwarded. Audio is never held back. */
  private keepFrame: boolean;
  /** Video: deltas are useless until the next keyframe (a viewer that just joined, or left keyframes-only mode). */
  private needKeyframe: boolean;
  private keyframesOnly = false;

  constructor(readonly kind: 'audio' | 'video') {
    this.track = new MediaStreamTrack({ kind });
    this.needKeyframe = kind === 'video';
    this.keepFrame = kind !== 'video';
  }

  setKeyframesOnly(on: boolean) {
    if (this.keyframesOnly && !on) this.needKeyframe = true;
    this.keyframesOnly = on;
  }

  /** The player restarted the file (loop): the next packet sent continues one frame after the last. */
  markSourceChanged() {
    this.sourceChanged = true;
  }

  forward(rtp: RtpPacket, info: PacketInfo) {
    if (this.kind === 'video') {
      if (info.newFrame) {
        if (info.keyframe) this.needKeyframe = false;
        this.keepFrame = this.keyframesOnly || this.needKeyframe ? info.keyframe : true;
        if (this.keepFrame) {
          this.framesSent++;
          if (info.keyframe) this.keyframesSent++;
        } else this.framesDropped++;
      }
      if (!this.keepFrame) return;
    }
    const source = rtp.header;
    if (this.sourceChanged && this.lastOutTs !== null) {
      this.tsOffset = (this.lastOutTs + (info.frameTicks || 1) - source.timestamp) >>> 0;
    }
    this.sourceChanged = false;
    this.outSeq = (this.outSeq + 1) & 0xffff;
    const header = copyHeader(source);
    header.sequenceNumber = this.outSeq;
    header.timestamp = (source.timestamp + this.tsOffset) >>> 0;
    this.lastOutTs = header.timestamp;
    this.track.writeRtp(new RtpPacket(header, rtp.payload));
  }

  stop() {
    this.track.stop();
  }
}

/**
 * A header werift's sender may rewrite without touching the source's: its
 * fields copied onto a fresh RtpHeader (the payload is shared: nothing
 * writes to it). Cheaper than `new RtpHeader(h)`, which defines each field
 * before assigning it.
 */
function copyHeader(h: RtpHeader): RtpHeader {
  const copy = Object.assign(Object.create(RtpHeader.prototype) as RtpHeader, h);
  copy.extensions = h.extensions.length ? h.extensions.map((e) => ({ ...e })) : [];
  copy.csrc = h.csrc.length ? [...h.csrc] : [];
  return copy;
}
