// Webhook delivery end to end: a real server with the WebRTC plugin, real
// werift viewers whose connections close cleanly, vanish (stalled, then
// failed by the consent timeout) or are closed by shutdown, and a real HTTP
// receiver that verifies every signature with the `standardwebhooks`
// library. Every wait is for an event in the log or a delivery at the
// receiver; backoff, timeouts and liveness limits are short by config.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type WebhookReceiver } from '../helpers/webhookReceiver.ts';
import { tempDir } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { scrape, value } from '../helpers/metrics.ts';
import { isDelivered, DELIVERED_TYPES } from '../../src/deliver/payload.ts';
import type { StoredEvent } from '../../src/log/catalogue.ts';
import type { ConfigInput } from '../../src/config.ts';

const NODE = 'test-node';
const fast: ConfigInput = {
  webhookSecret: TEST_WEBHOOK_SECRET,
  nodeId: NODE,
  webhookBackoffInitialMs: 20,
  webhookBackoffMaxMs: 200,
  webhookTimeoutMs: 2_000,
  stallAfterMs: 300,
  consentTimeoutMs: 1_200,
};

const events = (server: { services: WebRtcTestServer['services'] }, types?: string[]): Promise<StoredEvent[]> => server.services.store.readLog({ after: 0, limit: 100_000, types });
/** The events an endpoint should receive, in log order. */
const deliverable = async (server: WebRtcTestServer) =>
  (await events(server, [...DELIVERED_TYPES])).filter((e) => isDelivered(e.type, e.data as Record<string, unknown>));
const webhookEvents = (server: { services: WebRtcTestServer['services'] }) => events(server, ['webhook.delivered', 'webhook.attempt_failed', 'webhook.failed']);
const closedOf = (r: WebhookReceiver, connectionId: string) =>
  r.deduplicated().find((x) => x.body.type === 'connection.closed' && x.body.subject === `connection:${connectionId}`);

/** Positions each subject received, in arrival order, after deduplication. */
function perSubject(r: WebhookReceiver): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const x of r.deduplicated()) out.set(x.body.subject, [...(out.get(x.body.subject) ?? []), x.body.position]);
  return out;
}
const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1] < x);

/** Asserts the receiver holds exactly the deliverable events of the log, once each after dedup, in order per subject. */
async function assertExactlyOnce(server: WebRtcTestServer, receiver: WebhookReceiver, from = 0) {
  const expected = (await deliverable(server)).filter((e) => e.position > from).map((e) => e.position);
  const got = receiver.deduplicated().map((x) => x.body.position);
  assert.equal([...got].sort((a, b) => a - b), expected, 'every deliverable event once after dedup');
  for (const x of receiver.received) assert.is(x.id, `msg_${NODE}_${x.body.position}`, 'the id is derived from the log position');
  for (const [subject, positions] of perSubject(receiver)) assert.ok(increasing(positions), `in order for ${subject}: ${positions}`);
  assert.equal(receiver.rejected, [], 'every signature verifies');
}

async function connectAndClose(server: WebRtcTestServer, how: 'close' | 'leave', whep: string): Promise<string> {
  const viewer = await server.viewer(whep);
  const id = viewer.connectionId!;
  // The liveness watchdog watches connected peers: vanish only once the server says connected.
  await waitFor(
    async () =>
      (await events(server, ['connection.state_changed'])).some(
        (e) => e.type === 'connection.state_changed' && e.stream === `connection:${id}` && e.data.kind === 'connection' && e.data.to === 'connected',
      ),
    10_000,
    'the server side connected',
  );
  if (how === 'close') await viewer.close();
  else await viewer.leave();
  return id;
}

const closedInLog = (server: WebRtcTestServer, ids: string[]) => async () => {
  const closed = await events(server, ['connection.closed']);
  return ids.every((id) => closed.some((e) => e.stream === `connection:${id}`));
};

// ---------------------------------------------------------------------------

