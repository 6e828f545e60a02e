import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { closeOrphans } from '../../src/operations/recover.ts';
import { OperationRunner } from '../../src/operations/runner.ts';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { freshStore, openTestStore, tempDir } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { latch } from '../helpers/wait.ts';

const Close = suite('closeOrphans');

Close('closes out open tasks, operations and connections with reason process_restart', async () => {
  const store = await freshStore();
  try {
    await store.log.append('connection:c1', [{ type: 'connection.created', data: { connection_id: 'c1' } }]);
    const report = await closeOrphans(
      store.log,
      { connectionIds: ['c1'], operations: [{ id: 'o1', startedAtMs: 0 }], tasks: [{ id: 't1', createdAtMs: 0 }], serverIds: ['s1'] },
      1000,
    );
    assert.equal(report, { connections: 1, operations: 1, tasks: 1, abandoned_tasks: 0, servers: 1, clients: 0 });
    const events = await store.log.readLog({ after: 1, limit: 10 });
    assert.equal(events.map((e) => [e.stream, e.type]).sort(), [
      ['connection:c1', 'connection.closed'], ['operation:o1', 'operation.cancelled'], ['server:s1', 'server.stopped'], ['task:t1', 'task.cancelled'],
    ]);
    assert.equal(events.find((e) => e.stream === 'server:s1')?.data, { server_id: 's1', reason: 'process_restart' });
    for (const e of events) assert.is(e.meta.recovery, 'process_restart');
    assert.equal((await store.reads.connection('c1'))?.close, { reason: 'process_restart', initiator: 'process_restart' });
  } finally {
    await store.cleanup();
  }
});

Close.run();

const Restart = suite('recovery at server start');

Restart('records process_restart for what a crashed run left open, once, and the monitor shows it', async () => {
  const { dir, cleanup } = tempDir('wrm-recover-');
  try {
    // A "crashed" run: an operation mid-flight, a connection still up, and an
    // operation that finished (must be left alone). The process dies without shutdown.
    const path = join(dir, 'monitor.db');
    const crashed = await openTestStore(path);
    const { log } = crashed;
    const runner = new OperationRunner(log, { defaultTimeoutMs: 300 });
    await log.append('connection:live', [
      { type: 'connection.created', data: { connection_id: 'live' } },
      { type: 'connection.state_changed', data: { kind: 'connection', from: 'new', to: 'connected' } },
    ]);
    await log.append('connection:gone', [
      { type: 'connection.created', data: { connection_id: 'gone' } },
      { type: 'connection.closed', data: { reason: 'bye', initiator: 'remote' } },
    ]);
    // A stream still serving, and one that was stopped (left alone).
    await log.append('server:live', [{ type: 'server.created', data: { server_id: 'live', content: 'a.webm', mode: 'media', quality: 'auto' } }]);
    await log.append('server:stopped', [
      { type: 'server.created', data: { server_id: 'stopped', content: 'a.webm', mode: 'media', quality: 'auto' } },
      { type: 'server.stopped', data: { server_id: 'stopped', reason: 'stopped' } },
    ]);
    // A viewer reporting telemetry when the process died, and one whose peer connection closed (left alone).
    const created = (session: string) => ({
      type: 'client.created' as const,
      data: { session_id: session, pc_id: 'PC_0', source: 'rtcstats' as const, meeting: null, user_agent: 'test', identity: null, configuration: {}, client_ts: 1 },
    });
    await log.append('client:s-live:PC_0', [created('s-live')]);
    await log.append('client:s-done:PC_0', [created('s-done'), { type: 'client.closed', data: { reason: 'pc_closed', client_ts: 2 } }]);
    const done = await runner.run('quick', {}, async () => 1);
    // A task given up on (timed out) whose work never stopped: abandoned when the process died.
    const hung = await runner.run('hung', {}, () => new Promise(() => {}), { timeoutMs: 30 });
    assert.is(hung.status, 'failed');
    assert.is((await crashed.reads.summary()).tasks.abandoned, 1);
    // Killed mid-task: the work runs once its task.started is committed.
    const running = latch();
    const { operationId, outcome: stuckOutcome } = await runner.start('stuck', {}, () => {
      running.fire();
      return new Promise(() => {});
    });
    await running.fired;
    await crashed.close();

    const server = await startTestServer({}, { keepDir: dir });
    try {
      assert.equal(server.recovered, { connections: 1, operations: 1, tasks: 1, abandoned_tasks: 1, servers: 1, clients: 1 });
      const { store, reads } = server.services;
      assert.equal((await store.readStream('server:live')).at(-1)?.data, { server_id: 'live', reason: 'process_restart' });
      assert.is((await store.readStream('server:stopped')).length, 2, 'a stopped stream is left alone');
      assert.equal((await store.readStream('client:s-live:PC_0')).at(-1)?.data, { reason: 'process_restart', client_ts: null });
      assert.is((await store.readStream('client:s-done:PC_0')).length, 2, 'a closed viewer report is left alone');
      const hungTask = (await store.readLog({ limit: 1000 })).find((e) => e.type === 'task.settled_late');
      assert.ok(hungTask, 'the abandoned task is closed out');
      assert.is(hungTask.type === 'task.settled_late' && hungTask.data.outcome, 'process_restart');
      assert.is((await reads.summary()).tasks.abandoned, 0);
      assert.is((await reads.connection('live'))?.outcome, 'process_restart');
      assert.is((await reads.connection('gone'))?.outcome, 'clean');
      assert.is((await reads.operation(operationId))?.status, 'cancelled');
      assert.equal((await reads.operation(operationId))?.error, { code: 'CANCELLED', message: 'process_restart' });
      assert.is((await reads.operation(done.operationId))?.status, 'completed');
      assert.equal((await store.readStream('connection:live')).at(-1)?.data, { reason: 'process_restart', initiator: 'process_restart' });
      assert.is((await store.readStream('connection:gone')).length, 2, 'a closed connection is left alone');
      assert.is((await reads.summary()).tasks.pending, 0);
      const summary = await (await server.api(`${MONITOR_PREFIX}/summary`)).json();
      assert.is(summary.operation_stats.started, 0);
      assert.is(summary.connection_states.closed, 2);
      assert.equal(summary.connection_outcomes, { clean: 1, failed: 0, shutdown: 0, process_restart: 1 });
      assert.is(summary.pending_tasks, 0);
    } finally {
      await server.close();
    }
    // A second restart finds nothing left to close.
    const again = await startTestServer({}, { keepDir: dir });
    assert.equal(again.recovered, { connections: 0, operations: 0, tasks: 0, abandoned_tasks: 0, servers: 0, clients: 0 });
    await again.close();
    // The crashed run's runner still holds a deadline; it must settle without a trace.
    assert.is((await stuckOutcome).status, 'failed');
  } finally {
    cleanup();
  }
});

Restart.run();
