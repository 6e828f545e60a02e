// The fleet projector (src/fleet/projector.ts) against a real PostgreSQL:
// the node's reducers over the central events, per-node cursors, the
// projection lock, and `fleet rebuild`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshStore, type TestStore } from '../../helpers/db.ts';
import { appendSteps, realisticSteps } from '../../helpers/events.ts';
import { connect, forwarderFor, postgresFor, shippedThrough, silent } from '../../helpers/fleet.ts';
import { waitFor } from '../../helpers/webrtc.ts';
import { catchUp, FleetProjector, rebuildFleet, type ProjectorRole } from '../../../src/fleet/projector.ts';
import { completeSummary, snapshotFleetReadModels } from '../../../src/fleet/readModels.ts';
import { shipBatch } from '../../../src/fleet/ship.ts';
import { migrateCentre } from '../../../src/fleet/migrate.ts';
import { rowToEvent } from '../../../src/log/read.ts';
import { Projector } from '../../../src/projections/sqlite/projector.ts';
import type { CentreClient } from '../../../src/fleet/pg.ts';
import type { Forwarder } from '../../../src/fleet/forwarder.ts';

async function generatedLog(seed: number, events: number): Promise<TestStore> {
  let now = 0;
  const store = await freshStore({ clock: () => now || Date.now() });
  await appendSteps(store.log, realisticSteps(seed, { minEvents: events }), { seed, maxBatch: 20, setNow: (ms) => (now = ms) });
  now = 0;
  return store;
}

/** Each node's own read-model rows, in the centre's shape (node first, JSON text as stored). */
function nodeReadModels(store: TestStore, node: string) {
  const rows = (table: string) => (store.db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as Record<string, unknown>[]).map((r) => JSON.stringify({ node, ...r }));
  return {
    connections: rows('connections'),
    operations: rows('operations'),
    tasks: rows('tasks'),
    summary: [JSON.stringify({ node, state: store.db.prepare('SELECT state FROM summary').pluck().get() })],
  };
}

async function centreReadModels(client: CentreClient, node: string) {
  const rows = async (table: string) =>
    (await client.query(`SELECT * FROM ${table} WHERE node = $1 ORDER BY id`, [node])).rows.map((r) => JSON.stringify(r));
  return {
    connections: await rows('connections'),
    operations: await rows('operations'),
    tasks: await rows('tasks'),
    summary: (await client.query('SELECT * FROM summary WHERE node = $1', [node])).rows.map((r) => JSON.stringify(r)),
  };
}

const Same = suite('fleet projector: the same reducers');
const Pages = suite('fleet projector: paging per node');
const Lock = suite('fleet projector: one at a time');
const cluster = postgresFor(Same, Lock);

const NODES = ['edge-a', 'edge-b', 'edge-c'];
const stores = new Map<string, TestStore>();
let url: string;
let client: CentreClient;
Same.before(async () => {
  url = await cluster.pg.createDatabase();
  client = await connect(url);
  await migrateCentre(client);
  for (const [i, node] of NODES.entries()) stores.set(node, await generatedLog(41 + i, 1500));
});
Same.after(async () => {
  await client.end();
  for (const s of stores.values()) await s.cleanup();
});

Same("gives each node's read models exactly as the node's own projector wrote them, row for row", async () => {
  // Forward all three concurrently while projecting in small pages: the
  // incremental path sees events arrive in many small steps.
  const forwarders: Forwarder[] = NODES.map((node) => forwarderFor(stores.get(node)!.log, url, node, { batchSize: 150 }));
  for (const f of forwarders) f.start();
  let shipping = true;
  const done = Promise.all(forwarders.map((f) => shippedThrough(f))).then(() => (shipping = false));
  while (shipping) if ((await catchUp(client, 37)) === 0) await new Promise((r) => setTimeout(r, 5));
  await done;
  await Promise.all(forwarders.map((f) => f.stop()));
  await catchUp(client, 37);
  for (const node of NODES) {
    const store = stores.get(node)!;
    const central = await centreReadModels(client, node);
    const own = nodeReadModels(store, node);
    assert.ok(own.connections.length > 20 && own.operations.length > 20 && own.tasks.length > 20);
    assert.equal(central, own, `node ${node}`);
  }
});

