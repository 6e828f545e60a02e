// The fleet's read models in PostgreSQL: loading the entity states a page of
// events touches, writing back what changed (one multi-row upsert per
// table), and the per-node summary. Rows are the node's rows (the same
// descriptors and row mapping, src/projections/models/) with `node` in front.
import { getTableName } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { ConnectionModel } from '../projections/connection.ts';
import type { OperationModel } from '../projections/operation.ts';
import type { TaskModel } from '../projections/task.ts';
import type { ModelKind, Models } from '../projections/apply.ts';
import { emptySummary, type SummaryModel } from '../projections/summary.ts';
import { connectionsModel, operationsModel, tasksModel } from '../projections/models/index.ts';
import * as central from './schema.ts';
import type { CentreClient } from './pg.ts';

export const FLEET_READ_MODEL_TABLES = ['connections', 'connection_stats', 'operations', 'tasks', 'summary', 'fleet_cursors'] as const;

const TABLE: Record<ModelKind, 'connections' | 'operations' | 'tasks'> = {
  connection: 'connections',
  operation: 'operations',
  task: 'tasks',
};

/** The states of these entities of `node` that exist; absent ids have no row yet. */
export async function loadModels<K extends ModelKind>(client: CentreClient, node: string, kind: K, ids: string[]): Promise<Map<string, Models[K]>> {
  const out = new Map<string, Models[K]>();
  if (ids.length === 0) return out;
  // A connection is its row and its hot row (connection_stats), as on the node.
  const { rows } = await client.query<{ id: string; state: string } & Record<string, unknown>>(
    kind === 'connection'
      ? `SELECT c.id, c.state, ${HOT_SELECT} FROM connections c JOIN connection_stats h ON h.node = c.node AND h.id = c.id
         WHERE c.node = $1 AND c.id = ANY($2::text[])`
      : `SELECT id, state FROM ${TABLE[kind]} WHERE node = $1 AND id = ANY($2::text[])`,
    [node, ids],
  );
  for (const r of rows) {
    const state = JSON.parse(kind === 'connection' ? connectionsModel.hot.json(r.state, r) : r.state) as Models[K];
    out.set(r.id, kind === 'connection' ? (completeConnection(state as ConnectionModel) as Models[K]) : state);
  }
  return out;
}

export async function loadSummary(client: CentreClient, node: string): Promise<SummaryModel> {
  const { rows } = await client.query<{ state: string }>('SELECT state FROM summary WHERE node = $1', [node]);
  return completeSummary(rows.length ? (JSON.parse(rows[0].state) as Partial<SummaryModel>) : null);
}

// The fleet's read models carry no version yet (a node's are rebuilt at
// start when theirs changes), so rows written before a field existed are
// completed here as they are loaded: the new counters start from zero.

/** A stored summary with every field present: one written before a counter existed gains it at zero. */
export function completeSummary(stored: Partial<SummaryModel> | null | undefined): SummaryModel {
  const empty = emptySummary();
  if (!stored) return empty;
  return {
    event_count: stored.event_count ?? 0,
    log_position: stored.log_position ?? 0,
    connections: { ...empty.connections, ...stored.connections },
    connection_outcomes: { ...empty.connection_outcomes, ...stored.connection_outcomes },
    stalls: stored.stalls ?? 0,
    operations: { ...empty.operations, ...stored.operations },
    operation_types: stored.operation_types ?? {},
    tasks: { ...empty.tasks, ...stored.tasks, outcomes: { ...empty.tasks.outcomes, ...stored.tasks?.outcomes } },
    traffic_total: { ...empty.traffic_total, ...stored.traffic_total },
  };
}

/** A connection written before the signals fields (outcome, stalls) existed gains them empty. */
export function completeConnection(stored: ConnectionModel): ConnectionModel {
  return {
    ...stored,
    outcome: stored.outcome ?? null,
    failure: stored.failure ?? null,
    stalled: stored.stalled ?? false,
    stalled_since: stored.stalled_since ?? null,
    stall_count: stored.stall_count ?? 0,
  };
}

/** The array type a column travels as through unnest ($n::type[]); json travels as text and is cast. */
type Unnest = 'text' | 'integer' | 'bigint' | 'json';
type Columns<Row> = Record<keyof Row & string, Unnest>;

// One entry per field of the node's row mapping (each model's `toRow`), in
// column order. `satisfies` makes a field a mapping gains (a column the
// node's table gains) a compile error here until the fleet writes it too.
// Keys are the schema's field names; each one's column name is read from
// the central schema (src/fleet/schema.ts), which names the same fields.
const CONNECTION_COLUMNS = {
  id: 'text', serverId: 'text', category: 'text', connectionState: 'text', iceState: 'text', outcome: 'text', stalled: 'integer',
  createdAt: 'bigint', closedAt: 'bigint', createdPosition: 'bigint', state: 'json',
} as const satisfies Columns<ReturnType<typeof connectionsModel.toRow>>;
const CONNECTION_HOT_COLUMNS = {
  id: 'text', latestStats: 'json', statsSamples: 'integer', eventCount: 'integer', version: 'integer', updatedAt: 'bigint', lastPosition: 'bigint',
} as const satisfies Columns<ReturnType<typeof connectionsModel.hot.toRow>>;
/** The hot row's columns keyed as the node's row mapping keys them (a `h` alias of connection_stats). */
export const HOT_SELECT = Object.keys(CONNECTION_HOT_COLUMNS)
  .filter((k) => k !== 'id')
  .map((k) => `h.${(central.connectionStats as unknown as Record<string, { name: string }>)[k].name} AS "${k}"`)
  .join(', ');
