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
//
// The send itself skips werift's generic RTCRtpSender.sendRtp when nothing
// it does is needed (no header extension and no RED negotiated, which is
// werift's default): it does the same bookkeeping (SSRC, payload type, the
// counters the stats and RTCP sender reports read, the retransmission
// cache) with the NTP time taken once per source packet for every viewer
// instead of once per viewer, then hands the packet to the DTLS transport's
// SRTP send as sendRtp does. Sender internals: werift 0.24.4 is pinned
// (docs/werift.md, "The sender rewrites the packet it is given").
import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCRtpSender } from 'werift';

/** What the stream's dispatcher knows about a packet, worked out once for every relay. */
export type PacketInfo = {
  /** The first packet with this RTP timestamp. */
  newFrame: boolean;
  /** Video: the packet starts a keyframe. */
  keyframe: boolean;
  /** The source's last frame interval in RTP ticks (0 until known). */
  frameTicks: number;
  /** NTP time of the packet's send (64-bit, as RTCP sender reports carry it). */
  ntp: bigint;
};

/** What of werift's RTCRtpSender the direct send reads and keeps up to date (private in its types). */
type SenderInternals = {
  ssrc: number;
  codec?: { payloadType: number };
  dtlsTransport?: { state: string; sendRtp(payload: Buffer, header: RtpHeader): Promise<number> };
  headerExtensions: unknown[];
  redRedundantPayloadType?: number;
  timestamp?: number;
  sequenceNumber?: number;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  octetCount: number;
  packetCount: number;
  headerBytesSent: number;
  rtpCache: RtpPacket[];
  rtcpRunning: boolean;
  runRtcp(): Promise<void>;
};

/** werift's RTP history per sender (RTP_HISTORY_SIZE in rtpSender.js). */
const RTP_HISTORY_SIZE = 128;

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
  private sender: SenderInternals | null = null;

  constructor(readonly kind: 'audio' | 'video') {
    this.track = new MediaStreamTrack({ kind });
    this.needKeyframe = kind === 'video';
    this.keepFrame = kind !== 'video';
  }

  /**
   * The sender that carries this relay's track (from pc.addTrack). A sender
   * without the fields the direct send keeps up to date (another werift
   * version) is sent through werift's own sendRtp instead.
   */
  carriedBy(sender: RTCRtpSender) {
    const s = sender as unknown as SenderInternals;
    const shaped =
      Array.isArray(s.rtpCache) && Array.isArray(s.headerExtensions) && typeof s.packetCount === 'number' && typeof s.octetCount === 'number' &&
      typeof s.headerBytesSent === 'number' && typeof s.ntpTimestamp === 'bigint' && typeof s.runRtcp === 'function';
    this.sender = shaped ? s : null;
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
    const sender = this.sender;
    if (sender && sender.headerExtensions.length === 0 && sender.redRedundantPayloadType === undefined) this.send(sender, header, rtp.payload, info.ntp);
    else this.track.writeRtp(new RtpPacket(header, rtp.payload));
  }

  /** RTCRtpSender.sendRtp with no header extension and no RED, its NTP time given. */
  private send(sender: SenderInternals, header: RtpHeader, payload: Buffer, ntp: bigint) {
    const dtls = sender.dtlsTransport;
    if (!dtls || dtls.state !== 'connected' || !sender.codec || this.track.stopped) return;
    header.ssrc = sender.ssrc;
    header.payloadType = sender.codec.payloadType;
    sender.timestamp = header.timestamp;
    sender.sequenceNumber = header.sequenceNumber;
    sender.ntpTimestamp = ntp;
    sender.rtpTimestamp = header.timestamp;
    sender.octetCount += payload.length;
    sender.headerBytesSent += header.serializeSize;
    sender.packetCount = (sender.packetCount + 1) >>> 0;
    sender.rtpCache[header.sequenceNumber % RTP_HISTORY_SIZE] = new RtpPacket(header, payload);
    void dtls.sendRtp(payload, header);
    if (!sender.rtcpRunning) void sender.runRtcp();
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