const Signed = suite('webhook delivery to a receiver that is up');
let receiver: WebhookReceiver;
let server: WebRtcTestServer;
Signed.before(async () => {
  receiver = await startWebhookReceiver({ userinfo: 'hook-user:s3cret', path: '/hooks?token=abc' });
  server = await startWebRtcServer({ ...fast, webhooks: [receiver.url] });
});
Signed.after(async () => {
  await server.stop();
  await receiver.stop();
});

Signed('delivers a clean close and a vanished viewer (stalled, failed, closed by ice) signed, with the outcome, in order per connection', async () => {
  const { whep_url } = await server.stream();
  const clean = await connectAndClose(server, 'close', whep_url);
  const gone = await connectAndClose(server, 'leave', whep_url);
  await receiver.until((r) => Boolean(closedOf(r, clean) && closedOf(r, gone)), 'both closes');
  assert.is(closedOf(receiver, clean)!.body.data.outcome, 'clean');
  assert.is(closedOf(receiver, gone)!.body.data.outcome, 'failed');
  assert.is(closedOf(receiver, gone)!.body.data.initiator, 'ice');
  const goneTypes = receiver.deduplicated().filter((x) => x.body.subject === `connection:${gone}`).map((x) => x.body.type);
  assert.equal(goneTypes, ['connection.stalled', 'connection.state_changed', 'connection.closed']);
  await assertExactlyOnce(server, receiver);
  const first = receiver.received[0];
  assert.is(first.body.node, NODE);
  assert.ok(Math.abs(first.timestamp * 1000 - Date.now()) < 60_000, 'webhook-timestamp is the attempt time in seconds');
  assert.is(first.authorization, `Basic ${Buffer.from('hook-user:s3cret').toString('base64')}`, 'credentials in the URL become Basic auth');
});

Signed('records each delivery as an event whose commit moved the checkpoint, and shows the URL without its credentials', async () => {
  const got = receiver.received.length;
  await waitFor(async () => (await webhookEvents(server)).length >= got, 5000, 'the deliveries recorded');
  const delivered = (await webhookEvents(server)).filter((e) => e.type === 'webhook.delivered');
  assert.ok(delivered.length >= receiver.received.length);
  const [{ stream, data }] = delivered;
  assert.match(stream, /^webhook:[0-9a-f]{16}$/);
  assert.is(data.endpoint, `http://***@127.0.0.1:${receiver.port}/hooks?token=***`);
  const text = JSON.stringify(await webhookEvents(server));
  assert.not.match(text, /s3cret|token=abc/);
  const last = delivered[delivered.length - 1].data as { position: number };
  const { store } = server.services;
  assert.ok(store.positionOf((await store.readCheckpoint(stream))!) >= last.position, 'the checkpoint covers the last delivery');
});

Signed('delivers an issue.raised appended to the log in the order of its subject', async () => {
  const subject = `connection:${randomUUID()}`;
  const issueId = randomUUID();
  await server.services.store.append(`issue:${issueId}`, [{ type: 'issue.raised', data: { issue_id: issueId, type: 'loss', severity: 'warning', subject, value: 0.12 } }]);
  await server.services.store.append(`issue:${issueId}`, [{ type: 'issue.resolved', data: { issue_id: issueId, type: 'loss', severity: 'warning', subject } }]);
  await receiver.until((r) => r.deduplicated().filter((x) => x.body.subject === subject).length === 2, 'the issue events');
  const got = receiver.deduplicated().filter((x) => x.body.subject === subject);
  assert.equal(got.map((x) => x.body.type), ['issue.raised', 'issue.resolved']);
  assert.equal(got[0].body.data, { issue_id: issueId, type: 'loss', severity: 'warning', subject, value: 0.12 });
});

Signed('counts deliveries by outcome in /metrics and labels the lag by endpoint key, never by URL', async () => {
  // The receiver answers before the sender records the delivery: wait for the record.
  const got = receiver.deduplicated().length;
  await waitFor(async () => (await webhookEvents(server)).filter((e) => e.type === 'webhook.delivered').length >= got, 5000, 'the deliveries recorded');
  const families = await scrape(server);
  assert.ok(value(families, 'webrtc_webhook_deliveries_total', { outcome: 'delivered' }) >= got);
  assert.is(value(families, 'webrtc_webhook_deliveries_total', { outcome: 'failed' }), 0);
  const key = server.webhooks[0].key;
  assert.is(typeof value(families, 'webrtc_webhook_lag_seconds', { endpoint: key }), 'number');
  assert.ok(value(families, 'webrtc_webhook_position', { endpoint: key }) > 0);
});

