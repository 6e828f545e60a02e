import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { reduceTask, isPending, holdsWork, type TaskModel } from '../../src/projections/task.ts';
import { EventFactory, specFor } from '../helpers/events.ts';

const ID = 't1';
const given = specFor<TaskModel>((s, e) => reduceTask(s, ID, e));

function setup() {
  const f = new EventFactory();
  const on = f.on(`task:${ID}`);
  const created = () => on('task.created', { task_id: ID, name: 'run', operation_id: 'op1', connection_id: 'c1', timeout_ms: 100 });
  const started = () => on('task.started', {});
  return { f, on, created, started };
}

const Reduce = suite('reduceTask');

Reduce('creates a task in status created with one transition', () => {
  const { created } = setup();
  const e = created();
  given(e).then((m) => {
    assert.is(m?.status, 'created');
    assert.is(m?.name, 'run');
    assert.is(m?.operation_id, 'op1');
    assert.is(m?.connection_id, 'c1');
    assert.equal(m?.transitions, [{ status: 'created', at: new Date(e.recordedAt).toISOString() }]);
  });
});

Reduce('moves to running on task.started', () => {
  const { created, started } = setup();
  const s = started();
  given(created()).when(s).then((m) => {
    assert.is(m?.status, 'running');
    assert.is(m?.started_at, new Date(s.recordedAt).toISOString());
  });
});

Reduce('ends completed, failed, cancelled or timed_out with duration and error', () => {
  const ends = [
    ['task.completed', { result: { n: 1 }, duration_ms: 5 }, 'completed', null],
    ['task.failed', { error: { code: 'X', message: 'boom' }, duration_ms: 6 }, 'failed', { code: 'X', message: 'boom' }],
    ['task.cancelled', { reason: 'shutdown', duration_ms: 7 }, 'cancelled', { code: 'CANCELLED', message: 'shutdown' }],
    ['task.timed_out', { timeout_ms: 100, duration_ms: 101 }, 'timed_out', { code: 'TIMEOUT', message: 'timed out after 100 ms' }],
  ] as const;
  for (const [type, data, status, error] of ends) {
    const { on, created, started } = setup();
    const end = on(type, data as never);
    given(created(), started()).when(end).then((m) => {
      assert.is(m?.status, status, type);
      assert.is(m?.ended_at, new Date(end.recordedAt).toISOString());
      assert.is(m?.duration_ms, data.duration_ms);
      assert.equal(m?.error, error);
      assert.equal(m?.transitions.map((t) => t.status), ['created', 'running', status]);
      if (status === 'completed') assert.equal(m?.result, { n: 1 });
    });
  }
});

Reduce('keeps a task given up on while its work ran as abandoned until task.settled_late, which changes no status', () => {
  const { on, created, started } = setup();
  const timedOut = on('task.timed_out', { timeout_ms: 100, duration_ms: 100, abandoned: true });
  given(created(), started()).when(timedOut).then((m) => {
    assert.is(m?.status, 'timed_out');
    assert.is(m?.abandoned, true);
    assert.is(m?.settled_late, null);
  });
  const s2 = setup();
  const late = s2.on('task.settled_late', { outcome: 'failed', error: { code: 'ABORTED', message: 'gave up at last' }, late_ms: 250, duration_ms: 350 }, { advanceMs: 250 });
  given(s2.created(), s2.started(), s2.on('task.cancelled', { reason: 'shutdown', duration_ms: 100, abandoned: true }))
    .when(late)
    .then((m, before) => {
      assert.is(m?.status, 'cancelled');
      assert.is(m?.abandoned, false);
      assert.equal(m?.settled_late, { outcome: 'failed', at: new Date(late.recordedAt).toISOString(), late_ms: 250, error: { code: 'ABORTED', message: 'gave up at last' } });
      assert.equal(m?.transitions, before?.transitions, 'not a transition');
      assert.is(m?.last_position, late.position);
    });
});

Reduce('keeps a task abandoned when its end is a task.failed standing for a give-up storage refused, until task.settled_late', () => {
  const { on, created, started } = setup();
  const error = { code: 'STORAGE_FULL', message: "the task's end (task.timed_out) could not be recorded" };
  given(created(), started(), on('task.failed', { error, duration_ms: 140, abandoned: true }))
    .then((m) => {
      assert.equal([m?.status, m?.error, m?.abandoned], ['failed', error, true]);
      assert.ok(m && holdsWork(m), 'still holding work');
    });
  const s2 = setup();
  given(s2.created(), s2.started(), s2.on('task.failed', { error, duration_ms: 140, abandoned: true }))
    .when(s2.on('task.settled_late', { outcome: 'completed', late_ms: 40, duration_ms: 180 }))
    .then((m) => assert.equal([m?.status, m?.abandoned, m?.settled_late?.outcome], ['failed', false, 'completed']));
});

Reduce('ignores task.settled_late for a task that was not abandoned, and a second one', () => {
  const { on, created, started } = setup();
  const late = () => on('task.settled_late', { outcome: 'completed', late_ms: 5, duration_ms: 5 });
  given(created(), started(), on('task.completed', { duration_ms: 3 })).when(late()).then((m, before) => assert.equal(m, before));
  const s2 = setup();
  const l2 = () => s2.on('task.settled_late', { outcome: 'completed', late_ms: 5, duration_ms: 5 });
  given(s2.created(), s2.on('task.timed_out', { timeout_ms: 1, duration_ms: 1, abandoned: true }), l2())
    .when(s2.on('task.settled_late', { outcome: 'failed', late_ms: 9, duration_ms: 9 }))
    .then((m, before) => assert.equal(m, before));
});

Reduce('makes no transition out of a final state', () => {
  for (const final of ['task.completed', 'task.failed', 'task.cancelled', 'task.timed_out'] as const) {
    const { on, created, started } = setup();
    const data = {
      'task.completed': { duration_ms: 1 },
      'task.failed': { error: { code: 'E', message: 'e' }, duration_ms: 1 },
      'task.cancelled': { reason: 'r', duration_ms: 1 },
      'task.timed_out': { timeout_ms: 1, duration_ms: 1 },
    }[final];
    given(created(), started(), on(final, data as never))
      .when(on('task.started', {}), on('task.completed', { duration_ms: 9 }), on('task.failed', { error: { code: 'L', message: 'late' }, duration_ms: 9 }))
      .then((m, before) => assert.equal(m, before, `${final} is final`));
  }
});

Reduce('ignores a second task.created and events before the first', () => {
  const early = setup();
  given(early.on('task.started', {})).then((m) => assert.is(m, null));
  const s = setup();
  given(s.created()).when(s.on('task.created', { task_id: ID, name: 'other' })).then((m, before) => assert.is(m, before));
});

Reduce.run();

const Pending = suite('isPending');

Pending('counts created and running as pending, and nothing else', () => {
  assert.ok(isPending('created'));
  assert.ok(isPending('running'));
  for (const s of ['completed', 'failed', 'cancelled', 'timed_out'] as const) assert.not.ok(isPending(s));
});

Pending('counts an abandoned task as holding work until it settles', () => {
  assert.ok(holdsWork({ status: 'running', abandoned: false }));
  assert.ok(holdsWork({ status: 'timed_out', abandoned: true }));
  assert.not.ok(holdsWork({ status: 'timed_out', abandoned: false }));
  assert.not.ok(holdsWork({ status: 'completed', abandoned: false }));
});

Pending.run();
