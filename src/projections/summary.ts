// The summary read model: counters over the whole log, moved by the
// before/after of the entity each event changed, so it never needs a scan.
import type { StoredEvent } from '../log/catalogue.ts';
import { CONNECTION_CATEGORIES, type ConnectionCategory, type ConnectionModel } from './connection.ts';
import { OPERATION_STATUSES, type OperationModel, type OperationStatus } from './operation.ts';
import { isPending, type TaskModel } from './task.ts';

export const TRAFFIC_FIELDS = ['bytes_sent', 'bytes_received', 'packets_sent', 'packets_received', 'packets_lost'] as const;
export type Traffic = Record<(typeof TRAFFIC_FIELDS)[number], number>;

export type SummaryModel = {
  event_count: number;
  log_position: number;
  connections: Record<ConnectionCategory, number> & { total: number };
  operations: Record<OperationStatus, number> & { total: number };
  tasks: { total: number; pending: number };
  /**
   * Each connection's latest stats sample, summed by the category it is in:
   * moved with the connection, so /metrics reads totals without a scan.
   */
  traffic: Record<ConnectionCategory, Traffic>;
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
    traffic: Object.fromEntries(CONNECTION_CATEGORIES.map((c) => [c, zeros(TRAFFIC_FIELDS)])) as SummaryModel['traffic'],
  };
}

/** Adds (sign 1) or removes (sign -1) a connection's latest sample from its category's totals. */
function moveTraffic(traffic: SummaryModel['traffic'], m: ConnectionModel | null, sign: 1 | -1): SummaryModel['traffic'] {
  const stats = m?.latest_stats;
  if (!m || !stats) return traffic;
  const totals = { ...traffic[m.category] };
  for (const f of TRAFFIC_FIELDS) totals[f] += sign * (Number(stats[f]) || 0);
  return { ...traffic, [m.category]: totals };
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
    // Summaries stored before traffic was kept start from zero (rebuild fills them in).
    traffic: state.traffic ?? emptySummary().traffic,
  };
  const c = changes.connection;
  if (c && (c.before?.category !== c.after?.category || c.before?.latest_stats !== c.after?.latest_stats)) {
    s.traffic = moveTraffic(moveTraffic(s.traffic, c.before, -1), c.after, 1);
  }
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
