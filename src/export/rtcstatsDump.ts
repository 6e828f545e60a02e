// A connection as an rtcstats dump, in the format Chromium's webrtc-internals
// saves ("Download the rtcstats dump", `fileFormat: 3`): the `RTCStatsDump`
// line, a metadata object, then one [method, peer connection, value, time]
// array per line, the time absolute on the first entry and then milliseconds
// since the previous one, state values as JSON text, getStats as whole
// reports. The server's end is the peer connection `server`; each joined
// viewer trace is its own (`<session>:<pc>`). Times are the log's (server
// clock), so both ends share one timeline. Reports are rebuilt from what the
// log keeps (the sampled fields), not the browser's whole report.
import type { StoredEvent } from '../log/catalogue.ts';

const STATE_METHOD: Record<string, string> = {
  connection: 'onconnectionstatechange',
  ice: 'oniceconnectionstatechange',
  signaling: 'onsignalingstatechange',
  gathering: 'onicegatheringstatechange',
  dtls: 'ondtlsstatechange',
};

const secs = (ms: number | null | undefined) => (ms === null || ms === undefined ? undefined : ms / 1000);
/** A report without the fields the log does not know (null), as getStats leaves them out. */
const defined = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined));

export function dumpHead(meta: Record<string, unknown>): string {
  return `RTCStatsDump\n${JSON.stringify({ fileFormat: 3, source: 'webrtc-monitor', ...meta })}\n`;
}

/** The [method, pc, value] an event becomes (time added by the writer), or null for none. */
export function dumpEntry(e: StoredEvent): [string, string, unknown] | null {
  const pc = e.stream.startsWith('client:') ? e.stream.slice('client:'.length) : 'server';
  const ts = e.recordedAt;
  switch (e.type) {
    case 'connection.created':
      return ['create', pc, e.data];
    case 'client.created':
      return ['create', pc, e.data.configuration ?? {}];
    case 'connection.state_changed':
    case 'client.state_changed':
      return [STATE_METHOD[e.data.kind] ?? `on${e.data.kind}statechange`, pc, JSON.stringify(e.data.to)];
    case 'connection.candidate':
      return [e.data.origin === 'local' ? 'onicecandidate' : 'addIceCandidate', pc, { candidate: e.data.candidate }];
    case 'client.trace':
      return [e.data.method, pc, e.data.value];
    case 'connection.closed':
    case 'client.closed':
      return ['close', pc, e.data];
    case 'connection.stats_sampled': {
      const report: Record<string, Record<string, unknown>> = {};
      for (const t of e.data.tracks ?? []) {
        report[`OT${t.ssrc}`] = defined({
          id: `OT${t.ssrc}`, type: 'outbound-rtp', timestamp: ts, ssrc: t.ssrc, kind: t.kind, mid: t.mid, packetsSent: t.packets_sent, bytesSent: t.bytes_sent,
          framesSent: t.frames_sent, keyFramesEncoded: t.keyframes_sent, nackCount: t.nack_count, pliCount: t.pli_count, firCount: t.fir_count,
          retransmittedPacketsSent: t.retransmitted_packets_sent, retransmittedBytesSent: t.retransmitted_bytes_sent, remoteId: `RI${t.ssrc}`,
        });
        report[`RI${t.ssrc}`] = defined({
          id: `RI${t.ssrc}`, type: 'remote-inbound-rtp', timestamp: ts, ssrc: t.ssrc, kind: t.kind, packetsLost: t.packets_lost,
          fractionLost: t.fraction_lost, jitter: secs(t.jitter_ms), roundTripTime: secs(t.rtt_ms), localId: `OT${t.ssrc}`,
        });
      }
      return ['getStats', pc, report];
    }
    case 'client.stats_sampled': {
      const at = e.data.client_ts ?? ts;
      const report: Record<string, Record<string, unknown>> = {};
      for (const t of e.data.inbound) {
        report[`IT${t.ssrc}`] = defined({
          id: `IT${t.ssrc}`, type: 'inbound-rtp', timestamp: at, ssrc: t.ssrc, kind: t.kind, trackIdentifier: t.track_id, mid: t.mid,
          packetsReceived: t.packets_received, bytesReceived: t.bytes_received, packetsLost: t.packets_lost, jitter: secs(t.jitter_ms),
          jitterBufferDelay: secs(t.jitter_buffer_delay_ms), jitterBufferEmittedCount: t.jitter_buffer_emitted_count,
          framesReceived: t.frames_received, framesDecoded: t.frames_decoded, framesDropped: t.frames_dropped, keyFramesDecoded: t.key_frames_decoded,
          freezeCount: t.freeze_count, totalFreezesDuration: secs(t.total_freezes_duration_ms), concealedSamples: t.concealed_samples,
          concealmentEvents: t.concealment_events, totalSamplesReceived: t.total_samples_received, totalDecodeTime: secs(t.total_decode_time_ms),
          frameWidth: t.frame_width, frameHeight: t.frame_height, framesPerSecond: t.frames_per_second, nackCount: t.nack_count, pliCount: t.pli_count,
          codecId: t.codec ? `C${t.ssrc}` : null,
        });
        if (t.codec) report[`C${t.ssrc}`] = { id: `C${t.ssrc}`, type: 'codec', timestamp: at, mimeType: t.codec };
      }
      const p = e.data.candidate_pair;
      if (p) {
        report.T = { id: 'T', type: 'transport', timestamp: at, selectedCandidatePairId: 'CP' };
        report.CP = defined({
          id: 'CP', type: 'candidate-pair', timestamp: at, state: p.state, nominated: true, currentRoundTripTime: secs(p.rtt_ms),
          bytesSent: p.bytes_sent, bytesReceived: p.bytes_received, availableIncomingBitrate: p.available_incoming_bitrate_bps,
        });
      }
      e.data.data_channels.forEach((c, i) => {
        report[`D${i}`] = defined({
          id: `D${i}`, type: 'data-channel', timestamp: at, label: c.label, dataChannelIdentifier: c.channel_id, state: c.state,
          messagesSent: c.messages_sent, bytesSent: c.bytes_sent, messagesReceived: c.messages_received, bytesReceived: c.bytes_received,
        });
      });
      return ['getStats', pc, report];
    }
    default:
      // Everything else of either end, by its own name (correlation, errors, stalls, tracks, ...).
      return [e.type, pc, e.data];
  }
}
