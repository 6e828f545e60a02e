// The task read model: one tracked async task and its transitions.
import type { StoredEvent, TaskStatus } from '../log/catalogue.ts';

export const PENDING_TASK_STATUSES: readonly TaskStatus[] = ['created', 'running'];

export type TaskModel = {
  id: string;
  name: string;
  status: TaskStatus;
  operation_id: string | null;
  connection_id: string | null;
  timeout_ms: number | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  result: unknown;
  error: { code: string; message: string } | null;
  /**
   * Given up on (timed out or cancelled) while its work was still running:
   * it still holds whatever it holds, so it counts as pending until
   * `task.settled_late` records that the work really ended.
   */
  abandoned: boolean;
  /** How abandoned work finally ended, and when. */
  settled_late: { outcome: string; at: string; late_ms: number; error: { code: string; message: string } | null } | null;
  transitions: { status: TaskStatus; at: string }[];
  version: number;
  created_position: number;
  last_position: number;
};

import { iso } from './iso.ts';

export function isPending(status: TaskStatus): boolean {
  return PENDING_TASK_STATUSES.includes(status);
}

/** Counted as pending: running, or given up on while its work still runs. */
export function holdsWork(m: Pick<TaskModel, 'status' | 'abandoned'>): boolean {
  return isPending(m.status) || m.abandoned === true;
}

/** (state, event) => state for one task stream. Transitions out of a final state are ignored. */
export function reduceTask(state: TaskModel | null, id: string, event: StoredEvent): TaskModel | null {
  if (event.type === 'task.created') {
    if (state) return state;
    const at = iso(event.recordedAt);
    return {
      id,
      name: event.data.name,
      status: 'created',
      operation_id: event.data.operation_id ?? null,
      connection_id: event.data.connection_id ?? null,
      timeout_ms: event.data.timeout_ms ?? null,
      created_at: at,
      started_at: null,
      ended_at: null,
      duration_ms: null,
      result: null,
      error: null,
      abandoned: false,
      settled_late: null,
      transitions: [{ status: 'created', at }],
      version: event.version,
      created_position: event.position,
      last_position: event.position,
    };
  }
  if (!state) return state;
  const at = iso(event.recordedAt);
  if (event.type === 'task.settled_late') {
    // Not a transition: the task's status stays what it was recorded as.
    if (!state.abandoned) return state;
    return {
      ...state,
      abandoned: false,
      settled_late: { outcome: event.data.outcome, at, late_ms: event.data.late_ms, error: event.data.error ?? null },
      version: event.version,
      last_position: event.position,
    };
  }
  if (!isPending(state.status)) return state;
  const move = (status: TaskStatus, extra: Partial<TaskModel> = {}): TaskModel => ({
    ...state,
    ...extra,
    status,
    transitions: [...state.transitions, { status, at }],
    version: event.version,
    last_position: event.position,
  });
  switch (event.type) {
    case 'task.started':
      return move('running', { started_at: at });
    case 'task.completed':
      return move('completed', { ended_at: at, duration_ms: event.data.duration_ms, result: event.data.result ?? null });
    case 'task.failed':
      return move('failed', {
        ended_at: at,
        duration_ms: event.data.duration_ms,
        error: event.data.error,
        abandoned: event.data.abandoned ?? false,
      });
    case 'task.cancelled':
      return move('cancelled', {
        ended_at: at,
        duration_ms: event.data.duration_ms,
        error: { code: 'CANCELLED', message: event.data.reason },
        abandoned: event.data.abandoned ?? false,
      });
    case 'task.timed_out':
      return move('timed_out', {
        ended_at: at,
        duration_ms: event.data.duration_ms,
        error: { code: 'TIMEOUT', message: `timed out after ${event.data.timeout_ms} ms` },
        abandoned: event.data.abandoned ?? false,
      });
    default:
      return state;
  }
}
