import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { reduceOperation, KEPT_TASK_IDS, type OperationModel } from '../../src/projections/operation.ts';
import { EventFactory, specFor } from '../helpers/events.ts';

const ID = 'op1';
const given = specFor<OperationModel>((s, e) => reduceOperation(s, ID, e));

function setup() {
  const f = new EventFactory();
  const on = f.on(`operation:${ID}`);
  const started = () => on('operation.started', { operation_id: ID, type: 'close', params: { all: true }, connection_id: 'c1', timeout_ms: 500 });
  const task = (n: number) => f.event(`task:t${n}`, { type: 'task.created', data: { task_id: `t${n}`, name: 'run', operation_id: ID } });
  return { f, on, started, task };
}

const Reduce = suite('reduceOperation');

Reduce('starts a running operation from operation.started', () => {
  const { started } = setup();
  const e = started();
  given(e).then((m) => {
    assert.equal(
      { id: m?.id, type: m?.type, status: m?.status, params: m?.params, connection_id: m?.connection_id, timeout_ms: m?.timeout_ms },
      { id: ID, type: 'close', status: 'running', params: { all: true }, connection_id: 'c1', timeout_ms: 500 },
    );
    assert.is(m?.started_at, new Date(e.recordedAt).toISOString());
    assert.is(m?.ended_at, null);
  });
});

Reduce('ignores events that come before operation.started', () => {
  const { on, task } = setup();
  given(task(1), on('operation.completed', { result: 1, duration_ms: 3 })).then((m) => assert.is(m, null));
});

Reduce('ignores a second operation.started', () => {
  const { on, started } = setup();
  given(started()).when(on('operation.started', { operation_id: ID, type: 'other' })).then((m, before) => assert.is(m, before));
});

Reduce('completes with its result and duration', () => {
  const { on, started } = setup();
  const done = on('operation.completed', { result: { closed: 2 }, duration_ms: 40 });
  given(started()).when(done).then((m) => {
    assert.is(m?.status, 'completed');
    assert.equal(m?.result, { closed: 2 });
    assert.is(m?.duration_ms, 40);
    assert.is(m?.ended_at, new Date(done.recordedAt).toISOString());
    assert.is(m?.last_position, done.position);
  });
});

Reduce('fails with its error', () => {
  const { on, started } = setup();
  given(started())
    .when(on('operation.failed', { error: { code: 'TIMEOUT', message: 'too slow' }, duration_ms: 500 }))
    .then((m) => {
      assert.is(m?.status, 'failed');
      assert.equal(m?.error, { code: 'TIMEOUT', message: 'too slow' });
    });
});

Reduce('is cancelled with a CANCELLED error carrying the reason', () => {
  const { on, started } = setup();
  given(started())
    .when(on('operation.cancelled', { reason: 'shutdown', duration_ms: 7 }))
    .then((m) => {
      assert.is(m?.status, 'cancelled');
      assert.equal(m?.error, { code: 'CANCELLED', message: 'shutdown' });
      assert.is(m?.duration_ms, 7);
    });
});

Reduce('lists the tasks created for it, keeping KEPT_TASK_IDS ids and counting all', () => {
  const { started, task } = setup();
  const tasks = Array.from({ length: KEPT_TASK_IDS + 2 }, (_, i) => task(i));
  given(started(), ...tasks).then((m) => {
    assert.is(m?.task_count, KEPT_TASK_IDS + 2);
    assert.is(m?.task_ids.length, KEPT_TASK_IDS);
    assert.is(m?.task_ids[0], 't0');
  });
});

Reduce.run();
