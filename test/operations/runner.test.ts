import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OperationRunner } from '../../src/operations/runner.ts';
import { AppError, isAppError } from '../../src/errors.ts';
import { parsed } from '../../src/projections/reads.ts';
import type { TaskModel } from '../../src/projections/task.ts';
import { freshStore, openTestStore, type TestStore } from '../helpers/db.ts';
import { waitFor } from '../helpers/webrtc.ts';
import { latch, within } from '../helpers/wait.ts';
import { fillDatabase } from '../helpers/storage.ts';
import { GAP_STREAM } from '../../src/log/catalogue.ts';

let store: TestStore;
let runner: OperationRunner;
/** The runner's clock: durations are read from it, so a test moves it instead of waiting. */
let now = 0;
const clock = () => now;
const types = async (operationId: string) => (await store.log.readLog({ limit: 1000 })).filter((e) => e.meta.operation_id === operationId).map((e) => e.type);
const tasksOf = async (operationId: string) => parsed<TaskModel>(await store.reads.taskRows({ statuses: [], operationId, limit: 100 })).items.reverse();
/** Work that only ends when its signal aborts. */
const forever = (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

const Run = suite('OperationRunner.run');
Run.before.each(async () => {
  store = await freshStore();
  now = 1000;
  runner = new OperationRunner(store.log, { defaultTimeoutMs: 2000, clock });
});
Run.after.each(async () => {
  await runner.shutdown(0);
  await store.cleanup();
});

Run('records a completed operation with its result, its task and durations', async () => {
  const outcome = await runner.run('close', { connection_id: 'c1' }, async () => {
    now += 20; // the work takes 20 ms on the runner's clock
    return { closed: 1 };
  }, { connectionId: 'c1', requestId: 'r-1' });
  assert.is(outcome.status, 'completed');
  assert.equal(outcome.status === 'completed' && outcome.result, { closed: 1 });
  assert.is(outcome.durationMs, 20);
  assert.equal((await types(outcome.operationId)), ['operation.started', 'task.created', 'task.started', 'task.completed', 'operation.completed']);
  const op = (await store.reads.operation(outcome.operationId))!;
  assert.equal([op.status, op.type, op.connection_id, op.result], ['completed', 'close', 'c1', { closed: 1 }]);
  assert.is(op.duration_ms, 20);
  const [task] = (await tasksOf(outcome.operationId));
  assert.equal([task.name, task.status, task.connection_id, task.duration_ms], ['run', 'completed', 'c1', 20]);
  const started = (await store.log.readLog({ limit: 1 }))[0];
  assert.is(started.meta.request_id, 'r-1');
  assert.is(runner.activeOperations, 0);
  assert.is(runner.activeTasks, 0);
});

Run('commits operation.started before start() resolves', async () => {
  const release = latch();
  const { operationId, outcome } = await runner.start('slow', {}, () => release.fired);
  assert.is((await store.reads.operation(operationId))?.status, 'running');
  assert.is((await store.reads.summary()).operations.running, 1);
  release.fire();
  assert.is((await outcome).status, 'completed');
});

Run('records a failure with the error code of an AppError, or INTERNAL for anything else', async () => {
  const a = await runner.run('x', {}, async () => {
    throw new AppError('NOT_FOUND', 'no such peer');
  });
  assert.equal(a.status === 'failed' && a.error, { code: 'NOT_FOUND', message: 'no such peer' });
  const b = await runner.run('x', {}, async () => {
    throw new Error('boom');
  });
  assert.equal(b.status === 'failed' && b.error, { code: 'INTERNAL', message: 'boom' });
  assert.equal(await types(b.operationId), ['operation.started', 'task.created', 'task.started', 'task.failed', 'operation.failed']);
  assert.is((await store.reads.operation(b.operationId))?.error?.code, 'INTERNAL');
  assert.is((await tasksOf(b.operationId))[0].status, 'failed');
});

Run('times out at its deadline: task.timed_out and operation.failed TIMEOUT, even if the work ignores its signal', async () => {
  const outcome = await within(runner.run('stuck', {}, () => new Promise(() => {}), { timeoutMs: 60 }), 10_000, 'the deadline');
  assert.is(outcome.status, 'failed');
  assert.is(outcome.status === 'failed' && outcome.error.code, 'TIMEOUT');
  assert.equal(await types(outcome.operationId), ['operation.started', 'task.created', 'task.started', 'task.timed_out', 'operation.failed']);
  const task = (await tasksOf(outcome.operationId))[0];
  assert.is(task.status, 'timed_out');
  assert.is((await store.reads.operation(outcome.operationId))?.timeout_ms, 60);
});

Run('is cancelled by runner.cancel: task.cancelled and operation.cancelled with the reason', async () => {
  const running = latch();
  const { operationId, outcome } = await runner.start('long', {}, (ctx) => {
    running.fire();
    return forever(ctx.signal);
  });
  await running.fired;
  assert.ok(runner.cancel(operationId, 'operator said stop'));
  const o = await outcome;
  assert.is(o.status, 'cancelled');
  assert.equal(o.status === 'cancelled' && o.error, { code: 'CANCELLED', message: 'operator said stop' });
  assert.equal(await types(operationId), ['operation.started', 'task.created', 'task.started', 'task.cancelled', 'operation.cancelled']);
  assert.equal((await store.reads.operation(operationId))?.error, { code: 'CANCELLED', message: 'operator said stop' });
  assert.not.ok(runner.cancel(operationId), 'nothing left to cancel');
});

Run('counts a task that ignores its abort signal as pending (abandoned) until its work settles, then records task.settled_late', async () => {
  let release!: (value: string) => void;
  const outcome = await runner.run('stubborn', {}, () => new Promise<string>((resolve) => (release = resolve)), { timeoutMs: 30 });
  assert.is(outcome.status === 'failed' && outcome.error.code, 'TIMEOUT');
  const [task] = await tasksOf(outcome.operationId);
  assert.equal([task.status, task.abandoned, task.settled_late], ['timed_out', true, null]);
  // The deadline passed but the work still runs: it is still counted.
  assert.equal([runner.activeTasks, runner.abandonedTasks], [1, 1]);
  assert.equal([(await store.reads.summary()).tasks.pending, (await store.reads.summary()).tasks.abandoned], [1, 1]);

  release('finished after all');
  const settled = await waitFor(async () => (await store.log.readLog({ limit: 1000 })).find((e) => e.type === 'task.settled_late'), 5000, 'task.settled_late');
  assert.is(settled.stream, `task:${task.id}`);
  assert.is(settled.type === 'task.settled_late' && settled.data.outcome, 'completed');
  assert.equal(await types(outcome.operationId), ['operation.started', 'task.created', 'task.started', 'task.timed_out', 'operation.failed', 'task.settled_late']);
  await waitFor(() => runner.activeTasks === 0, 5000, 'the runner to forget the task');
  const after = (await tasksOf(outcome.operationId))[0];
  assert.equal([after.status, after.abandoned, after.settled_late?.outcome], ['timed_out', false, 'completed']);
  const summary = (await store.reads.summary()).tasks;
  assert.equal([summary.pending, summary.abandoned, summary.settled_late], [0, 0, 1]);
});

Run('counts cancelled work that ignores the signal the same way, and records how it failed when it finally does', async () => {
  let fail!: (err: Error) => void;
  const { operationId, outcome } = await runner.start('stubborn', {}, () => new Promise((_, reject) => (fail = reject)));
  await waitFor(async () => (await tasksOf(operationId))[0]?.status === 'running', 5000, 'the task to run');
  runner.cancel(operationId, 'operator said stop');
  assert.is((await outcome).status, 'cancelled');
  assert.equal([(await tasksOf(operationId))[0].status, (await tasksOf(operationId))[0].abandoned, runner.abandonedTasks], ['cancelled', true, 1]);
  fail(new Error('socket closed at last'));
  const settled = await waitFor(async () => (await tasksOf(operationId))[0].settled_late, 5000, 'task.settled_late');
  assert.equal([settled.outcome, settled.error], ['failed', { code: 'INTERNAL', message: 'socket closed at last' }]);
  assert.is((await store.reads.summary()).tasks.pending, 0);
});

Run('does not count work that honours its signal as abandoned', async () => {
  const outcome = await runner.run('polite', {}, (ctx) => forever(ctx.signal), { timeoutMs: 20 });
  assert.is(outcome.status, 'failed');
  const [task] = await tasksOf(outcome.operationId);
  assert.equal([task.status, task.abandoned], ['timed_out', false]);
  assert.equal([runner.activeTasks, (await store.reads.summary()).tasks.pending], [0, 0]);
});

Run('runs sub-tasks as tracked tasks of the operation, each with its own timeout', async () => {
  const outcome = await runner.run('benchmark', {}, async (ctx) => {
    const a = await ctx.task('negotiate', async () => 1, { connectionId: 'c9' });
    const b = await ctx.task('measure', async () => 2);
    const late = await ctx.task('slow-peer', (signal) => forever(signal), { timeoutMs: 30 }).catch((e) => e);
    const boom = await ctx.task('broken', async () => {
      throw new Error('peer crashed');
    }).catch((e) => e.message);
    return { sum: a + b, late: late instanceof Error, boom };
  });
  assert.is(outcome.status, 'completed');
  assert.equal(outcome.status === 'completed' && outcome.result, { sum: 3, late: true, boom: 'peer crashed' });
  const tasks = await tasksOf(outcome.operationId);
  assert.equal(tasks.map((t) => [t.name, t.status]), [
    ['run', 'completed'], ['negotiate', 'completed'], ['measure', 'completed'], ['slow-peer', 'timed_out'], ['broken', 'failed'],
  ]);
  assert.is(tasks[1].connection_id, 'c9');
  assert.is((await store.reads.operation(outcome.operationId))?.task_count, 5);
});

Run('cancels running sub-tasks when the operation is cancelled', async () => {
  const running = latch();
  const { operationId, outcome } = await runner.start('x', {}, (ctx) =>
    ctx.task('child', (s) => {
      running.fire();
      return forever(s);
    }),
  );
  await running.fired;
  runner.cancel(operationId);
  await outcome;
  assert.equal((await tasksOf(operationId)).map((t) => t.status), ['cancelled', 'cancelled']);
  assert.is((await store.reads.summary()).tasks.pending, 0);
});

Run('refuses a second operation with the same id as a 409 CONFLICT, recording nothing more', async () => {
  await runner.run('x', {}, async () => 1, { operationId: 'fixed' });
  const before = (await store.log.readLog({ limit: 1000 })).length;
  try {
    await runner.start('x', {}, async () => 1, { operationId: 'fixed' });
    assert.unreachable('duplicate accepted');
  } catch (err) {
    assert.ok(isAppError(err));
    assert.equal([err.status, err.code], [409, 'CONFLICT']);
  }
  assert.is((await store.log.readLog({ limit: 1000 })).length, before);
});

Run('records a failure when the result cannot be stored, and the outcome still resolves', async () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const outcome = await runner.run('x', {}, async () => circular);
  assert.is(outcome.status, 'failed');
  assert.is(outcome.status === 'failed' && outcome.error.code, 'INTERNAL');
  assert.is((await store.reads.operation(outcome.operationId))?.status, 'failed');
  assert.is(runner.activeOperations, 0);
});

