// The stats sample builder, pure: what was read from a peer now, plus what
// was remembered from its previous sample, gives the `connection.stats_sampled`
// payload and what to remember for the next one. No werift, no clock, no log:
// peerReading.ts does the reading, ServerPeer the recording.
//
// Unknown is null, never 0: a rate needs a previous sample, a loss figure
// needs a receiver report, an RTT needs a report that echoed one of our
// sender reports, jitter needs the codec's clock rate.
import type { ChannelSample, EventData, TrackSample } from '../log/catalogue.ts';
import type { RtcpTrackState } from './rtcpLedger.ts';
import { scoreSample } from '../detect/score.ts';

export type TrackReading = {
  ssrc: number;
  kind: string;
  mid: string | null;
  codec: string | null;
  clockRate: number | null;
  packetsSent: number;
  bytesSent: number;
  retransmittedPacketsSent: number;
  retransmittedBytesSent: number;
  /** Video frames and keyframes the source sent; null when not counted (audio). */
  frames: { frames: number; keyframes: number } | null;
  rtcp: RtcpTrackState | null;
};

export type ChannelReading = {
  label: string;
  channelId: number | null;
  state: string;
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  bufferedAmount: number;
};

export type PeerReading = {
  /** When it was read, in ms on a monotonic clock. */
  at: number;
  totals: { bytesSent: number; bytesReceived: number; packetsSent: number; packetsReceived: number };
  tracks: TrackReading[];
  channels: ChannelReading[];
};

/** What a sample remembers for the next one: enough to turn counters into rates. */
export type SampleMemory = {
  at: number;
  bytesSent: number;
  bytesReceived: number;
  trackBytes: Record<number, number>;
  /** Video frames sent per SSRC, for the frame rate the quality score uses. */
  trackFrames?: Record<number, number>;
};

export type StatsSampleData = EventData<'connection.stats_sampled'>;

/** Items listed per sample; the catalogue refuses more. */
export const MAX_SAMPLE_ITEMS = 50;

const round3 = (v: number) => Math.round(v * 1000) / 1000;

function rate(now: number, before: number | undefined, intervalMs: number | null): number | null {
  if (before === undefined || intervalMs === null || intervalMs <= 0) return null;
  return Math.max(0, Math.round(((now - before) * 8 * 1000) / intervalMs));
}

const known = (values: (number | null)[]) => values.filter((v): v is number => v !== null);
const maxOf = (values: (number | null)[]) => (known(values).length ? Math.max(...known(values)) : null);
const sumOf = (values: (number | null)[]) => (known(values).length ? known(values).reduce((a, b) => a + b, 0) : null);
const meanOf = (values: (number | null)[]) => {
  const k = known(values);
  return k.length ? k.reduce((a, b) => a + b, 0) / k.length : null;
};

function trackSample(t: TrackReading, previous: SampleMemory | null, intervalMs: number | null): TrackSample {
  const r = t.rtcp;
  return {
    ssrc: t.ssrc,
    kind: t.kind,
    mid: t.mid,
    codec: t.codec,
    packets_sent: t.packetsSent,
    bytes_sent: t.bytesSent,
    bitrate_bps: rate(t.bytesSent, previous?.trackBytes[t.ssrc], intervalMs),
    packets_lost: r?.packetsLost ?? null,
    fraction_lost: r?.fractionLost ?? null,
    jitter_ms: r?.jitter !== null && r?.jitter !== undefined && t.clockRate ? round3((r.jitter / t.clockRate) * 1000) : null,
    rtt_ms: r?.rttMs !== null && r?.rttMs !== undefined ? round3(r.rttMs) : null,
    receiver_reports: r?.reports ?? 0,
    nack_count: r?.nack ?? 0,
    pli_count: r?.pli ?? 0,
    fir_count: r?.fir ?? 0,
    retransmitted_packets_sent: t.retransmittedPacketsSent,
    retransmitted_bytes_sent: t.retransmittedBytesSent,
    frames_sent: t.frames?.frames ?? null,
    keyframes_sent: t.frames?.keyframes ?? null,
  };
}