Same('fleet rebuild gives exactly the incremental result', async () => {
  const incremental = await snapshotFleetReadModels(client);
  assert.is(incremental.summary.length, NODES.length);
  const report = await rebuildFleet(url, { pageSize: 1000 });
  assert.is(report.nodes, NODES.length);
  const total = await client.query<{ n: number }>('SELECT count(*)::integer AS n FROM events');
  assert.is(report.events, total.rows[0].n);
  assert.equal(await snapshotFleetReadModels(client), incremental);
});

Same.run();

Pages('does not skip a batch that commits after a later-positioned batch of another node', async () => {
  const db = await cluster.pg.createDatabase();
  const [x, y, projector] = await Promise.all([connect(db), connect(db), connect(db)]);
  await migrateCentre(projector);
  const nodeX = await generatedLog(51, 300);
  const nodeY = await generatedLog(52, 300);
  try {
    // Node x's batch takes the lower central positions but commits last.
    await x.query('BEGIN');
    await shipBatch(x, 'node-x', await nodeX.log.readLogRows({ after: 0, limit: 300 }));
    await shipBatch(y, 'node-y', await nodeY.log.readLogRows({ after: 0, limit: 300 }));
    const applied = await catchUp(projector, 100);
    assert.is(applied, 300, "only node y's batch is visible yet");
    await x.query('COMMIT');
    const positions = await projector.query<{ node: string; lo: number; hi: number }>(
      'SELECT node, min(position) AS lo, max(position) AS hi FROM events GROUP BY node ORDER BY node',
    );
    const [px, py] = positions.rows;
    assert.ok(px.hi < py.lo, 'x holds the lower central positions: a reader paging by position alone would now be past them');
    assert.is(await catchUp(projector, 100), 300, "node x's batch is projected when it commits");
    const cursors = await projector.query('SELECT node, position FROM fleet_cursors ORDER BY node');
    assert.equal(cursors.rows, [{ node: 'node-x', position: 300 }, { node: 'node-y', position: 300 }]);
  } finally {
    await Promise.all([x.end(), y.end(), projector.end()]);
    await nodeX.cleanup();
    await nodeY.cleanup();
  }
});

Pages.run();

const Upgrade = suite('fleet projector: a centre upgraded under its read models');

/** A summary as versions before the signals counters stored it (no outcomes, stalls, abandoned tasks; traffic by category). */
function olderSummary(state: string): string {
  const s = JSON.parse(state);
  const { stalled: _stalled, ...connections } = s.connections;
  return JSON.stringify({
    event_count: s.event_count,
    log_position: s.log_position,
    connections,
    operations: s.operations,
    tasks: { total: s.tasks.total, pending: s.tasks.pending },
    traffic: { new: s.traffic_total },
  });
}

// A node never goes on from such a summary: its read models carry a version
// and are rebuilt at start when it changes. The fleet's carry none yet, so it
// completes the old summary as it loads it (src/fleet/readModels.ts), and
// goes on from there exactly as the node's projector goes on from the same
// completed summary.
Upgrade("goes on from a summary stored before the newer counters existed as the node's projector goes on from it completed", async () => {
  const client = await connect(await cluster.pg.createDatabase());
  const source = await generatedLog(61, 600);
  const twin = await freshStore();
  try {
    await migrateCentre(client);
    const rows = await source.log.readLogRows({ after: 0, limit: 10_000 });
    const half = Math.floor(rows.length / 2);

    // The centre projects the first half, then its summary row is what an older version wrote.
    await shipBatch(client, 'edge-u', rows.slice(0, half));
    await catchUp(client, 100);
    const stored = (await client.query<{ state: string }>('SELECT state FROM summary WHERE node = $1', ['edge-u'])).rows[0].state;
    await client.query('UPDATE summary SET state = $2::json WHERE node = $1', ['edge-u', olderSummary(stored)]);

    // The node's projector, given the same stored summary at the same point.
    const events = rows.map(rowToEvent);
    const first = new Projector();
    first.apply(twin.db, events.slice(0, half));
    first.flush(twin.db);
    assert.is(twin.db.prepare('SELECT state FROM summary').pluck().get(), stored, "the node's projector wrote the same summary");
    twin.db.prepare('UPDATE summary SET state = ?').run(JSON.stringify(completeSummary(JSON.parse(olderSummary(stored)))));
    const second = new Projector();
    second.apply(twin.db, events.slice(half));
    second.flush(twin.db);

    await shipBatch(client, 'edge-u', rows.slice(half));
    await catchUp(client, 100);
    const fleet = (await client.query<{ state: string }>('SELECT state FROM summary WHERE node = $1', ['edge-u'])).rows[0].state;
    const node = twin.db.prepare('SELECT state FROM summary').pluck().get() as string;
    assert.is(fleet, node);
    assert.is(JSON.parse(fleet).event_count, rows.length, 'every event counted');
  } finally {
    await client.end();
    await source.cleanup();
    await twin.cleanup();
  }
});