Run('resolves the outcome even when the log closed under it (a crash-like stop)', async () => {
  const closed = latch();
  const { outcome } = await runner.start('x', {}, () => closed.fired.then(() => 'done'));
  store.log.close();
  closed.fire();
  const o = await outcome;
  assert.is(o.status, 'failed', 'its task could not record its end');
  assert.is(runner.activeOperations, 0);
});

Run('answers failed with the storage code, never completed, when the outcome cannot be recorded', async () => {
  let full: { release(): void } | null = null;
  const outcome = await runner.run('x', {}, async () => {
    // The disk fills while the work runs: its end cannot be recorded.
    full = fillDatabase(store.db);
    return 'done';
  });
  try {
    assert.is(outcome.status, 'failed');
    assert.is(outcome.status === 'failed' && outcome.error.code, 'STORAGE_FULL');
    assert.match(outcome.status === 'failed' ? outcome.error.message : '', 'could not be recorded');
    assert.is((await store.reads.operation(outcome.operationId))?.status, 'running', 'the log has no outcome yet');
    assert.ok(runner.pendingOutcomes > 0);
  } finally {
    full!.release();
  }
  // Storage is back: the next commit (here, the gap marker's) writes the kept failure.
  await store.log.append('connection:other', [{ type: 'connection.created', data: { connection_id: 'other' } }]);
  await waitFor(() => runner.pendingOutcomes === 0, 5000, 'the kept failure to be written');
  const op = (await store.reads.operation(outcome.operationId))!;
  assert.is(op.status, 'failed');
  assert.is(op.error?.code, 'STORAGE_FULL');
  assert.equal((await tasksOf(outcome.operationId)).map((t) => [t.name, t.status, t.error?.code]), [['run', 'failed', 'STORAGE_FULL']]);
  assert.is((await store.reads.summary()).operations.running, 0);
  assert.is((await store.log.readStream(GAP_STREAM)).length, 1, 'the lost events are marked');
});

