// The fleet's read models in PostgreSQL: loading the entity states a page of
// events touches, writing back what changed (one multi-row upsert per
// table), and the per-node summary. Rows are the node's rows (the same
// mapping, src/projections/projector.ts) with `node` in front.
import type { ConnectionModel } from '../projections/connection.ts';
import type { OperationModel } from '../projections/operation.ts';
import type { TaskModel } from '../projections/task.ts';
import type { ModelKind, Models } from '../projections/apply.ts';
import { completeSummary, type SummaryModel } from '../projections/summary.ts';
import { connectionRow, operationRow, taskRow } from '../projections/projector.ts';
import type { CentreClient } from './pg.ts';

export const FLEET_READ_MODEL_TABLES = ['connections', 'operations', 'tasks', 'summary', 'fleet_cursors'] as const;

const TABLE: Record<ModelKind, 'connections' | 'operations' | 'tasks'> = {
  connection: 'connections',
  operation: 'operations',
  task: 'tasks',
};

/** The states of these entities of `node` that exist; absent ids have no row yet. */
export async function loadModels<K extends ModelKind>(client: CentreClient, node: string, kind: K, ids: string[]): Promise<Map<string, Models[K]>> {
  const out = new Map<string, Models[K]>();
  if (ids.length === 0) return out;
  const { rows } = await client.query<{ id: string; state: string }>(
    `SELECT id, state FROM ${TABLE[kind]} WHERE node = $1 AND id = ANY($2::text[])`,
    [node, ids],
  );
  for (const r of rows) out.set(r.id, JSON.parse(r.state) as Models[K]);
  return out;
}

export async function loadSummary(client: CentreClient, node: string): Promise<SummaryModel> {
  const { rows } = await client.query<{ state: string }>('SELECT state FROM summary WHERE node = $1', [node]);
  // As on the node (src/projections/projector.ts): a summary written before a counter existed gains it at zero.
  return completeSummary(rows.length ? (JSON.parse(rows[0].state) as Partial<SummaryModel>) : null);
}

/** The array type a column travels as through unnest ($n::type[]); json travels as text and is cast. */
type Unnest = 'text' | 'integer' | 'bigint' | 'json';
type Columns<Row> = Record<keyof Row & string, Unnest>;

// One entry per field of the node's row mappers (src/projections/projector.ts),
// in column order. `satisfies` makes a field a mapper gains (a column the
// node's table gains) a compile error here until the fleet writes it too.
const CONNECTION_COLUMNS = {
  id: 'text', server_id: 'text', category: 'text', connection_state: 'text', ice_state: 'text', outcome: 'text', stalled: 'integer',
  created_at: 'bigint', updated_at: 'bigint', closed_at: 'bigint', created_position: 'bigint', last_position: 'bigint', state: 'json',
} as const satisfies Columns<ReturnType<typeof connectionRow>>;
const OPERATION_COLUMNS = {
  id: 'text', type: 'text', status: 'text', connection_id: 'text', server_id: 'text', started_at: 'bigint', ended_at: 'bigint',
  duration_ms: 'bigint', created_position: 'bigint', last_position: 'bigint', state: 'json',
} as const satisfies Columns<ReturnType<typeof operationRow>>;
const TASK_COLUMNS = {
  id: 'text', name: 'text', status: 'text', operation_id: 'text', connection_id: 'text', abandoned: 'integer', created_at: 'bigint',
  ended_at: 'bigint', created_position: 'bigint', last_position: 'bigint', state: 'json',
} as const satisfies Columns<ReturnType<typeof taskRow>>;

/**
 * A multi-row upsert of `table` from one array per column. A conflict
 * rewrites every column but the key and those `fixed` at creation, the same
 * columns the node's own upsert leaves alone (src/projections/projector.ts).
 */
function upsert<C extends Record<string, Unnest>>(table: string, columns: C, fixed: (keyof C & string)[]): string {
  const names = Object.keys(columns);
  const arrays = names.map((c, i) => `$${i + 2}::${columns[c] === 'json' ? 'text' : columns[c]}[]`);
  const values = names.map((c) => (columns[c] === 'json' ? `${c}::json` : c));
  const updated = names.filter((c) => c !== 'id' && !fixed.includes(c));
  return `
INSERT INTO ${table} (node, ${names.join(', ')})
SELECT $1, ${values.join(', ')}
FROM unnest(${arrays.join(', ')}) AS r (${names.join(', ')})
ON CONFLICT (node, id) DO UPDATE SET ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}`;
}

const SAVE_CONNECTIONS = upsert('connections', CONNECTION_COLUMNS, ['created_at', 'created_position']);
const SAVE_OPERATIONS = upsert('operations', OPERATION_COLUMNS, ['type', 'connection_id', 'server_id', 'started_at', 'created_position']);
const SAVE_TASKS = upsert('tasks', TASK_COLUMNS, ['name', 'operation_id', 'connection_id', 'created_at', 'created_position']);

/** Column arrays for unnest: one array per column, in `columns` order. */
function columnsOf<T extends Record<string, unknown>>(rows: T[], columns: Record<keyof T & string, Unnest>): unknown[][] {
  return Object.keys(columns).map((c) => rows.map((r) => r[c]));
}

export type ChangedModels = { connection: ConnectionModel[]; operation: OperationModel[]; task: TaskModel[] };

/** Upserts what a page changed: at most one statement per table. */
export async function saveModels(client: CentreClient, node: string, changed: ChangedModels): Promise<void> {
  if (changed.connection.length) {
    await client.query({ name: 'fleet-save-connections', text: SAVE_CONNECTIONS, values: [node, ...columnsOf(changed.connection.map(connectionRow), CONNECTION_COLUMNS)] });
  }
  if (changed.operation.length) {
    await client.query({ name: 'fleet-save-operations', text: SAVE_OPERATIONS, values: [node, ...columnsOf(changed.operation.map(operationRow), OPERATION_COLUMNS)] });
  }
  if (changed.task.length) {
    await client.query({ name: 'fleet-save-tasks', text: SAVE_TASKS, values: [node, ...columnsOf(changed.task.map(taskRow), TASK_COLUMNS)] });
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
