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
  transitions: { status: TaskStatus; at: string }[];
  version: number;
  created_position: number;
  last_position: number;
};

const iso = (ms: number) => new Date(ms).toISOString();

export function isPending(status: TaskStatus): boolean {
  return PENDING_TASK_STATUSES.includes(status);
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
      transitions: [{ status: 'created', at }],
      version: event.version,
      created_position: event.position,
      last_position: event.position,
    };
  }
  if (!state || !isPending(state.status)) return state;
  const at = iso(event.recordedAt);
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
      return move('failed', { ended_at: at, duration_ms: event.data.duration_ms, error: event.data.error });
    case 'task.cancelled':
      return move('cancelled', {
        ended_at: at,
        duration_ms: event.data.duration_ms,
        error: { code: 'CANCELLED', message: event.data.reason },
      });
    case 'task.timed_out':
      return move('timed_out', {
        ended_at: at,
        duration_ms: event.data.duration_ms,
        error: { code: 'TIMEOUT', message: `timed out after ${event.data.timeout_ms} ms` },
      });
    default:
      return state;
  }
}
