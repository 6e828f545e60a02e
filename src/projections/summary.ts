// The summary read model: counters over the whole log, moved by the
// before/after of the entity each event changed, so it never needs a scan.
import type { StoredEvent } from '../log/catalogue.ts';
import { CONNECTION_CATEGORIES, type ConnectionCategory, type ConnectionModel } from './connection.ts';
import { OPERATION_STATUSES, type OperationModel, type OperationStatus } from './operation.ts';
import { isPending, type TaskModel } from './task.ts';

export type SummaryModel = {
  event_count: number;
  log_position: number;
  connections: Record<ConnectionCategory, number> & { total: number };
  operations: Record<OperationStatus, number> & { total: number };
  tasks: { total: number; pending: number };
};

export type Change<T> = { before: T | null; after: T | null };
export type EntityChanges = {
  connection?: Change<ConnectionModel>;
  operation?: Change<OperationModel>;
  task?: Change<TaskModel>;
};

export function emptySummary(): SummaryModel {
  return {
    event_count: 0,
    log_position: 0,
    connections: { total: 0, ...zeros(CONNECTION_CATEGORIES) },
    operations: { total: 0, ...zeros(OPERATION_STATUSES) },
    tasks: { total: 0, pending: 0 },
  };
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** (state, event, what it changed) => state. */
export function reduceSummary(state: SummaryModel, event: StoredEvent, changes: EntityChanges): SummaryModel {
  const s: SummaryModel = {
    event_count: state.event_count + 1,
    log_position: event.position,
    connections: { ...state.connections },
    operations: { ...state.operations },
    tasks: { ...state.tasks },
  };
  const c = changes.connection;
  if (c && c.before?.category !== c.after?.category) {
    if (c.before) s.connections[c.before.category]--;
    else s.connections.total++;
    if (c.after) s.connections[c.after.category]++;
  }
  const o = changes.operation;
  if (o && o.before?.status !== o.after?.status) {
    if (o.before) s.operations[o.before.status]--;
    else s.operations.total++;
    if (o.after) s.operations[o.after.status]++;
  }
  const t = changes.task;
  if (t && t.before?.status !== t.after?.status) {
    if (!t.before) s.tasks.total++;
    const was = t.before ? isPending(t.before.status) : false;
    const is = t.after ? isPending(t.after.status) : false;
    s.tasks.pending += Number(is) - Number(was);
  }
  return s;
}
