// The viewer read model: a pure reducer over one client stream
// (`client:<session>:<pc>`, src/telemetry), giving what the viewer
// experienced. The same figures as the `viewer_quality` SQL view
// (migrations/0006_viewer_telemetry.sql): time to first frame (server
// clock, from the trace's start to the first sample with a decoded frame),
// freezes, loss %, average and p95 jitter (nearest rank), decode frame rate
// over the client's clock, resolution changes.
import type { StoredEvent } from '../log/catalogue.ts';

/** Jitter values kept per track for the p95 (an hour of 1 s samples, and more). */
export const KEPT_JITTER_VALUES = 10_000;

export type ViewerTrack = {
  ssrc: number;
  kind: string;
  track_id: string | null;
  codec: string | null;
  samples: number;
  packets_received: number | null;
  bytes_received: number | null;
  packets_lost: number | null;
  loss_pct: number | null;
  avg_jitter_ms: number | null;
  p95_jitter_ms: number | null;
  frames_received: number | null;
  frames_decoded: number | null;
  frames_dropped: number | null;
  freeze_count: number | null;
  total_freezes_duration_ms: number | null;
  concealment_events: number | null;
  decode_fps: number | null;
  frame_width: number | null;
  frame_height: number | null;
  frames_per_second: number | null;
  resolution_changes: number;
  first_frame_at: string | null;
  time_to_first_frame_ms: number | null;
};

type TrackWork = ViewerTrack & {
  jitter: number[];
  jitterSum: number;
  jitterN: number;
  firstTs: number | null;
  firstDecoded: number | null;
  lastTs: number | null;
};

export type ViewerModel = {
  stream: string;
  session_id: string | null;
  pc_id: string | null;
  source: string | null;
  meeting: string | null;
  user_agent: string | null;
  created_at: string;
  closed_at: string | null;
  close_reason: string | null;
  connection_id: string | null;
  correlated_by: string | null;
  states: Record<string, string>;
  samples: number;
  rtt_ms: number | null;
  data_channels: { label: string; channel_id: number | null; state: string | null; bytes_received: number | null; messages_received: number | null }[];
  tracks: ViewerTrack[];
  event_count: number;
  created_position: number;
  last_position: number;
};

