import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_DIR_CONSUMER } from '../../src/export/logDirWriter.ts';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { openTestStore, tempDir } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { readJson, treeHashes } from '../helpers/files.ts';
import { exportLogs } from '../../src/export/exporter.ts';
import type { EventStore as Log } from '../../src/log/store.ts';

const files = (dir: string, kind: 'connections' | 'operations') => readdirSync(join(dir, kind)).filter((f) => !f.endsWith('.partial')).sort();

async function openAndClose(log: Log, id: string) {
  await log.append(`connection:${id}`, [{ type: 'connection.created', data: { connection_id: id } }]);
  await log.append(`connection:${id}`, [{ type: 'connection.error', data: { code: 'E', message: 'm' } }]);
  await log.append(`connection:${id}`, [{ type: 'connection.closed', data: { reason: 'viewer left', initiator: 'remote' } }]);
}

const Writer = suite('LogDirWriter');

Writer('writes a connection file when it closes and an operation file when it finishes, not before', async () => {
  const { dir, cleanup } = tempDir('wrm-logdir-');
  const logs = join(dir, 'logs');
  const server = await startTestServer({ logDir: logs }, { keepDir: dir });
  try {
    const { store: log, runner } = server.services;
    const writer = server.logDirWriter!;
    await log.append('connection:a', [{ type: 'connection.created', data: { connection_id: 'a' } }]);
    await writer.idle();
    assert.equal(files(logs, 'connections'), [], 'an open connection has no file yet');
    await log.append('connection:a', [{ type: 'connection.closed', data: { reason: 'bye', initiator: 'local' } }]);
    await writer.idle();
    const [file] = files(logs, 'connections');
    assert.match(file, /_a\.json$/);
    const doc = readJson(join(logs, 'connections', file));
    assert.is(doc.connection.category, 'closed');
    assert.equal(doc.events.map((e: any) => e.type), ['connection.created', 'connection.closed']);

    const outcome = await runner.run('quick', {}, async () => 42);
    await writer.idle();
    const ops = files(logs, 'operations');
    assert.is(ops.length, 1);
    const op = readJson(join(logs, 'operations', ops[0]));
    assert.is(op.operation.id, outcome.operationId);
    assert.is(op.operation.status, 'completed');
    assert.equal(op.tasks.map((t: any) => t.status), ['completed']);
    assert.is(await writer.checkpointPosition(), await server.services.store.head());

    const summary = (await (await server.api(`${MONITOR_PREFIX}/summary`)).json()) as any;
    assert.is(summary.logging_enabled, true);
  } finally {
    await server.stop();
    cleanup();
  }
});

Writer('resumes from its checkpoint after a restart: no gap, no duplicate, the same files as export-logs', async () => {
  const { dir, cleanup } = tempDir('wrm-logdir-');
  const logs = join(dir, 'logs');
  try {
    const first = await startTestServer({ logDir: logs }, { keepDir: dir });
    for (let i = 0; i < 5; i++) await openAndClose(first.services.store, `before-${i}`);
    await first.logDirWriter!.idle();
    const checkpointAtStop = await first.logDirWriter!.checkpointPosition();
    await first.close();
    assert.is(files(logs, 'connections').length, 5);

    // While no server runs, more connections close (another process, or
    // events committed after the writer's last pass in a crash).
    const offline = await openTestStore(join(dir, 'monitor.db'));
    const { log, db } = offline;
    for (let i = 0; i < 4; i++) await openAndClose(log, `offline-${i}`);
    await log.append('operation:off-op', [
      { type: 'operation.started', data: { operation_id: 'off-op', type: 'close' } },
      { type: 'operation.failed', data: { error: { code: 'X', message: 'y' }, duration_ms: 3 } },
    ]);
    // A crash after writing a file but before moving the checkpoint: that file is rewritten in place.
    db.prepare('UPDATE checkpoints SET position = ? WHERE consumer = ?').run(checkpointAtStop - 3, LOG_DIR_CONSUMER);
    await offline.close();

    const second = await startTestServer({ logDir: logs }, { keepDir: dir });
    try {
      await second.logDirWriter!.idle();
      assert.is(files(logs, 'connections').length, 9, 'every closed connection has exactly one file');
      assert.is(files(logs, 'operations').length, 1);
      const { store, reads } = second.services;
      assert.is(store.positionOf((await store.readCheckpoint(LOG_DIR_CONSUMER))!), await store.head());
      const exported = join(dir, 'exported');
      await exportLogs(store, reads, { out: exported });
      assert.equal(treeHashes(logs), treeHashes(exported), 'what the writer wrote is what export-logs writes');
    } finally {
      await second.close();
    }
  } finally {
    cleanup();
  }
});

Writer.run();
