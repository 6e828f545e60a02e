// The forwarder against a real PostgreSQL started for this file: a real
// SQLite log on one side, the central database on the other.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshStore, type TestStore } from '../../helpers/db.ts';
import { appendSteps, realisticSteps } from '../../helpers/events.ts';
import { assertCentreHolds, checkpointPosition, connect, forwarderFor, localRows, postgresFor, shippedThrough } from '../../helpers/fleet.ts';
import { waitFor } from '../../helpers/webrtc.ts';
import { FORWARDER_CONSUMER } from '../../../src/fleet/forwarder.ts';
import type { CentreClient } from '../../../src/fleet/pg.ts';

/** A node's log of at least `events` generated events. */
async function nodeLog(seed: number, events: number): Promise<TestStore> {
  let now = 0;
  const store = await freshStore({ clock: () => (now ? now : Date.now()) });
  await appendSteps(store.log, realisticSteps(seed, { minEvents: events }), { seed, setNow: (ms) => (now = ms) });
  now = 0; // from here on the real clock: lag is measured against it
  return store;
}

const forwarderEvents = (store: TestStore, node: string) => store.log.readLog({ limit: 1000, stream: `forwarder:${node}` });

const Ship = suite('Forwarder: shipping');
const Outage = suite('Forwarder: the centre goes away');
const cluster = postgresFor(Ship, Outage);

let store: TestStore;
let url: string;
let client: CentreClient;
Ship.before(async () => {
  store = await nodeLog(11, 2500);
  url = await cluster.pg.createDatabase();
  client = await connect(url);
});
Ship.after(async () => {
  await client.end();
  await store.cleanup();
});

Ship('ships the whole log in order, in batches of one statement each, byte for byte', async () => {
  const head = localRows(store.db).length;
  const forwarder = forwarderFor(store.log, url, 'edge-a', { batchSize: 400 });
  forwarder.start();
  await shippedThrough(forwarder, head);
  await forwarder.stop();
  const status = (await forwarder.status());
  // The forwarder's own state changes went out too. The generated log is
  // months old, so after the first batch the forwarder is behind.
  const states = await forwarderEvents(store, 'edge-a');
  assert.equal(states.map((e) => e.type), ['forwarder.connected', 'forwarder.behind', 'forwarder.caught_up']);
  assert.ok(states[1].type === 'forwarder.behind' && states[1].data.lag_events === head + 1 - 400);
  const all = localRows(store.db);
  assert.is(all.length, head + 3);
  assert.is(status.shipped_position, all.length);
  // Full pages and one short one; then `caught_up` on its own.
  assert.is(status.batches, Math.ceil((head + 2) / 400) + 1);
  assert.is(status.events_shipped, all.length);
  assert.is(status.duplicates, 0);
  await assertCentreHolds(client, 'edge-a', all);
  const node = await client.query('SELECT head_position FROM nodes WHERE node = $1', ['edge-a']);
  assert.is(node.rows[0].head_position, all.length);
  assert.is(await checkpointPosition(store.log, FORWARDER_CONSUMER), all.length);
});

Ship('absorbs a batch sent again after its checkpoint was lost, and checks it is the same', async () => {
  const all = localRows(store.db);
  // As if the process died after the centre committed and before the checkpoint moved.
  await store.log.writeCheckpoint(FORWARDER_CONSUMER, store.log.checkpointAt(all.length - 450));
  const forwarder = forwarderFor(store.log, url, 'edge-a', { batchSize: 400 });
  forwarder.start();
  await shippedThrough(forwarder, all.length);
  await forwarder.stop();
  const status = (await forwarder.status());
  assert.is(status.duplicates, 450);
  const connected = (await forwarderEvents(store, 'edge-a')).filter((e) => e.type === 'forwarder.connected').at(-1);
  assert.equal(connected?.data, {
    node: 'edge-a',
    target: url,
    resume_after: all.length - 450,
    centre_position: all.length,
    outage_ms: null,
    failed_attempts: 0,
  });
  await assertCentreHolds(client, 'edge-a', localRows(store.db));
});

Ship('refuses to merge a second log into a node name another log forwards under', async () => {
  const other = await nodeLog(12, 300);
  try {
    const before = await client.query('SELECT count(*)::integer AS n FROM events');
    const forwarder = forwarderFor(other.log, url, 'edge-a');
    forwarder.start();
    await waitFor(async () => (await forwarder.status()).state === 'failing', 10_000, 'the forwarder to fail');
    await forwarder.stop();
    assert.is((await forwarder.status()).last_error?.code, 'CONFLICT');
    assert.match((await forwarder.status()).last_error!.message, '--node-id');
    const failing = (await forwarderEvents(other, 'edge-a')).find((e) => e.type === 'forwarder.failing');
    assert.is(failing?.type === 'forwarder.failing' && failing.data.error.code, 'CONFLICT');
    const after = await client.query('SELECT count(*)::integer AS n FROM events');
    assert.is(after.rows[0].n, before.rows[0].n, 'nothing of the second log went in');
    await assertCentreHolds(client, 'edge-a', localRows(store.db));
    assert.is(await checkpointPosition(other.log, FORWARDER_CONSUMER), 0, 'its checkpoint did not move');
  } finally {
    other.cleanup();
  }
});