Signed.run();

// ---------------------------------------------------------------------------

const attempts = async (server: WebRtcTestServer, type: string) =>
  (await webhookEvents(server)).filter((e) => e.type === type).map((e) => e.data as Record<string, any>);

const Outage = suite('webhook delivery to a receiver that is down for a while');
let downServer: WebRtcTestServer;
let downReceiver: WebhookReceiver;
Outage.before(async () => {
  downReceiver = await startWebhookReceiver();
  await downReceiver.stop();
  downServer = await startWebRtcServer({ ...fast, webhooks: [downReceiver.url] });
});
Outage.after(async () => {
  await downServer.stop();
  await downReceiver.stop();
});

Outage('retries while it is down, then delivers every event exactly once after dedup, in order per connection', async () => {
  const { whep_url } = await downServer.stream();
  const ids = [await connectAndClose(downServer, 'close', whep_url), await connectAndClose(downServer, 'leave', whep_url), await connectAndClose(downServer, 'close', whep_url)];
  await waitFor(closedInLog(downServer, ids), 15_000, 'the connections closed');
  await waitFor(async () => (await attempts(downServer, 'webhook.attempt_failed')).length >= 3, 10_000, 'failed attempts while the receiver is down');
  assert.is(downReceiver.received.length, 0);
  await downReceiver.start();
  await downReceiver.until((r) => ids.every((id) => closedOf(r, id)), 'every close');
  await assertExactlyOnce(downServer, downReceiver);
  const failed = await attempts(downServer, 'webhook.attempt_failed');
  assert.ok(failed.every((a) => a.error.code === 'UNREACHABLE' && a.status === null && a.retry_in_ms <= 200), 'backoff capped by config');
  const first = (await deliverable(downServer))[0].position;
  const delivered = (await attempts(downServer, 'webhook.delivered')).find((a) => a.position === first)!;
  assert.ok(delivered.attempt > 1, 'the first event went out after failed attempts');
  assert.is(failed.filter((a) => a.position === first).length, delivered.attempt - 1, 'every attempt recorded');
  assert.ok(failed.every((a) => a.position === first), 'nothing after the blocked event was attempted (the endpoint waits in order)');
  const families = await scrape(downServer);
  assert.ok(value(families, 'webrtc_webhook_deliveries_total', { outcome: 'retrying' }) >= failed.length);
});

Outage.run();

// ---------------------------------------------------------------------------

const Restart = suite('webhook delivery across a server restart in the middle of a backlog');
Restart('resumes from the checkpoint in the log: nothing lost, the shutdown\'s own closes included', async () => {
  const { dir, cleanup } = tempDir('wrm-webhooks-');
  const receiver = await startWebhookReceiver();
  await receiver.stop();
  const config = { ...fast, webhooks: [receiver.url], shutdownGraceMs: 500 };
  let first: WebRtcTestServer | null = await startWebRtcServer(config, { keepDir: dir });
  let second: WebRtcTestServer | null = null;
  try {
    const { whep_url } = await first.stream();
    const closed = await connectAndClose(first, 'close', whep_url);
    const open = await first.viewer(whep_url);
    await waitFor(closedInLog(first, [closed]), 10_000, 'the first close');
    await waitFor(async () => (await attempts(first!, 'webhook.attempt_failed')).length >= 1, 10_000, 'a failed attempt');
    await first.stop();
    first = null;
    await open.leave();
    await receiver.start();
    second = await startWebRtcServer(config, { keepDir: dir });
    const shutdownClose = (await events(second, ['connection.closed'])).find((e) => e.stream === `connection:${open.connectionId}`);
    assert.is((shutdownClose?.data as { initiator?: string })?.initiator, 'shutdown');
    await receiver.until((r) => Boolean(closedOf(r, closed) && closedOf(r, open.connectionId)), 'both closes');
    await assertExactlyOnce(second, receiver);
    assert.is(closedOf(receiver, open.connectionId)!.body.data.outcome, 'shutdown');
  } finally {
    await first?.stop();
    await second?.stop();
    await receiver.stop();
    cleanup();
  }
});
Restart.run();

