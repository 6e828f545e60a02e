// The summary read model: counters over the whole log, moved by the
// before/after of the entity each event changed, so it never needs a scan.
//
// Two kinds of number live here, and /metrics exposes them as such:
// - levels (how many connections are in each state now, stalled now, tasks
//   still holding work): they go up and down;
// - totals (connections opened and ended by outcome, operations and tasks by
//   outcome, bytes and packets): they only grow, whatever state the
//   connection they came from is in later, so a Prometheus `rate()` over
//   them is zero once the traffic stops.
import { CONNECTION_OUTCOMES, type ConnectionOutcome, type StoredEvent } from '../log/catalogue.ts';
import { CONNECTION_CATEGORIES, type ConnectionCategory, type ConnectionModel } from './connection.ts';
import { OPERATION_STATUSES, type OperationModel, type OperationStatus } from './operation.ts';
import { holdsWork, type TaskModel } from './task.ts';

export const TRAFFIC_FIELDS = ['bytes_sent', 'bytes_received', 'packets_sent', 'packets_received', 'packets_lost'] as const;
export type Traffic = Record<(typeof TRAFFIC_FIELDS)[number], number>;
export const TASK_OUTCOMES = ['completed', 'failed', 'cancelled', 'timed_out'] as const;
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

export type SummaryModel = {
  event_count: number;
  log_position: number;
  /** Connections by current category (a level), `total` ever created, `stalled` now. */
  connections: Record<ConnectionCategory, number> & { total: number; stalled: number };
  /** Connections that ended, by outcome (totals). */
  connection_outcomes: Record<ConnectionOutcome, number>;
  /** Stalls that began (a connection that stalls twice counts twice). */
  stalls: number;
  operations: Record<OperationStatus, number> & { total: number };
  /** Operations by type and current status; ended statuses only grow. */
  operation_types: Record<string, Record<OperationStatus, number>>;
  tasks: {
    total: number;
    /** Tasks still holding work: running, or abandoned (given up on, work not yet settled). */
    pending: number;
    abandoned: number;
    /** Abandoned tasks whose work settled afterwards. */
    settled_late: number;
    outcomes: Record<TaskOutcome, number>;
  };
  /**
   * Traffic over every connection ever sampled: each stats sample adds what
   * its connection's cumulative counters grew since its previous sample.
   */
  traffic_total: Traffic;
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
    connections: { total: 0, stalled: 0, ...zeros(CONNECTION_CATEGORIES) },
    connection_outcomes: zeros(CONNECTION_OUTCOMES),
    stalls: 0,
    operations: { total: 0, ...zeros(OPERATION_STATUSES) },
    operation_types: {},
    tasks: { total: 0, pending: 0, abandoned: 0, settled_late: 0, outcomes: zeros(TASK_OUTCOMES) },
    traffic_total: zeros(TRAFFIC_FIELDS),
  };
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

const counter = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Adds what a connection's cumulative counters grew between two of its samples (into `total`, which the caller owns). */
export function addTrafficInto(total: Traffic, before: ConnectionModel['latest_stats'] | undefined, after: ConnectionModel['latest_stats'] | undefined): void {
  if (!after) return;
  for (const f of TRAFFIC_FIELDS) {
    const now = counter(after[f]);
    if (now === null) continue;
    const was = counter(before?.[f]) ?? 0;
    // Cumulative per connection; a remote loss count may step back (RFC 3550
    // duplicates), which a total must never do.
    total[f] += Math.max(0, now - was);
  }
}

const isTaskOutcome = (s: string): s is TaskOutcome => (TASK_OUTCOMES as readonly string[]).includes(s);

/** (state, event, what it changed) => state. */
export function reduceSummary(state: SummaryModel, event: StoredEvent, changes: EntityChanges): SummaryModel {
  const s = cloneSummary(state);
  foldSummary(s, event, changes);
  return s;
}

/** A copy of a summary that shares nothing with it: what `foldSummary` may change. */
export function cloneSummary(state: SummaryModel): SummaryModel {
  return {
    event_count: state.event_count,
    log_position: state.log_position,
    connections: { ...state.connections },
    connection_outcomes: { ...state.connection_outcomes },
    stalls: state.stalls,
    operations: { ...state.operations },
    operation_types: Object.fromEntries(Object.entries(state.operation_types).map(([k, v]) => [k, { ...v }])),
    tasks: { ...state.tasks, outcomes: { ...state.tasks.outcomes } },
    traffic_total: { ...state.traffic_total },
  };
}

/**
 * reduceSummary in place, on a summary the caller owns (a `cloneSummary`):
 * the inline projector copies the summary once per batch and folds every
 * event of the batch into the copy, instead of copying it per event.
 */
export function foldSummary(s: SummaryModel, event: StoredEvent, changes: EntityChanges): void {
  s.event_count++;
  s.log_position = event.position;
  const c = changes.connection;
  if (c) {
    const before = c.before;
    const after = c.after;
    if (after && before?.latest_stats !== after.latest_stats) addTrafficInto(s.traffic_total, before?.latest_stats, after.latest_stats);
    if (before?.category !== after?.category) {
      if (before) s.connections[before.category]--;
      else s.connections.total++;
      if (after) s.connections[after.category]++;
    }
    const wasStalled = before?.stalled === true;
    const isStalled = after?.stalled === true;
    if (wasStalled !== isStalled) s.connections.stalled += isStalled ? 1 : -1;
    if ((after?.stall_count ?? 0) > (before?.stall_count ?? 0)) s.stalls += (after?.stall_count ?? 0) - (before?.stall_count ?? 0);
    if (after?.outcome && !before?.outcome) s.connection_outcomes[after.outcome]++;
  }
  const o = changes.operation;
  if (o && o.before?.status !== o.after?.status) {
    if (o.before) s.operations[o.before.status]--;
    else s.operations.total++;
    if (o.after) s.operations[o.after.status]++;
    const type = (o.after ?? o.before)!.type;
    const byType = (s.operation_types[type] ??= zeros(OPERATION_STATUSES));
    if (o.before) byType[o.before.status]--;
    if (o.after) byType[o.after.status]++;
  }
  const t = changes.task;
  if (t && t.before !== t.after) {
    const tasks = s.tasks;
    if (!t.before && t.after) tasks.total++;
    tasks.pending += Number(t.after ? holdsWork(t.after) : false) - Number(t.before ? holdsWork(t.before) : false);
    tasks.abandoned += Number(t.after?.abandoned === true) - Number(t.before?.abandoned === true);
    if (t.after?.settled_late && !t.before?.settled_late) tasks.settled_late++;
    if (t.before?.status !== t.after?.status) {
      if (t.before && isTaskOutcome(t.before.status)) tasks.outcomes[t.before.status]--;
      if (t.after && isTaskOutcome(t.after.status)) tasks.outcomes[t.after.status]++;
    }
  }
}