Upgrade.run();

Lock('a standby waits while another projects, and takes over from the cursors when that session ends', async () => {
  const db = await cluster.pg.createDatabase();
  const store = await freshStore();
  const assertions = await connect(db);
  const roles = { a: [] as ProjectorRole[], b: [] as ProjectorRole[] };
  const make = (name: 'a' | 'b') =>
    new FleetProjector({ url: db, pageSize: 50, pollMs: 1000, takeoverPollMs: 50, logger: silent, onRole: (r) => roles[name].push(r) });
  const a = make('a');
  const b = make('b');
  const forwarder = forwarderFor(store.log, db, 'edge-l', { batchSize: 40 });
  const append = async (n: number) => {
    for (let i = 0; i < n; i++) await store.log.append(`connection:l${i % 4}`, [{ type: 'connection.error', data: { code: 'E', message: String(i) } }]);
  };
  const projected = async () => (await assertions.query('SELECT position FROM fleet_cursors WHERE node = $1', ['edge-l'])).rows[0]?.position ?? 0;
  try {
    forwarder.start();
    a.start();
    await waitFor(() => a.role === 'projecting', 10_000, 'a to project');
    b.start();
    await waitFor(() => b.role === 'standby', 10_000, 'b to stand by');
    await append(120);
    await shippedThrough(forwarder);
    const head = (await forwarder.status()).shipped_position;
    await waitFor(async () => (await projected()) >= head, 10_000, 'a to project everything');
    assert.ok(a.eventsApplied >= head);
    assert.is(b.eventsApplied, 0, 'the standby applied nothing');

    await a.stop();
    await waitFor(() => b.role === 'projecting', 10_000, 'b to take over');
    await append(120);
    await shippedThrough(forwarder);
    const head2 = (await forwarder.status()).shipped_position;
    await waitFor(async () => (await projected()) >= head2, 10_000, 'b to project the rest');
    assert.is(b.eventsApplied, head2 - head, 'b went on from the cursor: nothing applied twice, nothing skipped');
    assert.equal(roles.a, ['projecting', 'stopped']);
    assert.equal(roles.b, ['standby', 'projecting']);

    await b.stop();
    const incremental = await snapshotFleetReadModels(assertions);
    await rebuildFleet(db);
    assert.equal(await snapshotFleetReadModels(assertions), incremental);
  } finally {
    await forwarder.stop();
    await a.stop();
    await b.stop();
    await assertions.end();
    await store.cleanup();
  }
});

Lock('fleet rebuild refuses while a projector holds the lock', async () => {
  const db = await cluster.pg.createDatabase();
  const p = new FleetProjector({ url: db, pageSize: 50, pollMs: 1000, takeoverPollMs: 50, logger: silent });
  try {
    p.start();
    await waitFor(() => p.role === 'projecting', 10_000, 'the projector to project');
    try {
      await rebuildFleet(db);
      assert.unreachable('rebuild ran beside a projector');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'CONFLICT');
      assert.match((err as Error).message, 'fleet project');
    }
  } finally {
    await p.stop();
  }
});

Lock.run();