Ship('sends everything again to a central database that holds less than was shipped', async () => {
  const fresh = await cluster.pg.createDatabase();
  const freshClient = await connect(fresh);
  try {
    const shipped = await checkpointPosition(store.log, FORWARDER_CONSUMER);
    assert.ok(shipped > 2000);
    const forwarder = forwarderFor(store.log, fresh, 'edge-a', { batchSize: 1000 });
    forwarder.start();
    await shippedThrough(forwarder);
    await forwarder.stop();
    const connected = (await forwarderEvents(store, 'edge-a')).filter((e) => e.type === 'forwarder.connected').at(-1);
    assert.is(connected?.type === 'forwarder.connected' && connected.data.resume_after, 0);
    await assertCentreHolds(freshClient, 'edge-a', localRows(store.db, (await forwarder.status()).shipped_position));
  } finally {
    await freshClient.end();
  }
});

Ship.run();

let live: TestStore;
let outageUrl: string;
let outageClient: CentreClient;
Outage.before(async () => {
  live = await freshStore();
  outageUrl = await cluster.pg.createDatabase();
});
Outage.after(async () => {
  await outageClient?.end();
  await live.cleanup();
});

Outage('keeps appending while the centre is down, retries with backoff, then catches up with no gap and no duplicate', async () => {
  const forwarder = forwarderFor(live.log, outageUrl, 'edge-b', { batchSize: 50, behindAfterMs: 1 });
  forwarder.start();
  // A producer that appends a few events a tick until told to stop.
  let producing = true;
  let committed = 0;
  const produce = (async () => {
    for (let i = 0; producing; i++) {
      const results = await Promise.all(
        Array.from({ length: 3 }, (_, k) => live.log.append(`connection:c${(i + k) % 7}`, [{ type: 'connection.error', data: { code: 'E', message: `${i}.${k}` } }])),
      );
      for (const r of results) if (!r.ok) throw new Error('an append conflicted');
      committed += results.length;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await waitFor(async () => (await forwarder.status()).state === 'caught_up' && (await forwarder.status()).shipped_position > 30, 10_000, 'the first events to ship');
    await cluster.pg.stop('immediate');
    await waitFor(async () => (await forwarder.status()).state === 'failing', 10_000, 'the forwarder to notice');
    const atOutage = committed;
    // Several attempts fail while appends go on committing: the log never waits for the centre.
    await waitFor(async () => (await forwarder.status()).failures >= 3 && committed >= atOutage + 200, 20_000, 'failed attempts and local appends');
    const down = (await forwarder.status());
    assert.is(down.state, 'failing');
    assert.ok(down.lag_events >= 200, `lag ${down.lag_events}`);
    assert.ok(down.lag_seconds > 0);
    await cluster.pg.start();
    await waitFor(async () => (await forwarder.status()).state === 'caught_up', 20_000, 'the forwarder to catch up');
  } finally {
    producing = false;
    await produce;
  }
  await shippedThrough(forwarder);
  await forwarder.stop();

  const states = await forwarderEvents(live, 'edge-b');
  const types = states.map((e) => e.type);
  assert.is(types.filter((t) => t === 'forwarder.failing').length, 1, `one failing for the whole outage: ${types}`);
  const failing = types.indexOf('forwarder.failing');
  const after = types.slice(failing + 1);
  assert.is(after[0], 'forwarder.connected', types.join(', '));
  assert.ok(after.includes('forwarder.behind'), `the backlog took more than one batch: ${types}`);
  assert.is(after.at(-1), 'forwarder.caught_up');
  const reconnected = states[failing + 1];
  assert.ok(reconnected.type === 'forwarder.connected' && reconnected.data.outage_ms! > 0 && reconnected.data.failed_attempts >= 3);
  const caughtUp = states.at(-1)!;
  assert.ok(caughtUp.type === 'forwarder.caught_up' && caughtUp.data.behind_ms !== null);

  outageClient = await connect(outageUrl);
  await assertCentreHolds(outageClient, 'edge-b', localRows(live.db, (await forwarder.status()).shipped_position));
  assert.is((await forwarder.status()).shipped_position, (await forwarder.status()).head_position);
});

Outage.run();
