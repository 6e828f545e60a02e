// The fleet's SQL views (migrations/pg/0001_views.sql) against the node's
// (migrations/0001_views.sql): the same views, the same columns with `node`
// first, and, over forwarded logs, the same rows for each node.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshStore, type TestStore } from '../../helpers/db.ts';
import { appendSteps, realisticSteps } from '../../helpers/events.ts';
import { connect, forwarderFor, postgresFor, shippedThrough } from '../../helpers/fleet.ts';
import { catchUp } from '../../../src/fleet/projector.ts';
import type { CentreClient } from '../../../src/fleet/pg.ts';

import { TraceSession } from '../../../src/telemetry/session.ts';
import { chromeReport, deltaCompression } from '../../helpers/rtcstats.ts';

const Views = suite('fleet SQL views');
const cluster = postgresFor(Views);

const NODES = ['edge-a', 'edge-b'];
const stores = new Map<string, TestStore>();
let client: CentreClient;

Views.before(async () => {
  const url = await cluster.pg.createDatabase();
  for (const [i, node] of NODES.entries()) {
    let now = 0;
    const store = await freshStore({ clock: () => now || Date.now() });
    await appendSteps(store.log, realisticSteps(31 + i, { minEvents: 1500 }), { seed: 31 + i, maxBatch: 5, setNow: (ms) => (now = ms) });
    // A viewer-side trace, for the viewer views.
    const session = new TraceSession(`s-${node}`, store.log, { source: 'rtcstats', meeting: null, userAgent: null, obfuscateIps: false }, { maxPeers: 2 }, () => null);
    await session.handleEntry({ method: 'create', pcId: 'PC_0', value: {}, clientTs: 1, seq: 1 });
    let prev = {};
    for (let t = 0; t < 5; t++) {
      now += 1000;
      const report = chromeReport(t + i);
      await session.handleEntry({ method: 'getstats', pcId: 'PC_0', value: deltaCompression(prev, report), clientTs: null, seq: t + 2 });
      prev = report;
    }
    now = 0;
    const forwarder = forwarderFor(store.log, url, node, { batchSize: 500 });
    forwarder.start();
    await shippedThrough(forwarder);
    await forwarder.stop();
    stores.set(node, store);
  }
  client = await connect(url);
  await catchUp(client, 700);
});
Views.after(async () => {
  await client.end();
  for (const s of stores.values()) await s.cleanup();
});

/** Each view of the node's database and its columns, in order. */
function nodeViews(store: TestStore): Map<string, string[]> {
  const names = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name").pluck().all() as string[];
  return new Map(names.map((n) => [n, (store.db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(n) as string[])]));
}

Views('has every view of the node, with its columns in the same order after `node`', async () => {
  const { rows } = await client.query<{ view: string; columns: string[] }>(
    `SELECT c.table_name AS view, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
     FROM information_schema.columns c JOIN information_schema.views v ON v.table_schema = c.table_schema AND v.table_name = c.table_name
     WHERE c.table_schema = 'public' GROUP BY c.table_name ORDER BY c.table_name`,
  );
  const expected = [...nodeViews(stores.get('edge-a')!)].map(([view, columns]) => ({ view, columns: ['node', ...columns] }));
  assert.ok(expected.length >= 5, `${expected.length} views on the node`);
  assert.equal(rows, expected);
});

/** A row with JSON text parsed, so both dialects' rows compare as values. */
function normal(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = (k === 'data' || k === 'meta') && typeof v === 'string' ? JSON.parse(v) : v;
  return out;
}
const sorted = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(normal(r))).sort();

Views("answers, for each node, exactly the rows the node's own views answer", async () => {
  for (const [node, store] of stores) {
    for (const [view, columns] of nodeViews(store)) {
      const local = store.db.prepare(`SELECT * FROM ${view}`).all() as Record<string, unknown>[];
      const { rows } = await client.query(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${view} WHERE node = $1`, [node]);
      assert.ok(local.length > 0, `${view} has rows on ${node}`);
      const a = sorted(rows);
      const b = sorted(local);
      assert.is(a.length, b.length, `${view} on ${node}: ${a.length} rows, the node has ${b.length}`);
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fixture(a[i], b[i], `${view} on ${node}`);
    }
  }
});

Views('answers over the whole fleet when no node is named', async () => {
  const { rows } = await client.query<{ node: string; n: number }>('SELECT node, count(*)::integer AS n FROM stats_samples GROUP BY node ORDER BY node');
  const expected = NODES.map((node) => ({
    node,
    n: stores.get(node)!.db.prepare("SELECT count(*) FROM events WHERE type = 'connection.stats_sampled'").pluck().get() as number,
  }));
  assert.equal(rows, expected);
});

Views.run();
