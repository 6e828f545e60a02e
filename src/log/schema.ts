// Every table and column name lives here, and every row type is inferred from
// here (`$inferSelect` / `$inferInsert`): the store's SQL takes its names from
// these objects, so renaming a column is a type error or a migration, never a
// statement that fails at run time. drizzle-kit generates the migrations in
// migrations/ from this file; the SQL views for post-analysis are a custom
// migration beside them (migrations/*_views.sql).
//
// drizzle's sqlite-core (0.45) cannot declare STRICT tables: the request,
// drizzle-team/drizzle-orm#202, was closed without it, and the pull requests
// that add `.strict()` (drizzle-team/drizzle-orm#5389, #5907) are still open.
// So the generated CREATE TABLE statements were edited by hand to add STRICT;
// drizzle-kit diffs its own snapshots, not the database, so later
// generations are unaffected.
import { sqliteTable, integer, text, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** The append-only log: the one source of truth. The envelope is frozen. */
export const events = sqliteTable(
  'events',
  {
    position: integer('position').primaryKey({ autoIncrement: true }),
    stream: text('stream').notNull(),
    version: integer('version').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    meta: text('meta').notNull(),
    recordedAt: integer('recorded_at').notNull(),
  },
  (t) => [uniqueIndex('events_stream_version').on(t.stream, t.version)],
);

// Read models. Each row keeps the reducer's whole state as JSON in `state`
// plus the few columns the monitor filters and sorts on.

export const connections = sqliteTable(
  'connections',
  {
    id: text('id').primaryKey(),
    serverId: text('server_id'),
    category: text('category').notNull(),
    connectionState: text('connection_state').notNull(),
    iceState: text('ice_state').notNull(),
    /** clean | failed | shutdown | process_restart once it ended, else NULL. */
    outcome: text('outcome'),
    /** 1 while the liveness watchdog says nothing arrives from the remote peer. */
    stalled: integer('stalled').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    closedAt: integer('closed_at'),
    createdPosition: integer('created_position').notNull(),
    /** The connection as of its last lifecycle event, without the fields `connection_stats` holds. */
    state: text('state').notNull(),
  },
  (t) => [
    index('connections_category').on(t.category),
    index('connections_server').on(t.serverId),
    index('connections_created_position').on(t.createdPosition),
    index('connections_outcome_position').on(t.outcome, t.createdPosition),
  ],
);

/**
 * The fields of a connection that every event moves, a stats sample above
 * all (one a second per peer): a sample rewrites this narrow row, never the
 * connection's whole state in `connections`. A connection's model is its
 * `connections.state` with these fields added (src/projections/models/connections.ts).
 */
export const connectionStats = sqliteTable('connection_stats', {
  id: text('id').primaryKey(),
  /** The latest stats sample as JSON (with its `at`), NULL before the first. */
  latestStats: text('latest_stats'),
  statsSamples: integer('stats_samples').notNull(),
  eventCount: integer('event_count').notNull(),
  version: integer('version').notNull(),
  updatedAt: integer('updated_at').notNull(),
  lastPosition: integer('last_position').notNull(),
});

export const operations = sqliteTable(
  'operations',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    status: text('status').notNull(),
    connectionId: text('connection_id'),
    serverId: text('server_id'),
    startedAt: integer('started_at').notNull(),
    endedAt: integer('ended_at'),
    durationMs: integer('duration_ms'),
    createdPosition: integer('created_position').notNull(),
    lastPosition: integer('last_position').notNull(),
    state: text('state').notNull(),
  },
  (t) => [
    index('operations_status_position').on(t.status, t.createdPosition),
    index('operations_created_position').on(t.createdPosition),
  ],
);