function channelSample(c: ChannelReading): ChannelSample {
  return {
    label: c.label,
    channel_id: c.channelId,
    state: c.state,
    messages_sent: c.messagesSent,
    bytes_sent: c.bytesSent,
    messages_received: c.messagesReceived,
    bytes_received: c.bytesReceived,
    buffered_amount: c.bufferedAmount,
  };
}

/** (reading, previous memory) -> (sample payload, memory for the next sample). */
export function buildStatsSample(reading: PeerReading, previous: SampleMemory | null): { data: StatsSampleData; memory: SampleMemory } {
  const intervalMs = previous ? Math.max(0, reading.at - previous.at) : null;
  const tracks = reading.tracks.slice(0, MAX_SAMPLE_ITEMS).map((t) => trackSample(t, previous, intervalMs));
  const channels = reading.channels.slice(0, MAX_SAMPLE_ITEMS).map(channelSample);
  const media = tracks.length > 0;
  const rtt = meanOf(tracks.map((t) => t.rtt_ms));
  const data: StatsSampleData = {
    bytes_sent: reading.totals.bytesSent,
    bytes_received: reading.totals.bytesReceived,
    packets_sent: reading.totals.packetsSent,
    packets_received: reading.totals.packetsReceived,
    packets_lost: sumOf(tracks.map((t) => t.packets_lost)),
    fraction_lost: maxOf(tracks.map((t) => t.fraction_lost)),
    rtt_ms: rtt === null ? null : round3(rtt),
    jitter_ms: maxOf(tracks.map((t) => t.jitter_ms)),
    frames_sent: sumOf(tracks.map((t) => t.frames_sent)),
    // The server only sends; a viewer's frames are counted on its side.
    frames_received: null,
    keyframes_sent: sumOf(tracks.map((t) => t.keyframes_sent)),
    nack_count: media ? sumOf(tracks.map((t) => t.nack_count)) : null,
    pli_count: media ? sumOf(tracks.map((t) => t.pli_count)) : null,
    fir_count: media ? sumOf(tracks.map((t) => t.fir_count)) : null,
    retransmitted_packets_sent: media ? sumOf(tracks.map((t) => t.retransmitted_packets_sent)) : null,
    bitrate_out_bps: rate(reading.totals.bytesSent, previous?.bytesSent, intervalMs),
    bitrate_in_bps: rate(reading.totals.bytesReceived, previous?.bytesReceived, intervalMs),
    interval_ms: intervalMs === null ? null : Math.round(intervalMs),
    tracks,
    data_channels: channels,
  };
  data.score = scoreSample({ tracks, rtt_ms: data.rtt_ms, jitter_ms: data.jitter_ms, fraction_lost: data.fraction_lost ?? null, video_fps: videoFps(reading, previous, intervalMs) });
  const memory: SampleMemory = {
    at: reading.at,
    bytesSent: reading.totals.bytesSent,
    bytesReceived: reading.totals.bytesReceived,
    trackBytes: Object.fromEntries(reading.tracks.map((t) => [t.ssrc, t.bytesSent])),
    trackFrames: Object.fromEntries(reading.tracks.filter((t) => t.frames).map((t) => [t.ssrc, t.frames!.frames])),
  };
  return { data, memory };
}

/** Frames per second the video tracks sent since the previous sample (the fastest track); null without one. */
function videoFps(reading: PeerReading, previous: SampleMemory | null, intervalMs: number | null): number | null {
  if (!previous?.trackFrames || intervalMs === null || intervalMs <= 0) return null;
  let best: number | null = null;
  for (const t of reading.tracks) {
    if (t.kind !== 'video' || !t.frames) continue;
    const before = previous.trackFrames[t.ssrc];
    if (before === undefined) continue;
    const fps = (Math.max(0, t.frames.frames - before) * 1000) / intervalMs;
    best = best === null ? fps : Math.max(best, fps);
  }
  return best;
}
