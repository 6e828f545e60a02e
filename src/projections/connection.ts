// The connection read model: a pure reducer over one connection's events.
// The same function keeps the `connections` table current inside the append
// transaction, rebuilds it from the log, and answers "what did this connection
// look like at time T" (time travel).
import type { ConnectionOutcome, StoredEvent } from '../log/catalogue.ts';

export const CONNECTION_CATEGORIES = ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'] as const;
export type ConnectionCategory = (typeof CONNECTION_CATEGORIES)[number];

/** How many recent errors the read model keeps; the full list is in the log. */
export const KEPT_ERRORS = 20;
/** How many tracks / data channels are listed; counts are always complete. */
export const KEPT_ITEMS = 50;

export type ConnectionModel = {
  id: string;
  server_id: string | null;
  role: 'server' | 'client';
  mode: string | null;
  content: string | null;
  quality: string | null;
  remote: string | null;
  user_agent: string | null;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  category: ConnectionCategory;
  connection_state: string;
  ice_connection_state: string;
  ice_gathering_state: string;
  signaling_state: string;
  connected_at: string | null;
  /** Milliseconds from creation to the first `connected` connection state. */
  setup_ms: number | null;
  close: { reason: string; initiator: string } | null;
  /**
   * How it ended, once it has: `failed` if anything failed first (a fatal
   * error, a `failed` connection state, or a close by ICE), else `shutdown` or
   * `process_restart` by the close's initiator, else `clean`.
   */
  outcome: ConnectionOutcome | null;
  /** The first failure seen (a fatal error or the `failed` state), kept whatever follows. */
  failure: { code: string; message: string; at: string } | null;
  /** Nothing has arrived from the remote peer for --stall-after (the liveness watchdog). */
  stalled: boolean;
  stalled_since: string | null;
  stall_count: number;
  candidates: { local: number; remote: number };
  selected_pair: { local: string; remote: string } | null;
  tracks: { track_id: string; kind: string; codec: string | null; added_at: string; removed_at: string | null }[];
  track_count: number;
  data_channels: {
    label: string;
    channel_id: number | null;
    opened_at: string;
    closed_at: string | null;
    bytes_sent: number | null;
    sha256: string | null;
  }[];
  data_channel_count: number;
  errors: { code: string; message: string; fatal: boolean; at: string }[];
  error_count: number;
  latest_stats: (Record<string, unknown> & { at: string }) | null;
  /** The latest sample's quality score 0-100 (null while unknown), its reasons in latest_stats.score. */
  quality_score: number | null;
  stats_samples: number;
  event_count: number;
  version: number;
  created_position: number;
  last_position: number;
};

import { iso } from './iso.ts';

export function categorize(m: Pick<ConnectionModel, 'close' | 'connection_state' | 'ice_connection_state'>): ConnectionCategory {
  if (m.close || m.connection_state === 'closed') return 'closed';
  switch (m.connection_state) {
    case 'failed':
      return 'failed';
    case 'disconnected':
      return 'disconnected';
    case 'connected':
      // werift reports `completed` for ICE as readily as `connected`; both count.
      return m.ice_connection_state === 'connected' || m.ice_connection_state === 'completed' ? 'connected' : 'connecting';
    case 'connecting':
      return 'connecting';
    default:
      return 'new';
  }
}

function created(id: string, event: StoredEvent): ConnectionModel {
  const data = event.type === 'connection.created' ? event.data : null;
  const at = iso(event.recordedAt);
  return {
    id,
    server_id: data?.server_id ?? null,
    role: data?.role ?? 'server',
    mode: data?.mode ?? null,
    content: data?.content ?? null,
    quality: data?.quality ?? null,
    remote: data?.remote ?? null,
    user_agent: data?.user_agent ?? null,
    created_at: at,
    updated_at: at,
    closed_at: null,
    category: 'new',
    connection_state: 'new',
    ice_connection_state: 'new',
    ice_gathering_state: 'new',
    signaling_state: 'stable',
    connected_at: null,
    setup_ms: null,
    close: null,
    outcome: null,
    failure: null,
    stalled: false,
    stalled_since: null,
    stall_count: 0,
    candidates: { local: 0, remote: 0 },
    selected_pair: null,
    tracks: [],
    track_count: 0,
    data_channels: [],
    data_channel_count: 0,
    errors: [],
    error_count: 0,
    latest_stats: null,
    quality_score: null,
    stats_samples: 0,
    event_count: 0,
    version: 0,
    created_position: event.position,
    last_position: event.position,
  };
}

const STATE_FIELD = {
  connection: 'connection_state',
  ice: 'ice_connection_state',
  gathering: 'ice_gathering_state',
  signaling: 'signaling_state',
} as const;

