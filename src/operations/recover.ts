// Start-up recovery: whatever a crashed run left open is closed out with
// events saying so, never silently forgotten.
import type { EventStore } from '../log/store.ts';
import { streamName } from '../log/catalogue.ts';

export type Orphans = {
  connectionIds: string[];
  operations: { id: string; startedAtMs: number }[];
  tasks: { id: string; createdAtMs: number }[];
  /** Tasks given up on whose work had not settled when the process ended. */
  abandonedTasks?: { id: string; createdAtMs: number; endedAtMs: number }[];
  /** Streams (`server:<id>`) with `server.created` and no `server.stopped`. */
  serverIds?: string[];
  /** Viewer telemetry (`client:<session>:<pc>`) with `client.created` and no `client.closed`: its report socket died with the process. */
  clientIds?: string[];
};

export type RecoveryReport = { connections: number; operations: number; tasks: number; abandoned_tasks: number; servers: number; clients: number };

const REASON = 'process_restart';

export async function closeOrphans(log: EventStore, orphans: Orphans, now = Date.now()): Promise<RecoveryReport> {
  const meta = { recovery: REASON };
  const appends = [
    ...orphans.tasks.map((t) =>
      log.append(
        streamName('task', t.id),
        [{ type: 'task.cancelled', data: { reason: REASON, duration_ms: Math.max(0, now - t.createdAtMs) } }],
        { meta },
      ),
    ),
    ...orphans.operations.map((o) =>
      log.append(
        streamName('operation', o.id),
        [{ type: 'operation.cancelled', data: { reason: REASON, duration_ms: Math.max(0, now - o.startedAtMs) } }],
        { meta },
      ),
    ),
    ...(orphans.abandonedTasks ?? []).map((t) =>
      log.append(
        streamName('task', t.id),
        [{ type: 'task.settled_late', data: { outcome: REASON, late_ms: Math.max(0, now - t.endedAtMs), duration_ms: Math.max(0, now - t.createdAtMs) } }],
        { meta },
      ),
    ),
    ...orphans.connectionIds.map((id) =>
      log.append(
        streamName('connection', id),
        [{ type: 'connection.closed', data: { reason: REASON, initiator: REASON } }],
        { meta },
      ),
    ),
    ...(orphans.serverIds ?? []).map((id) =>
      log.append(streamName('server', id), [{ type: 'server.stopped', data: { server_id: id, reason: REASON } }], { meta }),
    ),
    ...(orphans.clientIds ?? []).map((id) =>
      // No client time: the viewer said nothing; the server's clock dates the close.
      log.append(streamName('client', id), [{ type: 'client.closed', data: { reason: REASON, client_ts: null } }], { meta }),
    ),
  ];
  await Promise.all(appends);
  return {
    connections: orphans.connectionIds.length,
    operations: orphans.operations.length,
    tasks: orphans.tasks.length,
    abandoned_tasks: orphans.abandonedTasks?.length ?? 0,
    servers: orphans.serverIds?.length ?? 0,
    clients: orphans.clientIds?.length ?? 0,
  };
}