const iso = (ms: number) => new Date(ms).toISOString();
const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** (state, event) => state for one client stream. Tracks carry working fields until `viewerView` drops them. */
export function reduceViewer(state: (ViewerModel & { work?: Map<number, TrackWork>; startedAt?: number }) | null, stream: string, event: StoredEvent) {
  const m = state
    ? { ...state }
    : {
        stream,
        session_id: null,
        pc_id: null,
        source: null,
        meeting: null,
        user_agent: null,
        created_at: iso(event.recordedAt),
        closed_at: null,
        close_reason: null,
        connection_id: null,
        correlated_by: null,
        states: {},
        samples: 0,
        rtt_ms: null,
        data_channels: [],
        tracks: [],
        event_count: 0,
        created_position: event.position,
        last_position: event.position,
        work: new Map<number, TrackWork>(),
        startedAt: event.recordedAt,
      };
  const work = m.work!;
  switch (event.type) {
    case 'client.created':
      m.session_id = event.data.session_id;
      m.pc_id = event.data.pc_id;
      m.source = event.data.source;
      m.meeting = event.data.meeting;
      m.user_agent = event.data.user_agent;
      break;
    case 'client.state_changed':
      m.states = { ...m.states, [event.data.kind]: event.data.to };
      break;
    case 'client.correlated':
      if (!m.connection_id) {
        m.connection_id = event.data.connection_id;
        m.correlated_by = event.data.by;
      }
      break;
    case 'client.closed':
      if (!m.closed_at) {
        m.closed_at = iso(event.recordedAt);
        m.close_reason = event.data.reason;
      }
      break;
    case 'client.stats_sampled': {
      m.samples++;
      m.rtt_ms = event.data.candidate_pair?.rtt_ms ?? null;
      m.data_channels = event.data.data_channels.map((c) => ({
        label: c.label,
        channel_id: c.channel_id,
        state: c.state,
        bytes_received: c.bytes_received,
        messages_received: c.messages_received,
      }));
      const ts = event.data.client_ts;
      for (const t of event.data.inbound) {
        let w = work.get(t.ssrc);
        if (!w) {
          if (work.size >= 50) continue;
          w = {
            ssrc: t.ssrc, kind: t.kind, track_id: t.track_id, codec: t.codec, samples: 0,
            packets_received: null, bytes_received: null, packets_lost: null, loss_pct: null,
            avg_jitter_ms: null, p95_jitter_ms: null, frames_received: null, frames_decoded: null, frames_dropped: null,
            freeze_count: null, total_freezes_duration_ms: null, concealment_events: null, decode_fps: null,
            frame_width: null, frame_height: null, frames_per_second: null, resolution_changes: 0,
            first_frame_at: null, time_to_first_frame_ms: null,
            jitter: [], jitterSum: 0, jitterN: 0, firstTs: null, firstDecoded: null, lastTs: null,
          };
          work.set(t.ssrc, w);
        }
        w.samples++;
        w.codec = t.codec ?? w.codec;
        w.track_id = t.track_id ?? w.track_id;
        w.packets_received = max(w.packets_received, t.packets_received);
        w.bytes_received = max(w.bytes_received, t.bytes_received);
        w.packets_lost = max(w.packets_lost, t.packets_lost);
        const got = (w.packets_received ?? 0) + (w.packets_lost ?? 0);
        w.loss_pct = got > 0 ? (100 * (w.packets_lost ?? 0)) / got : null;
        if (t.jitter_ms !== null) {
          w.jitterSum += t.jitter_ms;
          w.jitterN++;
          w.avg_jitter_ms = w.jitterSum / w.jitterN;
          if (w.jitter.length < KEPT_JITTER_VALUES) w.jitter.push(t.jitter_ms);
        }
        w.frames_received = max(w.frames_received, t.frames_received);
        w.frames_dropped = max(w.frames_dropped, t.frames_dropped);
        w.freeze_count = max(w.freeze_count, t.freeze_count);
        w.total_freezes_duration_ms = max(w.total_freezes_duration_ms, t.total_freezes_duration_ms);
        w.concealment_events = max(w.concealment_events, t.concealment_events);
        if (t.frames_decoded !== null) {
          if (t.frames_decoded > 0 && w.first_frame_at === null) {
            w.first_frame_at = iso(event.recordedAt);
            w.time_to_first_frame_ms = event.recordedAt - m.startedAt!;
          }
          if (ts !== null) {
            if (w.firstTs === null || ts < w.firstTs) {
              w.firstTs = ts;
              w.firstDecoded = t.frames_decoded;
            }
            if (w.lastTs === null || ts > w.lastTs) w.lastTs = ts;
          }
          w.frames_decoded = max(w.frames_decoded, t.frames_decoded);
          if (w.firstTs !== null && w.lastTs !== null && w.lastTs > w.firstTs && w.firstDecoded !== null) {
            w.decode_fps = ((w.frames_decoded ?? 0) - w.firstDecoded) * 1000 / (w.lastTs - w.firstTs);
          }
        }
        if (t.frame_width !== null && w.frame_width !== null && (t.frame_width !== w.frame_width || t.frame_height !== w.frame_height)) {
          w.resolution_changes++;
        }
        if (t.frame_width !== null) {
          w.frame_width = t.frame_width;
          w.frame_height = t.frame_height;
        }
        w.frames_per_second = t.frames_per_second;
      }
      break;
    }
    case 'client.trace':
      break;
    default:
      return state ?? m;
  }
  m.event_count++;
  m.last_position = event.position;
  return m;
}

/** The p95 by nearest rank, as the SQL view computes it. */
function p95(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((sorted.length * 95) / 100)) - 1];
}

/** Folds a client stream into its read model. */
export function foldViewer(stream: string, events: StoredEvent[]): ViewerModel | null {
  let m: ReturnType<typeof reduceViewer> | null = null;
  for (const e of events) m = reduceViewer(m, stream, e);
  if (!m) return null;
  const { work, startedAt: _startedAt, ...model } = m;
  model.tracks = [...(work?.values() ?? [])].map(({ jitter, jitterSum: _s, jitterN: _n, firstTs: _f, firstDecoded: _d, lastTs: _l, ...t }) => ({
    ...t,
    p95_jitter_ms: p95(jitter),
  }));
  return model;
}