export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status').notNull(),
    operationId: text('operation_id'),
    connectionId: text('connection_id'),
    /** 1 while a task given up on (timed out, cancelled) still has its work running. */
    abandoned: integer('abandoned').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    endedAt: integer('ended_at'),
    createdPosition: integer('created_position').notNull(),
    lastPosition: integer('last_position').notNull(),
    state: text('state').notNull(),
  },
  (t) => [
    index('tasks_status_position').on(t.status, t.createdPosition),
    index('tasks_abandoned_position').on(t.abandoned, t.createdPosition),
    // Unfiltered history (?status=all) pages by position; without this it was a full scan and sort.
    index('tasks_created_position').on(t.createdPosition),
    index('tasks_operation').on(t.operationId),
    index('tasks_connection').on(t.connectionId),
  ],
);

/** Issues the detectors raised (src/detect), open and resolved: the `issue.*` events folded. */
export const issues = sqliteTable(
  'issues',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    severity: text('severity').notNull(),
    /** open | resolved */
    status: text('status').notNull(),
    connectionId: text('connection_id'),
    operationId: text('operation_id'),
    taskId: text('task_id'),
    node: text('node'),
    raisedAt: integer('raised_at').notNull(),
    resolvedAt: integer('resolved_at'),
    createdPosition: integer('created_position').notNull(),
    lastPosition: integer('last_position').notNull(),
    state: text('state').notNull(),
  },
  (t) => [
    index('issues_status_position').on(t.status, t.createdPosition),
    index('issues_created_position').on(t.createdPosition),
    index('issues_connection').on(t.connectionId),
  ],
);

/**
 * One row per stream (`server:<id>`), its viewers and their totals
 * (src/projections/stream.ts folds the stream's events and its viewers'
 * connection changes). A node's own model, like issues: the fleet does not
 * project it.
 */
export const streams = sqliteTable(
  'streams',
  {
    id: text('id').primaryKey(),
    /** live | stopped, or unknown for a stream viewers name but whose start is not in the log. */
    streamState: text('stream_state').notNull(),
    content: text('content'),
    startedAt: integer('started_at'),
    stoppedAt: integer('stopped_at'),
    /** Viewers whose connection is not closed. */
    viewersNow: integer('viewers_now').notNull(),
    createdPosition: integer('created_position').notNull(),
    lastPosition: integer('last_position').notNull(),
    state: text('state').notNull(),
  },
  (t) => [index('streams_created_position').on(t.createdPosition), index('streams_state_position').on(t.streamState, t.createdPosition)],
);

/** A single row (id = 1): counters kept by the summary reducer. */
export const summary = sqliteTable('summary', {
  id: integer('id').primaryKey(),
  state: text('state').notNull(),
});

/**
 * The last version of each stream whose events were pruned. A stream keeps
 * counting from here, so a pruned stream never reuses a version and
 * `no_stream` never holds for a stream that existed.
 */
export const prunedStreams = sqliteTable('pruned_streams', {
  stream: text('stream').primaryKey(),
  version: integer('version').notNull(),
});

/** Where each log consumer (the --log-dir writer, ...) has read up to. */
export const checkpoints = sqliteTable('checkpoints', {
  consumer: text('consumer').primaryKey(),
  position: integer('position').notNull(),
  updatedAt: integer('updated_at').notNull(),
  /** A consumer's own state as of `position` (the detectors' open issues and windows), written with it. */
  state: text('state'),
});

/**
 * The version of each read model (src/projections/models/) its table was
 * built with. A model whose reducer or row mapping changes bumps its version,
 * and the next start rebuilds the read models from the log before it serves.
 */
export const readModelVersions = sqliteTable('read_model_versions', {
  name: text('name').primaryKey(),
  version: integer('version').notNull(),
  builtAt: integer('built_at').notNull(),
});

/**
 * Who holds the database for writing: a serving process, or a maintenance
 * command (`rebuild`, `prune`) that must not run beside one. The hold itself
 * is an exclusive SQLite lock on a file beside the database (src/log/hold.ts),
 * which the operating system lets go of when the process ends, however it
 * ends; this row (id = 1) only says who took it, for the message that refuses
 * the next one.
 */
export const holder = sqliteTable('holder', {
  id: integer('id').primaryKey(),
  /** server | maintenance */
  role: text('role').notNull(),
  pid: integer('pid').notNull(),
  host: text('host').notNull(),
  since: integer('since').notNull(),
});
