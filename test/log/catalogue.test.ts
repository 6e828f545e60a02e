import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateEvent, parseStream, streamName, isEventType, EVENT_TYPES } from '../../src/log/catalogue.ts';

const Validate = suite('validateEvent');

Validate('accepts a catalogue event and applies its defaults', () => {
  const r = validateEvent({ type: 'operation.started', data: { operation_id: 'o', type: 'close' } });
  assert.ok(r.ok);
  assert.equal(r.data, { operation_id: 'o', type: 'close', params: {} });
});

Validate('names the problem of an event that does not match', () => {
  const unknown = validateEvent({ type: 'nope', data: {} });
  assert.not.ok(unknown.ok);
  assert.match(unknown.ok ? '' : unknown.problem, 'unknown event type');
  const wrong = validateEvent({ type: 'connection.closed', data: { reason: 'x', initiator: 'martians' } });
  assert.not.ok(wrong.ok);
  assert.match(wrong.ok ? '' : wrong.problem, 'initiator');
});

Validate('refuses ids longer than 200 characters and empty ones', () => {
  assert.not.ok(validateEvent({ type: 'connection.created', data: { connection_id: 'x'.repeat(201) } }).ok);
  assert.not.ok(validateEvent({ type: 'connection.created', data: { connection_id: '' } }).ok);
});

Validate('does not take inherited names for event types', () => {
  assert.not.ok(isEventType('toString'));
  assert.not.ok(isEventType('__proto__'));
});

Validate('holds at least the events DESIGN.md section 4 names', () => {
  const required = [
    'connection.created', 'connection.state_changed', 'connection.candidate', 'connection.track_added', 'connection.track_removed',
    'connection.datachannel_opened', 'connection.datachannel_closed', 'connection.stats_sampled', 'connection.error', 'connection.closed',
    'operation.started', 'operation.completed', 'operation.failed',
    'task.created', 'task.started', 'task.completed', 'task.failed', 'task.cancelled', 'task.timed_out',
  ];
  for (const t of required) assert.ok(EVENT_TYPES.includes(t as never), t);
});

Validate("accepts the fleet forwarder's state changes, and the problem of one that is malformed", () => {
  const ok = validateEvent({ type: 'forwarder.caught_up', data: { node: 'edge-1', position: 42, behind_ms: null } });
  assert.ok(ok.ok);
  const bad = validateEvent({ type: 'forwarder.behind', data: { node: 'edge-1', lag_events: -1, lag_ms: 5 } });
  assert.not.ok(bad.ok);
  assert.match(bad.ok ? '' : bad.problem, 'lag_events');
});

Validate.run();

const Streams = suite('parseStream');

Streams('splits kind and id at the first colon only', () => {
  assert.equal(parseStream(streamName('connection', 'a:b:c')), { kind: 'connection', id: 'a:b:c' });
  assert.equal(parseStream('task:'), { kind: 'task', id: '' });
  assert.equal(parseStream(streamName('forwarder', 'edge-1')), { kind: 'forwarder', id: 'edge-1' });
  assert.is(parseStream('robot:x'), null);
  assert.is(parseStream('nocolon'), null);
});

Streams.run();
