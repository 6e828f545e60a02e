// The central PostgreSQL schema: every table and column name of the fleet
// lives here. drizzle-kit generates migrations/pg/ from this file with its
// own config (drizzle.pg.config.ts); the SQL views and the helper function
// they share are a custom migration beside them (migrations/pg/*_views.sql).
//
// Events keep the node's envelope unchanged and add where they came from:
// `node` and `node_position` (the node's own log position) are the key, so a
// batch sent twice is absorbed by ON CONFLICT DO NOTHING. `position` is the
// order rows arrived in the centre; it is for people reading the table, not
// for paging: PostgreSQL commits concurrent inserts out of position order, so
// a reader paging by it skips rows (DESIGN.md section 11). Readers page one
// node at a time by `node_position`, which each node writes in order.
//
// `data`, `meta` and read-model `state` are `json`, not `jsonb`: json keeps
// the node's text byte for byte (key order included), which the API splices
// into responses as it is, and costs less to insert; `->>` works on both.
import { sql } from 'drizzle-orm';
import { bigint, index, integer, json, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

const ms = (name: string) => bigint(name, { mode: 'number' });
const epochMsNow = sql`(extract(epoch from now()) * 1000)::bigint`;

export const events = pgTable(
  'events',
  {
    node: text('node').notNull(),
    nodePosition: ms('node_position').notNull(),
    position: ms('position').notNull().generatedAlwaysAsIdentity(),
    stream: text('stream').notNull(),
    version: integer('version').notNull(),
    type: text('type').notNull(),
    data: json('data').notNull(),
    meta: json('meta').notNull(),
    recordedAt: ms('recorded_at').notNull(),
    receivedAt: ms('received_at').notNull().default(epochMsNow),
  },
  (t) => [
    primaryKey({ name: 'events_pkey', columns: [t.node, t.nodePosition] }),
    uniqueIndex('events_node_stream_version').on(t.node, t.stream, t.version),
    uniqueIndex('events_position').on(t.position),
  ],
);

/** One row per node that has forwarded: the highest node position the centre holds. */
export const nodes = pgTable('nodes', {
  node: text('node').primaryKey(),
  headPosition: ms('head_position').notNull(),
  firstSeenAt: ms('first_seen_at').notNull().default(epochMsNow),
  updatedAt: ms('updated_at').notNull().default(epochMsNow),
  // What the node's forwarder reported with its last batch (the centre
  // cannot see a node's log): its local head, and when the oldest event it
  // still held unshipped was recorded (NULL: it had shipped everything it
  // had read). The fleet's lag is computed from these at read time.
  localHeadPosition: ms('local_head_position'),
  waitingSince: ms('waiting_since'),
  reportedAt: ms('reported_at'),
});

/** The fleet projector's cursor per node: the last node position applied to the read models. */
export const fleetCursors = pgTable('fleet_cursors', {
  node: text('node').primaryKey(),
  position: ms('position').notNull(),
  updatedAt: ms('updated_at').notNull(),
});

// Read models: the node's tables (src/log/schema.ts) keyed by node as well,
// each row the reducer's whole state as JSON plus the columns lists filter
// and sort on. Positions are node positions.

export const connections = pgTable(
  'connections',
  {
    node: text('node').notNull(),
    id: text('id').notNull(),
    serverId: text('server_id'),
    category: text('category').notNull(),
    connectionState: text('connection_state').notNull(),
    iceState: text('ice_state').notNull(),
    /** clean | failed | shutdown | process_restart once it ended, else NULL. */
    outcome: text('outcome'),
    /** 1 while the liveness watchdog says nothing arrives from the remote peer (an integer, as on the node). */
    stalled: integer('stalled').notNull().default(0),
    createdAt: ms('created_at').notNull(),
    closedAt: ms('closed_at'),
    createdPosition: ms('created_position').notNull(),
    state: json('state').notNull(),
  },
  (t) => [
    primaryKey({ name: 'connections_pkey', columns: [t.node, t.id] }),
    index('connections_category_created').on(t.category, t.createdAt),
    index('connections_server').on(t.node, t.serverId),
    index('connections_created').on(t.createdAt, t.node, t.createdPosition),
    index('connections_outcome_created').on(t.outcome, t.createdAt),
  ],
);

/** The node's `connection_stats`: the fields every event of a connection moves, apart from its state. */
export const connectionStats = pgTable(
  'connection_stats',
  {
    node: text('node').notNull(),
    id: text('id').notNull(),
    latestStats: json('latest_stats'),
    statsSamples: integer('stats_samples').notNull(),
    eventCount: integer('event_count').notNull(),
    version: integer('version').notNull(),
    updatedAt: ms('updated_at').notNull(),
    lastPosition: ms('last_position').notNull(),
  },
  (t) => [primaryKey({ name: 'connection_stats_pkey', columns: [t.node, t.id] })],
);

export const operations = pgTable(
  'operations',
  {
    node: text('node').notNull(),
    id: text('id').notNull(),
    type: text('type').notNull(),
    status: text('status').notNull(),
    connectionId: text('connection_id'),
    serverId: text('server_id'),
    startedAt: ms('started_at').notNull(),
    endedAt: ms('ended_at'),
    durationMs: ms('duration_ms'),
    createdPosition: ms('created_position').notNull(),
    lastPosition: ms('last_position').notNull(),
    state: json('state').notNull(),
  },
  (t) => [
    primaryKey({ name: 'operations_pkey', columns: [t.node, t.id] }),
    index('operations_status_started').on(t.status, t.startedAt),
    index('operations_started').on(t.startedAt, t.node, t.createdPosition),
  ],
);

export const tasks = pgTable(
  'tasks',
  {
    node: text('node').notNull(),
    id: text('id').notNull(),
    name: text('name').notNull(),
    status: text('status').notNull(),
    operationId: text('operation_id'),
    connectionId: text('connection_id'),
    /** 1 while a task given up on (timed out, cancelled) still has its work running. */
    abandoned: integer('abandoned').notNull().default(0),
    createdAt: ms('created_at').notNull(),
    endedAt: ms('ended_at'),
    createdPosition: ms('created_position').notNull(),
    lastPosition: ms('last_position').notNull(),
    state: json('state').notNull(),
  },
  (t) => [
    primaryKey({ name: 'tasks_pkey', columns: [t.node, t.id] }),
    index('tasks_status_created').on(t.status, t.createdAt),
    index('tasks_abandoned_created').on(t.abandoned, t.createdAt),
    index('tasks_created').on(t.createdAt, t.node, t.createdPosition),
    index('tasks_operation').on(t.node, t.operationId),
    index('tasks_connection').on(t.node, t.connectionId),
  ],
);

/** One row per node: the summary reducer's counters over that node's log. */
export const summary = pgTable('summary', {
  node: text('node').primaryKey(),
  state: json('state').notNull(),
});
