// What the remote peer's RTCP says about each RTP stream this server sends,
// kept per SSRC as it arrives: the receiver report blocks (RFC 3550 6.4.2:
// fraction lost, cumulative loss, interarrival jitter, LSR/DLSR) and the
// feedback messages (RFC 4585 Generic NACK and PLI, RFC 5104 FIR).
//
// The round-trip time is computed here from every report block that echoes a
// sender report of ours: RTT = A - LSR - DLSR, with A and the SR's departure
// read from this process's monotonic clock. werift 0.24 computes an RTT only
// when a report echoes the very latest SR (so most of Chromium's reports were
// ignored and the value froze), and the NTP timestamps it sends carry the
// fraction of a second as decimal digits rather than a binary fraction, so
// the NTP arithmetic of RFC 3550 cannot be done on them. Each SR's compact
// NTP value (the 32 bits a report echoes as LSR) is therefore used only as a
// key to the time this process sent it; a key that two recent SRs share is
// ambiguous and yields no RTT rather than a wrong one.
//
// Pure bookkeeping: no werift, no clock. rtcpObserver.ts feeds it.

export type RtcpTrackState = {
  /** Report blocks received for this SSRC. */
  reports: number;
  /** 0..1, from the latest report block. */
  fractionLost: number | null;
  /** Cumulative packets lost, from the latest report block (may be negative, RFC 3550). */
  packetsLost: number | null;
  /** Interarrival jitter in RTP timestamp units, from the latest report block. */
  jitter: number | null;
  /** From the latest report block that echoed one of our sender reports. */
  rttMs: number | null;
  rttMeasurements: number;
  nack: number;
  pli: number;
  fir: number;
};

/** A receiver report block, as werift parses it (every field an unsigned integer off the wire). */
export type ReportBlock = { ssrc: number; fractionLost: number; packetsLost: number; jitter: number; lsr: number; dlsr: number };

/** Sender reports remembered per SSRC to match LSR echoes (one a second or so: 16 covers ~10 s of delay). */
export const SR_HISTORY = 16;

const emptyTrack = (): RtcpTrackState => ({
  reports: 0,
  fractionLost: null,
  packetsLost: null,
  jitter: null,
  rttMs: null,
  rttMeasurements: 0,
  nack: 0,
  pli: 0,
  fir: 0,
});

/** The 24-bit cumulative loss is signed (RFC 3550 6.4.1); werift reads it unsigned. */
export function signed24(value: number): number {
  return value & 0x800000 ? value - 0x1000000 : value;
}

/** The middle 32 bits of a 64-bit NTP timestamp: what a report block echoes as LSR. */
export function compactNtp(ntp: bigint): number {
  return Number((ntp >> 16n) & 0xffffffffn);
}

export class RtcpLedger {
  private readonly tracks = new Map<number, RtcpTrackState>();
  /** Per SSRC: compact NTP -> when we sent that SR (ms), or null when two SRs shared the key. */
  private readonly senderReports = new Map<number, Map<number, number | null>>();

  /** Starts keeping state for one of our SSRCs; reports about any other SSRC are ignored. */
  watch(ssrc: number): void {
    if (!this.tracks.has(ssrc)) this.tracks.set(ssrc, emptyTrack());
    if (!this.senderReports.has(ssrc)) this.senderReports.set(ssrc, new Map());
  }

  get(ssrc: number): RtcpTrackState | null {
    const t = this.tracks.get(ssrc);
    return t ? { ...t } : null;
  }

  /** One of our sender reports left at `sentAt`. */
  senderReportSent(ssrc: number, lsrKey: number, sentAt: number): void {
    const history = this.senderReports.get(ssrc);
    if (!history) return;
    history.set(lsrKey, history.has(lsrKey) ? null : sentAt);
    while (history.size > SR_HISTORY) history.delete(history.keys().next().value!);
  }

  /** A report block arrived at `now`. */
  reportReceived(block: ReportBlock, now: number): void {
    const t = this.tracks.get(block.ssrc);
    if (!t) return;
    t.reports++;
    t.fractionLost = block.fractionLost / 256;
    t.packetsLost = signed24(block.packetsLost);
    t.jitter = block.jitter;
    // LSR 0: the receiver has had no SR from us yet (RFC 3550 6.4.1).
    if (block.lsr === 0) return;
    const sentAt = this.senderReports.get(block.ssrc)?.get(block.lsr);
    if (sentAt === undefined || sentAt === null) return;
    const rtt = now - sentAt - (block.dlsr / 65536) * 1000;
    // A few microseconds below zero is rounding on a loopback path, not time travel.
    t.rttMs = Math.max(0, rtt);
    t.rttMeasurements++;
  }

  nackReceived(ssrc: number): void {
    const t = this.tracks.get(ssrc);
    if (t) t.nack++;
  }

  pliReceived(ssrc: number): void {
    const t = this.tracks.get(ssrc);
    if (t) t.pli++;
  }

  firReceived(ssrc: number): void {
    const t = this.tracks.get(ssrc);
    if (t) t.fir++;
  }
}
