// getStats() as the rtcstats client sends it, back to whole reports, and the
// few numbers a viewer's quality is judged by taken out of them.
//
// The client (@jitsi/rtcstats rtcstats.js, deltaCompression) sends each
// report keyed by its id without the `id` field; a field whose value equals
// the previous sample's is left out; a report absent from a sample no longer
// exists; the newest `timestamp` is lifted to the top level and the reports
// carrying it get `timestamp: 0`. `expandStats` undoes exactly that, given
// the previous whole sample of the same peer connection.
import type { ClientChannelSample, ClientPairSample, InboundSample } from '../log/catalogue.ts';

export type StatsReport = Record<string, Record<string, unknown>>;

/** The most reports one sample may hold (a peer connection with 50 tracks has a few hundred). */
export const MAX_REPORTS = 2_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The whole report from a delta-compressed one and the previous whole
 * report; null when the value is not a stats object (the caller records it
 * as a trace and keeps the previous report). The client compresses against
 * the previous *whole* report, so the previous one here must be too.
 */
export function expandStats(previous: StatsReport, compressed: unknown): { report: StatsReport; timestamp: number | null } | null {
  if (!isObject(compressed)) return null;
  const top = typeof compressed.timestamp === 'number' && Number.isFinite(compressed.timestamp) ? compressed.timestamp : null;
  const report: StatsReport = {};
  let n = 0;
  for (const [id, value] of Object.entries(compressed)) {
    if (id === 'timestamp' || !isObject(value)) continue;
    if (++n > MAX_REPORTS) return null;
    const whole: Record<string, unknown> = { ...previous[id], ...value, id };
    if (value.timestamp === 0 && top !== null) whole.timestamp = top;
    report[id] = whole;
  }
  return { report, timestamp: top };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const nonneg = (v: unknown): number | null => {
  const n = num(v);
  return n !== null && n >= 0 ? n : null;
};
const int = (v: unknown): number | null => {
  const n = num(v);
  return n !== null && Number.isInteger(n) ? n : null;
};
const str = (v: unknown, max = 200): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
/** Seconds (as getStats counts them) to milliseconds. */
const secondsToMs = (v: unknown): number | null => {
  const n = nonneg(v);
  return n === null ? null : Math.round(n * 1_000_000) / 1000;
};

export type ViewerSample = {
  inbound: InboundSample[];
  candidate_pair: ClientPairSample | null;
  data_channels: ClientChannelSample[];
};

/** Inbound RTP per track, the selected candidate pair and the data channels of a whole report. */
export function viewerSample(report: StatsReport): ViewerSample {
  const inbound: InboundSample[] = [];
  const channels: ClientChannelSample[] = [];
  let pair: Record<string, unknown> | null = null;
  const transports: Record<string, unknown>[] = [];
  for (const r of Object.values(report)) {
    if (r.type === 'transport') transports.push(r);
  }
  const selectedIds = new Set(transports.map((t) => t.selectedCandidatePairId).filter((v) => typeof v === 'string'));
  for (const r of Object.values(report)) {
    switch (r.type) {
      case 'inbound-rtp': {
        if (inbound.length >= 50) break;
        const ssrc = int(r.ssrc);
        if (ssrc === null || ssrc < 0) break;
        const codec = typeof r.codecId === 'string' ? report[r.codecId] : undefined;
        inbound.push({
          ssrc,
          kind: str(r.kind ?? r.mediaType, 20) ?? 'unknown',
          track_id: str(r.trackIdentifier),
          mid: str(r.mid, 64),
          codec: str(codec?.mimeType, 100),
          packets_received: nonneg(r.packetsReceived),
          bytes_received: nonneg(r.bytesReceived),
          packets_lost: int(r.packetsLost),
          jitter_ms: secondsToMs(r.jitter),
          jitter_buffer_delay_ms: secondsToMs(r.jitterBufferDelay),
          jitter_buffer_emitted_count: nonneg(r.jitterBufferEmittedCount),
          frames_received: nonneg(r.framesReceived),
          frames_decoded: nonneg(r.framesDecoded),
          frames_dropped: nonneg(r.framesDropped),
          key_frames_decoded: nonneg(r.keyFramesDecoded),
          freeze_count: nonneg(r.freezeCount),
          total_freezes_duration_ms: secondsToMs(r.totalFreezesDuration),
          concealed_samples: nonneg(r.concealedSamples),
          concealment_events: nonneg(r.concealmentEvents),
          total_samples_received: nonneg(r.totalSamplesReceived),
          total_decode_time_ms: secondsToMs(r.totalDecodeTime),
          frame_width: nonneg(r.frameWidth),
          frame_height: nonneg(r.frameHeight),
          frames_per_second: nonneg(r.framesPerSecond),
          nack_count: nonneg(r.nackCount),
          pli_count: nonneg(r.pliCount),
        });
        break;
      }
      case 'candidate-pair':
        // The transport names the selected pair; without one (Firefox), the nominated, succeeded pair.
        if (typeof r.id === 'string' && selectedIds.has(r.id)) pair = r;
        else if (!pair && selectedIds.size === 0 && r.nominated === true && r.state === 'succeeded') pair = r;
        break;
      case 'data-channel':
        if (channels.length >= 50) break;
        channels.push({
          label: str(r.label) ?? '',
          channel_id: int(r.dataChannelIdentifier),
          state: str(r.state, 40),
          messages_sent: nonneg(r.messagesSent),
          bytes_sent: nonneg(r.bytesSent),
          messages_received: nonneg(r.messagesReceived),
          bytes_received: nonneg(r.bytesReceived),
        });
        break;
    }
  }
  return {
    inbound,
    candidate_pair: pair
      ? {
          state: str(pair.state, 40),
          rtt_ms: secondsToMs(pair.currentRoundTripTime),
          bytes_sent: nonneg(pair.bytesSent),
          bytes_received: nonneg(pair.bytesReceived),
          available_incoming_bitrate_bps: nonneg(pair.availableIncomingBitrate),
        }
      : null,
    data_channels: channels,
  };
}

/**
 * The keys a report offers for joining this trace to the server connection:
 * the remote ICE username fragment (the server's), the viewer's own (which
 * the server saw in the offer), and the remote certificate's fingerprint.
 */
export function statsKeys(report: StatsReport): { remoteUfrag: string | null; localUfrag: string | null; remoteFingerprint: string | null } {
  let remoteUfrag: string | null = null;
  let localUfrag: string | null = null;
  let remoteFingerprint: string | null = null;
  for (const r of Object.values(report)) {
    if (r.type === 'transport') {
      localUfrag ??= str(r.iceLocalUsernameFragment, 256);
      const cert = typeof r.remoteCertificateId === 'string' ? report[r.remoteCertificateId] : undefined;
      const fp = str(cert?.fingerprint);
      if (fp) remoteFingerprint ??= fp.toUpperCase();
    } else if (r.type === 'remote-candidate') {
      remoteUfrag ??= str(r.usernameFragment, 256);
    }
  }
  return { remoteUfrag, localUfrag, remoteFingerprint };
}
