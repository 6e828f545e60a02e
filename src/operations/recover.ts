// Start-up recovery: whatever a crashed run left open is closed out with
// events saying so, never silently forgotten.
import type { EventLog } from '../log/append.ts';
import { streamName } from '../log/catalogue.ts';

export type Orphans = {
  connectionIds: string[];
  operations: { id: string; startedAtMs: number }[];
  tasks: { id: string; createdAtMs: number }[];
  /** Streams (`server:<id>`) with `server.created` and no `server.stopped`. */
  serverIds?: string[];
};

export type RecoveryReport = { connections: number; operations: number; tasks: number; servers: number };

const REASON = 'process_restart';

export async function closeOrphans(log: EventLog, orphans: Orphans, now = Date.now()): Promise<RecoveryReport> {
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
  ];
  await Promise.all(appends);
  return {
    connections: orphans.connectionIds.length,
    operations: orphans.operations.length,
    tasks: orphans.tasks.length,
    servers: orphans.serverIds?.length ?? 0,
  };
}
