// The `connections` read model: one row per connection (src/projections/connection.ts
// reduces its stream), and the SQLite queries the monitor and the exporter
// ask of it.
import type { Db } from '../../log/open.ts';
import { connections, connectionStats } from '../../log/schema.ts';
import { parseStream } from '../../log/catalogue.ts';
import { col, tableName } from '../../log/names.ts';
import { cachedStatement } from '../../log/statements.ts';
import { reduceConnection, type ConnectionModel } from '../connection.ts';
import type { EntityReadModel } from '../readModel.ts';
import type { ConnectionListOptions, ExportPageOptions, Page, StoredRow } from '../reads.ts';
import { Filter, decodeCursor, encodeCursor } from '../sqlite/lists.ts';

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/** The hot row as `hot.toRow` keys it. */
export type ConnectionHotRow = {
  id: string;
  latestStats: string | null;
  statsSamples: number;
  eventCount: number;
  version: number;
  updatedAt: number;
  lastPosition: number;
};

// A sample's JSON is made once, however many batches write the row it is in.
const statsText = new WeakMap<object, string>();
function latestStatsJson(stats: ConnectionModel['latest_stats']): string | null {
  if (stats === null) return null;
  let text = statsText.get(stats);
  if (text === undefined) {
    text = JSON.stringify(stats);
    statsText.set(stats, text);
  }
  return text;
}

/**
 * The latest sample's score: it moves with every sample, so it is a hot
 * field, kept inside the sample rather than in the state a sample does not
 * rewrite (a state reloaded between batches would otherwise carry an old one).
 */
function qualityScoreOf(latestStats: string | null): number | null {
  if (latestStats === null) return null;
  const score = (JSON.parse(latestStats) as { score?: { score?: number | null } | null }).score?.score;
  return typeof score === 'number' ? score : null;
}

/**
 * The model's JSON from its two rows: the state (every field but the hot
 * ones) with the hot fields spliced in after it, as text: a read never parses
 * the state or the sample.
 */
export function connectionJson(state: string, hot: ConnectionHotRow): string {
  return (
    `${state.slice(0, -1)},"updated_at":"${new Date(hot.updatedAt).toISOString()}","latest_stats":${hot.latestStats ?? 'null'},` +
    `"quality_score":${qualityScoreOf(hot.latestStats)},` +
    `"stats_samples":${hot.statsSamples},"event_count":${hot.eventCount},"version":${hot.version},"last_position":${hot.lastPosition}}`
  );
}

export const connectionsModel = {
  name: tableName(connections),
  // 2: the hot fields moved to connection_stats; 3: the latest sample's quality score;
  // 4: that score read from the hot row's sample, never from the state.
  version: 4,
  table: connections,
  fixed: ['createdAt', 'createdPosition'],
  targets(event) {
    const target = parseStream(event.stream);
    return target?.kind === 'connection' ? [target.id] : [];
  },
  reduce: reduceConnection,
  toRow: (m) => {
    const { updated_at, latest_stats, quality_score, stats_samples, event_count, version, last_position, ...state } = m;
    return {
      id: m.id,
      serverId: m.server_id,
      category: m.category,
      connectionState: m.connection_state,
      iceState: m.ice_connection_state,
      outcome: m.outcome,
      stalled: m.stalled ? 1 : 0,
      createdAt: ms(m.created_at)!,
      closedAt: ms(m.closed_at),
      createdPosition: m.created_position,
      state: JSON.stringify(state),
    };
  },
  hot: {
    table: connectionStats,
    // A sample moves only the hot fields (its category cannot change).
    only: (event) => event.type === 'connection.stats_sampled',
    toRow: (m): ConnectionHotRow => ({
      id: m.id,
      latestStats: latestStatsJson(m.latest_stats),
      statsSamples: m.stats_samples,
      eventCount: m.event_count,
      version: m.version,
      updatedAt: ms(m.updated_at)!,
      lastPosition: m.last_position,
    }),
    json: (state, hot) => connectionJson(state, hot as ConnectionHotRow),
  },
} as const satisfies EntityReadModel<ConnectionModel, typeof connections>;

// ---- SQLite ------------------------------------------------------------------