const OPERATION_COLUMNS = {
  id: 'text', type: 'text', status: 'text', connectionId: 'text', serverId: 'text', startedAt: 'bigint', endedAt: 'bigint',
  durationMs: 'bigint', createdPosition: 'bigint', lastPosition: 'bigint', state: 'json',
} as const satisfies Columns<ReturnType<typeof operationsModel.toRow>>;
const TASK_COLUMNS = {
  id: 'text', name: 'text', status: 'text', operationId: 'text', connectionId: 'text', abandoned: 'integer', createdAt: 'bigint',
  endedAt: 'bigint', createdPosition: 'bigint', lastPosition: 'bigint', state: 'json',
} as const satisfies Columns<ReturnType<typeof tasksModel.toRow>>;

/**
 * A multi-row upsert of `table` from one array per column. A conflict
 * rewrites every column but the key and the model's `fixed` ones, the same
 * columns the node's own upsert leaves alone (src/projections/sqlite/projector.ts).
 */
function upsert<C extends Record<string, Unnest>>(table: PgTable, columns: C, fixed: readonly string[]): string {
  const name = (key: string) => (table as unknown as Record<string, { name: string }>)[key].name;
  const keys = Object.keys(columns);
  const names = keys.map(name);
  const arrays = keys.map((k, i) => `$${i + 2}::${columns[k] === 'json' ? 'text' : columns[k]}[]`);
  const values = keys.map((k) => (columns[k] === 'json' ? `${name(k)}::json` : name(k)));
  const updated = keys.filter((k) => k !== 'id' && !fixed.includes(k)).map(name);
  return `
INSERT INTO ${getTableName(table)} (node, ${names.join(', ')})
SELECT $1, ${values.join(', ')}
FROM unnest(${arrays.join(', ')}) AS r (${names.join(', ')})
ON CONFLICT (node, id) DO UPDATE SET ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}`;
}

const SAVE_CONNECTIONS = upsert(central.connections, CONNECTION_COLUMNS, connectionsModel.fixed);
const SAVE_CONNECTION_STATS = upsert(central.connectionStats, CONNECTION_HOT_COLUMNS, []);
const SAVE_OPERATIONS = upsert(central.operations, OPERATION_COLUMNS, operationsModel.fixed);
const SAVE_TASKS = upsert(central.tasks, TASK_COLUMNS, tasksModel.fixed);

/** Column arrays for unnest: one array per column, in `columns` order. */
function columnsOf<T extends Record<string, unknown>>(rows: T[], columns: Record<keyof T & string, Unnest>): unknown[][] {
  return Object.keys(columns).map((c) => rows.map((r) => r[c]));
}

/**
 * What a page changed. `connection` holds each touched connection's current
 * model (its hot row is written); `connectionState` the model as of its last
 * event that was not hot-only, for those whose full row changed.
 */
export type ChangedModels = { connection: ConnectionModel[]; connectionState: ConnectionModel[]; operation: OperationModel[]; task: TaskModel[] };

/** Upserts what a page changed: at most one statement per table. */
export async function saveModels(client: CentreClient, node: string, changed: ChangedModels): Promise<void> {
  if (changed.connectionState.length) {
    await client.query({ name: 'fleet-save-connections', text: SAVE_CONNECTIONS, values: [node, ...columnsOf(changed.connectionState.map(connectionsModel.toRow), CONNECTION_COLUMNS)] });
  }
  if (changed.connection.length) {
    await client.query({
      name: 'fleet-save-connection-stats',
      text: SAVE_CONNECTION_STATS,
      values: [node, ...columnsOf(changed.connection.map(connectionsModel.hot.toRow), CONNECTION_HOT_COLUMNS)],
    });
  }
  if (changed.operation.length) {
    await client.query({ name: 'fleet-save-operations', text: SAVE_OPERATIONS, values: [node, ...columnsOf(changed.operation.map(operationsModel.toRow), OPERATION_COLUMNS)] });
  }
  if (changed.task.length) {
    await client.query({ name: 'fleet-save-tasks', text: SAVE_TASKS, values: [node, ...columnsOf(changed.task.map(tasksModel.toRow), TASK_COLUMNS)] });
  }
}

export async function saveSummary(client: CentreClient, node: string, summary: SummaryModel): Promise<void> {
  await client.query(
    'INSERT INTO summary (node, state) VALUES ($1, $2::json) ON CONFLICT (node) DO UPDATE SET state = excluded.state',
    [node, JSON.stringify(summary)],
  );
}

/** Every fleet read-model row as text, in a stable order: what "rebuild == incremental" compares. */
export async function snapshotFleetReadModels(client: CentreClient): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of FLEET_READ_MODEL_TABLES) {
    // fleet_cursors.updated_at is when a cursor moved, not what it holds.
    const columns = table === 'fleet_cursors' ? 'node, position' : '*';
    const order = table === 'summary' || table === 'fleet_cursors' ? 'node' : 'node, id';
    const { rows } = await client.query(`SELECT ${columns} FROM ${table} ORDER BY ${order}`);
    out[table] = rows.map((r) => JSON.stringify(r));
  }
  return out;
}
