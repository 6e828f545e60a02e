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

/** Column arrays for unnest: one array per column, in `columns` order. */
function columnsOf<T extends Record<string, unknown>>(rows: T[], columns: (keyof T)[]): unknown[][] {
  return columns.map((c) => rows.map((r) => r[c]));
}

const CONNECTION_COLUMNS = ['id', 'server_id', 'category', 'connection_state', 'ice_state', 'outcome', 'stalled', 'created_at', 'updated_at', 'closed_at', 'created_position', 'last_position', 'state'] as const;
const OPERATION_COLUMNS = ['id', 'type', 'status', 'connection_id', 'server_id', 'started_at', 'ended_at', 'duration_ms', 'created_position', 'last_position', 'state'] as const;
const TASK_COLUMNS = ['id', 'name', 'status', 'operation_id', 'connection_id', 'abandoned', 'created_at', 'ended_at', 'created_position', 'last_position', 'state'] as const;

const SAVE_CONNECTIONS = `
INSERT INTO connections (node, ${CONNECTION_COLUMNS.join(', ')})
SELECT $1, id, server_id, category, connection_state, ice_state, outcome, stalled, created_at, updated_at, closed_at, created_position, last_position, state::json
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::integer[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[])
  AS r (${CONNECTION_COLUMNS.join(', ')})
ON CONFLICT (node, id) DO UPDATE SET server_id = excluded.server_id, category = excluded.category,
  connection_state = excluded.connection_state, ice_state = excluded.ice_state,
  outcome = excluded.outcome, stalled = excluded.stalled, updated_at = excluded.updated_at,
  closed_at = excluded.closed_at, last_position = excluded.last_position, state = excluded.state`;

const SAVE_OPERATIONS = `
INSERT INTO operations (node, ${OPERATION_COLUMNS.join(', ')})
SELECT $1, id, type, status, connection_id, server_id, started_at, ended_at, duration_ms, created_position, last_position, state::json
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[])
  AS r (${OPERATION_COLUMNS.join(', ')})
ON CONFLICT (node, id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at,
  duration_ms = excluded.duration_ms, last_position = excluded.last_position, state = excluded.state`;

const SAVE_TASKS = `
INSERT INTO tasks (node, ${TASK_COLUMNS.join(', ')})
SELECT $1, id, name, status, operation_id, connection_id, abandoned, created_at, ended_at, created_position, last_position, state::json
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[])
  AS r (${TASK_COLUMNS.join(', ')})
ON CONFLICT (node, id) DO UPDATE SET status = excluded.status, abandoned = excluded.abandoned, ended_at = excluded.ended_at,
  last_position = excluded.last_position, state = excluded.state`;

export type ChangedModels = { connection: ConnectionModel[]; operation: OperationModel[]; task: TaskModel[] };

/** Upserts what a page changed: at most one statement per table. */
export async function saveModels(client: CentreClient, node: string, changed: ChangedModels): Promise<void> {
  if (changed.connection.length) {
    await client.query({ name: 'fleet-save-connections', text: SAVE_CONNECTIONS, values: [node, ...columnsOf(changed.connection.map(connectionRow), [...CONNECTION_COLUMNS])] });
  }
  if (changed.operation.length) {
    await client.query({ name: 'fleet-save-operations', text: SAVE_OPERATIONS, values: [node, ...columnsOf(changed.operation.map(operationRow), [...OPERATION_COLUMNS])] });
  }
  if (changed.task.length) {
    await client.query({ name: 'fleet-save-tasks', text: SAVE_TASKS, values: [node, ...columnsOf(changed.task.map(taskRow), [...TASK_COLUMNS])] });
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
