// The forwarder as the node's HTTP surface shows it (summary and /metrics),
// here with a central database that refuses connections: nothing listens on
// the port. The suites in test/interop/fleet/ run it against a real one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { MONITOR, waitFor } from '../helpers/webrtc.ts';
import { FORWARDER_CONSUMER } from '../../src/fleet/forwarder.ts';

/** A port nothing listens on: bound and released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Samples of one metric family from the exposition text, as `labels -> value`. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) out.set(m[1] ?? '', Number(m[2]));
  return out;
}

const Off = suite('a node that does not forward');
let plain: TestServer;
Off.before(async () => {
  plain = await startTestServer();
});
Off.after(() => plain.stop());

Off('shows no forwarder in the summary and no webrtc_forwarder_ series', async () => {
  const summary = await (await plain.api(`${MONITOR}/summary`)).json();
  assert.is(summary.forwarder, null);
  const text = await (await plain.api('/metrics')).text();
  assert.not.match(text, 'webrtc_forwarder_');
  assert.is(plain.forwarder, null);
});

Off.run();

const Down = suite('a node whose centre refuses connections');
let node: TestServer;
Down.before(async () => {
  const url = `postgres://monitor:s3cret@127.0.0.1:${await closedPort()}/fleet`;
  node = await startTestServer({ forwardTo: url, nodeId: 'edge-down', forwardBackoffInitialMs: 5, forwardBackoffMaxMs: 20 });
});
Down.after(() => node.stop());

Down('keeps appending, records failing once however often it retries, and reports its lag', async () => {
  const { store: log } = node.services;
  const failing = () => log.readLog({ limit: 100, stream: 'forwarder:edge-down' });
  // Wait for the forwarder to have tried (and failed) a few times: events, not time.
  await waitFor(async () => (await node.forwarder!.status()).failures >= 4, 10_000, 'four failed attempts');
  for (let i = 0; i < 50; i++) {
    const r = await log.append(`connection:c${i % 5}`, [{ type: 'connection.error', data: { code: 'E', message: String(i) } }]);
    assert.ok(r.ok, 'every append commits while the centre is down');
  }
  const recorded = await failing();
  assert.equal(recorded.map((e) => e.type), ['forwarder.failing']);
  const event = recorded[0];
  assert.is(event.type === 'forwarder.failing' && event.data.error.code, 'ECONNREFUSED');
  assert.is(event.type === 'forwarder.failing' && event.data.target.includes('s3cret'), false, 'the password is never recorded');

  const status = await node.forwarder!.status();
  assert.is(status.state, 'failing');
  assert.is(status.shipped_position, 0);
  assert.ok(status.lag_events >= 51, `lag ${status.lag_events}`);
  assert.is(status.lag_events, status.head_position);

  const summary = await (await node.api(`${MONITOR}/summary`)).json();
  assert.is(summary.forwarder.node, 'edge-down');
  assert.is(summary.forwarder.state, 'failing');
  assert.ok(summary.forwarder.lag_events >= 51);
  assert.ok(summary.forwarder.lag_seconds >= 0);
  assert.not.match(JSON.stringify(summary.forwarder), 's3cret');

  const text = await (await node.api('/metrics')).text();
  assert.equal([...samples(text, 'webrtc_forwarder_state')].filter(([, v]) => v === 1), [['{state="failing"}', 1]]);
  assert.is(samples(text, 'webrtc_forwarder_state').size, 6, 'one series per state, always');
  assert.ok(samples(text, 'webrtc_forwarder_lag_events').get('')! >= 51);
  assert.ok(samples(text, 'webrtc_forwarder_failures_total').get('')! >= 4);
  assert.is(samples(text, 'webrtc_forwarder_events_shipped_total').get(''), 0);
  assert.is(samples(text, 'webrtc_forwarder_info').get('{node="edge-down"}'), 1);
});

Down('keeps every event not yet shipped from prune', async () => {
  const { store } = node.services;
  assert.is(store.positionOf((await store.readCheckpoint(FORWARDER_CONSUMER))!), 0);
  try {
    // Through the server's own store: another process may not prune while the server holds the database.
    await store.prune({ throughPosition: 10 });
    assert.unreachable('prune passed the forwarder checkpoint');
  } catch (err) {
    assert.match((err as Error).message, 'nothing to prune');
  }
  assert.is((await store.readLog({ limit: 1 }))[0].position, 1);
});

Down.run();