export function outcomeOf(m: Pick<ConnectionModel, 'failure' | 'connection_state'>, initiator: string): ConnectionOutcome {
  if (m.failure || m.connection_state === 'failed' || initiator === 'ice') return 'failed';
  if (initiator === 'shutdown') return 'shutdown';
  if (initiator === 'process_restart') return 'process_restart';
  return 'clean';
}

/** (state, event) => state for one connection stream. */
export function reduceConnection(state: ConnectionModel | null, id: string, event: StoredEvent): ConnectionModel {
  const m: ConnectionModel = state ? { ...state } : created(id, event);
  const at = iso(event.recordedAt);
  switch (event.type) {
    case 'connection.created':
      break;
    case 'connection.state_changed': {
      m[STATE_FIELD[event.data.kind]] = event.data.to;
      if (event.data.kind === 'connection' && event.data.to === 'connected' && !m.connected_at) {
        m.connected_at = at;
        m.setup_ms = event.recordedAt - Date.parse(m.created_at);
      }
      if (event.data.kind === 'connection' && event.data.to === 'failed' && !m.failure && !m.close) {
        m.failure = { code: 'CONNECTION_FAILED', message: `connection state ${event.data.from} -> failed`, at };
      }
      break;
    }
    case 'connection.candidate':
      m.candidates = { ...m.candidates, [event.data.origin]: m.candidates[event.data.origin] + 1 };
      break;
    case 'connection.candidate_pair_selected':
      m.selected_pair = { local: event.data.local, remote: event.data.remote };
      break;
    case 'connection.track_added':
      m.track_count++;
      if (m.tracks.length < KEPT_ITEMS) {
        const track = { track_id: event.data.track_id, kind: event.data.kind, codec: event.data.codec ?? null };
        m.tracks = [...m.tracks, { ...track, added_at: at, removed_at: null }];
      }
      break;
    case 'connection.track_removed':
      m.tracks = m.tracks.map((t) => (t.track_id === event.data.track_id && !t.removed_at ? { ...t, removed_at: at } : t));
      break;
    case 'connection.datachannel_opened':
      m.data_channel_count++;
      if (m.data_channels.length < KEPT_ITEMS) {
        m.data_channels = [
          ...m.data_channels,
          {
            label: event.data.label,
            channel_id: event.data.channel_id ?? null,
            opened_at: at,
            closed_at: null,
            bytes_sent: null,
            sha256: null,
          },
        ];
      }
      break;
    case 'connection.datachannel_closed': {
      const { label, channel_id = null, bytes_sent = null, sha256 = null } = event.data;
      m.data_channels = m.data_channels.map((c) =>
        c.label === label && c.channel_id === channel_id && !c.closed_at ? { ...c, closed_at: at, bytes_sent, sha256 } : c,
      );
      break;
    }
    case 'connection.stats_sampled':
      m.latest_stats = { ...event.data, at };
      m.quality_score = event.data.score?.score ?? null;
      m.stats_samples++;
      break;
    case 'connection.negotiated':
      // The keys live in the log (viewer traces are joined by them); the model only counts it.
      break;
    case 'connection.quality_changed':
      m.quality = event.data.to;
      break;
    case 'connection.error':
      m.error_count++;
      m.errors = [...m.errors, { ...event.data, at }].slice(-KEPT_ERRORS);
      if (event.data.fatal && !m.failure && !m.close) m.failure = { code: event.data.code, message: event.data.message, at };
      break;
    case 'connection.stalled':
      if (!m.stalled && !m.close) {
        m.stalled = true;
        m.stalled_since = at;
        m.stall_count++;
      }
      break;
    case 'connection.resumed':
      m.stalled = false;
      m.stalled_since = null;
      break;
    case 'connection.closed':
      if (!m.close) {
        m.close = { reason: event.data.reason, initiator: event.data.initiator };
        m.closed_at = at;
        m.outcome = outcomeOf(m, event.data.initiator);
        // A closed connection is over, not stalled; stall_count keeps its history.
        m.stalled = false;
        m.stalled_since = null;
      }
      break;
    default:
      // Not a connection event: leave the model as it is.
      return state ?? m;
  }
  m.category = categorize(m);
  m.updated_at = at;
  m.event_count++;
  m.version = event.version;
  m.last_position = event.position;
  return m;
}

/** Folds a list of events into a model (time travel, tests). */
export function foldConnection(id: string, events: StoredEvent[]): ConnectionModel | null {
  let m: ConnectionModel | null = null;
  for (const e of events) m = reduceConnection(m, id, e);
  return m;
}
