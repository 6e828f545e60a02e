// The stream read model: one per stream (`server:<id>`), a pure reducer over
// the stream's own events (server.created / server.stopped) and the changes
// its viewers' events make to their connection models. Like the summary, it
// moves by each viewer's before/after, so it never needs a scan: viewers now
// (a level), viewers ever and how their connections ended (totals), traffic
// summed from every viewer's samples.
import { CONNECTION_OUTCOMES, parseStream, type ConnectionOutcome, type StoredEvent } from '../log/catalogue.ts';
import type { ConnectionModel } from './connection.ts';
import { addTrafficInto, TRAFFIC_FIELDS, type Change, type Traffic } from './summary.ts';

export const STREAM_STATES = ['live', 'stopped', 'unknown'] as const;
export type StreamState = (typeof STREAM_STATES)[number];

export type StreamModel = {
  id: string;
  /**
   * `live` from server.created to server.stopped; `unknown` while viewers
   * name a stream whose start is not in the log (pruned, or imported).
   */
  state: StreamState;
  content: string | null;
  mode: 'media' | 'data' | null;
  quality: string | null;
  started_at: string | null;
  stopped_at: string | null;
  /** Why it stopped (`stopped`, `shutdown`, `process_restart`, ...). */
  stop_reason: string | null;
  viewers: {
    /** Viewers whose connection is not closed (a level). */
    now: number;
    /** Viewers whose connection state is `connected` now. */
    connected: number;
    /** Viewers the liveness watchdog says are stalled now. */
    stalled: number;
    /** Viewers ever (a total). */
    total: number;
  };
  /** How its viewers' connections ended (totals). */
  viewer_outcomes: Record<ConnectionOutcome, number>;
  /** What its viewers' cumulative counters grew, summed over every viewer's samples. */
  traffic_total: Traffic;
  updated_at: string;
  created_position: number;
  last_position: number;
};

const iso = (ms: number) => new Date(ms).toISOString();
const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

export function emptyStream(id: string, event: StoredEvent): StreamModel {
  return {
    id,
    state: 'unknown',
    content: null,
    mode: null,
    quality: null,
    started_at: null,
    stopped_at: null,
    stop_reason: null,
    viewers: { now: 0, connected: 0, stalled: 0, total: 0 },
    viewer_outcomes: zeros(CONNECTION_OUTCOMES),
    traffic_total: zeros(TRAFFIC_FIELDS),
    updated_at: iso(event.recordedAt),
    created_position: event.position,
    last_position: event.position,
  };
}

/** The stream a connection change belongs to, if any. */
export function viewerStream(change: Change<ConnectionModel> | undefined): string | null {
  return change ? ((change.after ?? change.before)?.server_id ?? null) : null;
}

/** The streams `reduceStream` changes for this event: its own, or its viewer's. */
export function streamTargets(event: StoredEvent, viewer: Change<ConnectionModel> | undefined): string[] {
  const target = parseStream(event.stream);
  if (target?.kind === 'server') return [target.id];
  const id = viewerStream(viewer);
  return id !== null && viewer!.before !== viewer!.after ? [id] : [];
}

const n = (b: boolean) => (b ? 1 : 0);
const open = (m: ConnectionModel | null) => m !== null && m.category !== 'closed';

/**
 * (state, event, the viewer's connection change) => state. `viewer` is the
 * change this event made to a connection of this stream, if it was a
 * viewer's event; an event that changed nothing returns `state` itself.
 */
export function reduceStream(state: StreamModel | null, id: string, event: StoredEvent, viewer?: Change<ConnectionModel>): StreamModel | null {
  const own = event.stream === `server:${id}`;
  if (!own && (!viewer || viewer.before === viewer.after || viewerStream(viewer) !== id)) return state;
  if (own && event.type !== 'server.created' && event.type !== 'server.stopped') return state;
  const s: StreamModel = state ? { ...state } : emptyStream(id, event);
  if (own) {
    if (event.type === 'server.created') {
      s.state = 'live';
      s.content = event.data.content;
      s.mode = event.data.mode;
      s.quality = event.data.quality;
      s.started_at = iso(event.recordedAt);
    } else if (event.type === 'server.stopped') {
      s.state = 'stopped';
      s.stopped_at = iso(event.recordedAt);
      s.stop_reason = event.data.reason;
    }
  } else if (viewer) {
    const { before, after } = viewer;
    s.viewers = {
      now: s.viewers.now + n(open(after)) - n(open(before)),
      connected: s.viewers.connected + n(after?.category === 'connected') - n(before?.category === 'connected'),
      stalled: s.viewers.stalled + n(after?.stalled === true) - n(before?.stalled === true),
      total: s.viewers.total + n(!before && !!after),
    };
    if (after?.outcome && !before?.outcome) {
      s.viewer_outcomes = { ...s.viewer_outcomes, [after.outcome]: s.viewer_outcomes[after.outcome] + 1 };
    }
    if (after && before?.latest_stats !== after.latest_stats) {
      s.traffic_total = { ...s.traffic_total };
      addTrafficInto(s.traffic_total, before?.latest_stats, after.latest_stats);
    }
  }
  s.updated_at = iso(event.recordedAt);
  s.last_position = event.position;
  return s;
}
