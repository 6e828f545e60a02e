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

Validate('takes null for what is unknown in a stats sample, and refuses 0-less guesses such as a fraction above 1', () => {
  const base = {
    bytes_sent: 10, bytes_received: 0, packets_sent: 1, packets_received: 0,
    packets_lost: null, rtt_ms: null, jitter_ms: null, bitrate_out_bps: null, bitrate_in_bps: null, interval_ms: null,
  };
  assert.ok(validateEvent({ type: 'connection.stats_sampled', data: base }).ok, 'a first sample: nothing known yet');
  const track = {
    ssrc: 1, kind: 'video', mid: '0', codec: 'video/VP8', packets_sent: 1, bytes_sent: 1, bitrate_bps: null,
    packets_lost: -1, fraction_lost: null, jitter_ms: null, rtt_ms: null, receiver_reports: 0,
    nack_count: 0, pli_count: 0, fir_count: 0, retransmitted_packets_sent: 0, retransmitted_bytes_sent: 0, frames_sent: 1, keyframes_sent: 1,
  };
  assert.ok(validateEvent({ type: 'connection.stats_sampled', data: { ...base, tracks: [track] } }).ok, 'RFC 3550 loss may be negative');
  assert.not.ok(validateEvent({ type: 'connection.stats_sampled', data: { ...base, fraction_lost: 1.5 } }).ok);
  assert.not.ok(validateEvent({ type: 'connection.stats_sampled', data: { ...base, tracks: [{ ...track, fraction_lost: -0.1 }] } }).ok);
  assert.not.ok(validateEvent({ type: 'connection.stats_sampled', data: { ...base, tracks: Array(51).fill(track) } }).ok, 'bounded');
});

Validate('holds the liveness and late-settling events', () => {
  assert.ok(validateEvent({ type: 'connection.stalled', data: { silent_ms: 5000, stall_after_ms: 5000, last_heard_ms: { stun: 5000, dtls: null, rtp: null, rtcp: 5100 } } }).ok);
  assert.not.ok(validateEvent({ type: 'connection.stalled', data: { silent_ms: 5000, stall_after_ms: 5000, last_heard_ms: { smoke: 1 } } }).ok);
  assert.ok(validateEvent({ type: 'connection.resumed', data: { stalled_ms: 10, via: ['rtcp', 'stun'] } }).ok);
  assert.ok(validateEvent({ type: 'task.timed_out', data: { timeout_ms: 1, duration_ms: 1, abandoned: true } }).ok);
  assert.ok(validateEvent({ type: 'task.settled_late', data: { outcome: 'process_restart', late_ms: 1, duration_ms: 2 } }).ok);
  assert.not.ok(validateEvent({ type: 'task.settled_late', data: { outcome: 'maybe', late_ms: 1, duration_ms: 2 } }).ok);
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
