// The operation read model: one operation's lifecycle and the tasks it ran.
import type { StoredEvent } from '../log/catalogue.ts';

export const OPERATION_STATUSES = ['running', 'completed', 'failed', 'cancelled'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
/** Task ids listed on an operation; `task_count` is always complete. */
export const KEPT_TASK_IDS = 200;

export type OperationModel = {
  id: string;
  type: string;
  status: OperationStatus;
  params: Record<string, unknown>;
  connection_id: string | null;
  server_id: string | null;
  timeout_ms: number | null;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  result: unknown;
  error: { code: string; message: string } | null;
  task_ids: string[];
  task_count: number;
  version: number;
  created_position: number;
  last_position: number;
};

import { iso } from './iso.ts';

/**
 * (state, event) => state. Operation events come from the operation's own
 * stream; `task.created` events name their operation and add the task to it.
 */
export function reduceOperation(state: OperationModel | null, id: string, event: StoredEvent): OperationModel | null {
  if (event.type === 'operation.started') {
    if (state) return state;
    return {
      id,
      type: event.data.type,
      status: 'running',
      params: event.data.params,
      connection_id: event.data.connection_id ?? null,
      server_id: event.data.server_id ?? null,
      timeout_ms: event.data.timeout_ms ?? null,
      started_at: iso(event.recordedAt),
      ended_at: null,
      duration_ms: null,
      result: null,
      error: null,
      task_ids: [],
      task_count: 0,
      version: event.version,
      created_position: event.position,
      last_position: event.position,
    };
  }
  // Anything else needs the operation to exist already (started is always first).
  if (!state) return null;
  const m = { ...state, last_position: event.position };
  switch (event.type) {
    case 'task.created':
      m.task_count++;
      if (m.task_ids.length < KEPT_TASK_IDS) m.task_ids = [...m.task_ids, event.data.task_id];
      return m;
    case 'operation.completed':
      return { ...end(m, event), status: 'completed', result: event.data.result ?? null, duration_ms: event.data.duration_ms };
    case 'operation.failed':
      return { ...end(m, event), status: 'failed', error: event.data.error, duration_ms: event.data.duration_ms };
    case 'operation.cancelled':
      return {
        ...end(m, event),
        status: 'cancelled',
        error: { code: 'CANCELLED', message: event.data.reason },
        duration_ms: event.data.duration_ms,
      };
    default:
      return state;
  }
}

function end(m: OperationModel, event: StoredEvent): OperationModel {
  return { ...m, ended_at: iso(event.recordedAt), version: event.version };
}