const c = connections;
const h = connectionStats;
const HOT_COLUMNS = {
  latestStats: h.latestStats,
  statsSamples: h.statsSamples,
  eventCount: h.eventCount,
  version: h.version,
  updatedAt: h.updatedAt,
  lastPosition: h.lastPosition,
} satisfies { [K in Exclude<keyof ConnectionHotRow, 'id'>]: unknown };
const HOT = Object.entries(HOT_COLUMNS)
  .map(([key, column]) => `h.${col(column)} AS ${key}`)
  .join(', ');
/** A connection's state and hot row, joined: what `connectionJson` puts together. */
const JOINED = `SELECT c.${col(c.id)} AS id, c.${col(c.state)} AS state, c.${col(c.createdPosition)} AS createdPosition, ${HOT}
  FROM ${tableName(c)} c JOIN ${tableName(h)} h ON h.${col(h.id)} = c.${col(c.id)}`;
type JoinedRow = ConnectionHotRow & { state: string; createdPosition: number };

/** SELECT of one connection's two rows by id (the projector's load, the detail page). */
export const CONNECTION_BY_ID = `${JOINED} WHERE c.${col(c.id)} = ?`;

/** The model's JSON text of one connection, or null. */
export function connectionJsonById(db: Db, id: string): string | null {
  const row = cachedStatement(db, CONNECTION_BY_ID).get(id) as JoinedRow | undefined;
  return row ? connectionJson(row.state, row) : null;
}

export function connectionRows(db: Db, options: ConnectionListOptions): Page<StoredRow> {
  const filter = new Filter();
  if (options.categories?.length) filter.anyOf(c.category, options.categories);
  else if (!options.includeClosed && !options.outcomes?.length) filter.raw(`${col(c.category)} <> 'closed'`);
  filter.anyOf(c.outcome, options.outcomes);
  if (options.stalled !== undefined) filter.equals(c.stalled, options.stalled ? 1 : 0);
  filter.equals(c.serverId, options.serverId);
  // storedPage's shape (newest first by created_position, the cursor its last), over the join.
  const before = decodeCursor(options.cursor) ?? Number.MAX_SAFE_INTEGER;
  // The filters' columns are the connections table's alone (no name the hot row shares).
  const where = [`c.${col(c.createdPosition)} < ?`, ...filter.where];
  const sql = `${JOINED} WHERE ${where.join(' AND ')} ORDER BY c.${col(c.createdPosition)} DESC LIMIT ?`;
  const rows = cachedStatement(db, sql).all([before, ...filter.args, options.limit + 1]) as JoinedRow[];
  const more = rows.length > options.limit;
  const shown = more ? rows.slice(0, options.limit) : rows;
  return {
    items: shown.map((r) => ({ id: r.id, connectionId: r.id, json: connectionJson(r.state, r) })),
    nextCursor: more ? encodeCursor(shown[shown.length - 1].createdPosition) : null,
  };
}

export function connectionsForExport(db: Db, options: ExportPageOptions): ConnectionModel[] {
  const sql = `${JOINED} WHERE c.${col(c.createdPosition)} > ? AND h.${col(h.updatedAt)} >= ? ORDER BY c.${col(c.createdPosition)} LIMIT ?`;
  return (cachedStatement(db, sql).all([options.after, options.activeSince, options.limit]) as JoinedRow[]).map(
    (r) => JSON.parse(connectionJson(r.state, r)) as ConnectionModel,
  );
}

/** Time travel's candidates: connections created at or before `until`, newest first, below `before` (a created_position). */
export function connectionsCreatedBy(db: Db, until: number, before: number | null, limit: number): { id: string; createdPosition: number }[] {
  const sql = `SELECT ${col(c.id)} AS id, ${col(c.createdPosition)} AS createdPosition FROM ${tableName(c)}
    WHERE ${col(c.createdPosition)} <= ? AND ${col(c.createdPosition)} < ? ORDER BY ${col(c.createdPosition)} DESC LIMIT ?`;
  return cachedStatement(db, sql).all([until, before ?? Number.MAX_SAFE_INTEGER, limit]) as { id: string; createdPosition: number }[];
}