Run('keeps an abandoned task counted when its give-up cannot be recorded, and records how it settled after the kept end', async () => {
  let full: { release(): void } | null = null;
  let release!: (value: string) => void;
  const outcome = await runner.run(
    'stubborn',
    {},
    () => {
      // The disk fills while work that ignores its signal runs past its deadline.
      full = fillDatabase(store.db);
      return new Promise<string>((resolve) => (release = resolve));
    },
    { timeoutMs: 30 },
  );
  try {
    assert.is(outcome.status === 'failed' && outcome.error.code, 'STORAGE_FULL');
    assert.equal([runner.activeTasks, runner.abandonedTasks], [1, 1], 'the work still runs');
    // The work settles while storage still refuses: its settled_late waits behind the kept end.
    release('finished after all');
    await waitFor(() => runner.abandonedTasks === 0, 5000, 'the runner to see the work settle');
    assert.is((await tasksOf(outcome.operationId))[0].status, 'running', 'nothing of the end is in the log yet');
  } finally {
    full!.release();
  }
  await store.log.append('connection:other', [{ type: 'connection.created', data: { connection_id: 'other' } }]);
  await waitFor(() => runner.pendingOutcomes === 0, 5000, 'the kept events to be written');
  assert.equal(await types(outcome.operationId), ['operation.started', 'task.created', 'task.started', 'task.failed', 'task.settled_late', 'operation.failed']);
  const [task] = await tasksOf(outcome.operationId);
  assert.equal([task.status, task.error?.code, task.abandoned, task.settled_late?.outcome], ['failed', 'STORAGE_FULL', false, 'completed']);
  const failed = (await store.log.readStream(`task:${task.id}`)).find((e) => e.type === 'task.failed');
  assert.is(failed?.type === 'task.failed' && failed.data.abandoned, true, 'the kept end says the work was still running');
  const summary = (await store.reads.summary()).tasks;
  assert.equal([summary.pending, summary.abandoned, summary.settled_late], [0, 0, 1]);
});