// ---------------------------------------------------------------------------

const Slow = suite('webhook delivery to a receiver slower than the timeout');
Slow('gives up on the attempt at the timeout, records it, and sends the same webhook again', async () => {
  const receiver = await startWebhookReceiver();
  receiver.behaviour = (n) => (n === 1 ? { kind: 'hang' } : { kind: 'ok' });
  const server = await startWebRtcServer({ ...fast, webhooks: [receiver.url], webhookTimeoutMs: 300 });
  try {
    const { whep_url } = await server.stream();
    const id = await connectAndClose(server, 'close', whep_url);
    await receiver.until((r) => Boolean(closedOf(r, id)), 'the close');
    const position = closedOf(receiver, id)!.body.position;
    await waitFor(async () => (await attempts(server, 'webhook.delivered')).some((a) => a.position === position), 5000, 'the delivery recorded');
    const timedOut = (await attempts(server, 'webhook.attempt_failed')).find((a) => a.position === position)!;
    assert.is(timedOut.error.code, 'TIMEOUT');
    const delivered = (await attempts(server, 'webhook.delivered')).find((a) => a.position === position)!;
    assert.is(delivered.webhook_id, timedOut.webhook_id, 'the id is stable across attempts');
    assert.ok(delivered.attempt >= 2);
    assert.ok(receiver.requests >= 2);
  } finally {
    await server.stop();
    await receiver.stop();
  }
});
Slow.run();

// ---------------------------------------------------------------------------

const GiveUp = suite('webhook delivery of an event the receiver keeps refusing');
GiveUp('gives it up after the attempts allowed (webhook.failed), counts it, and delivers what follows', async () => {
  const receiver = await startWebhookReceiver();
  let refusing = true;
  receiver.behaviour = () => (refusing ? { kind: 'status', status: 500 } : { kind: 'ok' });
  const server = await startTestServer({ ...fast, webhooks: [receiver.url], webhookMaxAttempts: 2 });
  const hooks = () => webhookEvents(server);
  try {
    const raise = (issueId: string) =>
      server.services.store.append(`issue:${issueId}`, [{ type: 'issue.raised', data: { issue_id: issueId, type: 'stall', severity: 'critical', subject: 'node:edge-1' } }]);
    const refused = await raise('refused');
    await waitFor(async () => (await hooks()).some((e) => e.type === 'webhook.failed'), 5000, 'the give-up');
    refusing = false;
    const accepted = await raise('accepted');
    await receiver.until((r) => r.received.length === 1, 'the next event');
    await waitFor(async () => (await hooks()).some((e) => e.type === 'webhook.delivered'), 5000, 'the delivery recorded');
    assert.is(receiver.received[0].body.data.issue_id, 'accepted');
    assert.is(receiver.received[0].body.subject, 'node:edge-1');
    const recorded = (await hooks()).map((e) => [e.type, (e.data as { position: number }).position, (e.data as { attempt: number }).attempt]);
    assert.equal(recorded, [
      ['webhook.attempt_failed', refused.ok && refused.lastPosition, 1],
      ['webhook.failed', refused.ok && refused.lastPosition, 2],
      ['webhook.delivered', accepted.ok && accepted.lastPosition, 1],
    ]);
    const failed = (await hooks()).find((e) => e.type === 'webhook.failed')!.data as { status: number; error: { code: string } };
    assert.equal([failed.status, failed.error.code], [500, 'HTTP_500']);
    const families = await scrape(server);
    assert.equal(
      ['delivered', 'retrying', 'failed'].map((outcome) => value(families, 'webrtc_webhook_deliveries_total', { outcome })),
      [1, 1, 1],
    );
  } finally {
    await server.stop();
    await receiver.stop();
  }
});
GiveUp.run();
