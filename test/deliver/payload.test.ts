import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closeOutcome, isDelivered, subjectOf, webhookBody, webhookId } from '../../src/deliver/payload.ts';

const Delivered = suite('isDelivered');
Delivered('takes issue events, closes, stalls and resumes, and a state change only when the connection fails', () => {
  for (const type of ['issue.raised', 'issue.updated', 'issue.resolved', 'connection.closed', 'connection.stalled', 'connection.resumed']) assert.ok(isDelivered(type, {}), type);
  assert.ok(isDelivered('connection.state_changed', { kind: 'connection', from: 'connected', to: 'failed' }));
  assert.not.ok(isDelivered('connection.state_changed', { kind: 'ice', from: 'connected', to: 'failed' }));
  assert.not.ok(isDelivered('connection.state_changed', { kind: 'connection', from: 'new', to: 'connected' }));
  assert.not.ok(isDelivered('connection.stats_sampled', {}));
  assert.not.ok(isDelivered('webhook.delivered', {}), 'never its own records');
});
Delivered.run();

const Subject = suite('subjectOf');
Subject('is the stream, or for an issue what the issue is about', () => {
  assert.is(subjectOf('connection:c1', {}), 'connection:c1');
  assert.is(subjectOf('issue:i1', { subject: 'operation:o1' }), 'operation:o1');
  assert.is(subjectOf('issue:i1', {}), 'issue:i1');
});
Subject.run();

const Id = suite('webhookId');
Id('is derived from node and position, with no full stop (the signed content is id.timestamp.body)', () => {
  assert.is(webhookId('edge-1.eu', 42), 'msg_edge-1-eu_42');
  assert.is(webhookId('edge-1.eu', 42), webhookId('edge-1.eu', 42));
  assert.is.not(webhookId('a', 42), webhookId('b', 42));
});
Id.run();

const Body = suite('webhookBody');
Body('follows the Standard Webhooks structure: type, the event time, data; position, subject and node beside them', () => {
  const row = { position: 7, stream: 'connection:c1', version: 9, type: 'connection.closed', data: '', meta: '{}', recordedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 6) };
  assert.equal(webhookBody(row, { reason: 'bye', initiator: 'remote' }, 'n1', 'clean'), {
    type: 'connection.closed',
    timestamp: '2026-01-02T03:04:05.006Z',
    position: 7,
    subject: 'connection:c1',
    node: 'n1',
    data: { reason: 'bye', initiator: 'remote', outcome: 'clean' },
  });
});
Body.run();

const Outcome = suite('closeOutcome');
Outcome('says failed for a failure before the close or an ice close, else what the initiator says', () => {
  assert.is(closeOutcome('remote', true), 'failed');
  assert.is(closeOutcome('ice', false), 'failed');
  assert.is(closeOutcome('shutdown', false), 'shutdown');
  assert.is(closeOutcome('process_restart', false), 'process_restart');
  assert.is(closeOutcome('local', false), 'clean');
});
Outcome.run();