Run('keeps task.settled_late that storage refused and writes it when storage returns', async () => {
  let release!: (value: string) => void;
  const outcome = await runner.run('stubborn', {}, () => new Promise<string>((resolve) => (release = resolve)), { timeoutMs: 30 });
  const [task] = await tasksOf(outcome.operationId);
  assert.equal([task.status, task.abandoned], ['timed_out', true]);
  const full = fillDatabase(store.db);
  try {
    release('finished after all');
    await waitFor(() => runner.abandonedTasks === 0 && runner.pendingOutcomes === 1, 5000, 'the refused settled_late to be kept');
    assert.is((await store.reads.summary()).tasks.abandoned, 1, 'the log does not say it settled yet');
  } finally {
    full.release();
  }
  await store.log.append('connection:other', [{ type: 'connection.created', data: { connection_id: 'other' } }]);
  await waitFor(() => runner.pendingOutcomes === 0, 5000, 'the kept settled_late to be written');
  const after = (await tasksOf(outcome.operationId))[0];
  assert.equal([after.status, after.abandoned, after.settled_late?.outcome], ['timed_out', false, 'completed']);
  assert.equal([(await store.reads.summary()).tasks.pending, (await store.reads.summary()).tasks.abandoned], [0, 0]);
});

Run.run();

const Shutdown = suite('OperationRunner.shutdown');
Shutdown.before.each(async () => {
  store = await freshStore();
  runner = new OperationRunner(store.log, { defaultTimeoutMs: 5000 });
});
Shutdown.after.each(() => store.cleanup());

Shutdown('waits for what finishes within the grace period and cancels the rest, recorded', async () => {
  const finish = latch();
  const quick = await runner.start('quick', {}, () => finish.fired.then(() => 'done'));
  const stuck = await runner.start('stuck', {}, (ctx) => forever(ctx.signal));
  // The quick one finishes once shutdown has begun; the grace period only bounds the wait.
  const shutdown = runner.shutdown(2000);
  finish.fire();
  const result = await shutdown;
  assert.equal(result, { finished: 1, cancelled: 1, unrecorded: 0 });
  assert.is((await quick.outcome).status, 'completed');
  const s = await stuck.outcome;
  assert.equal(s.status === 'cancelled' && s.error, { code: 'CANCELLED', message: 'shutdown' });
  assert.is((await store.reads.operation(stuck.operationId))?.status, 'cancelled');
  assert.is((await store.reads.summary()).tasks.pending, 0);
  assert.is(runner.activeOperations, 0);
});

Shutdown('waits for an operation whose start was still being committed, so it ends on the record', async () => {
  // Shutdown begins while operation.started is being committed. (It counts
  // what runs once that commit lands; the work itself cannot run before its
  // task's events, committed after that, so it is counted whatever it does.)
  const starting = runner.start('just-in-time', {}, async () => 'done');
  const result = await runner.shutdown(2000);
  // What the server does next: close the log.
  await store.log.close();
  const { operationId, outcome } = await starting;
  assert.is((await outcome).status, 'completed');
  assert.is(result.finished, 1);
  const after = await openTestStore(store.path);
  assert.is((await after.reads.operation(operationId))?.status, 'completed', 'on the record in the file');
  await after.close();
});

Shutdown('records, before it returns, the outcomes storage refused earlier', async () => {
  let full: { release(): void } | null = null;
  const outcome = await runner.run('x', {}, async () => {
    full = fillDatabase(store.db);
    return 'done';
  });
  full!.release();
  const result = await runner.shutdown(0);
  assert.is(result.unrecorded, 0);
  assert.is((await store.reads.operation(outcome.operationId))?.status, 'failed');
});

Shutdown('refuses new operations once shutting down', async () => {
  await runner.shutdown(0);
  try {
    await runner.start('late', {}, async () => 1);
    assert.unreachable();
  } catch (err) {
    assert.ok(isAppError(err));
    assert.is(err.code, 'SHUTTING_DOWN');
  }
  assert.is((await store.log.readLog({ limit: 10 })).length, 0);
});

Shutdown.run();
