// The fleet end to end: three `serve --forward-to` node processes with real
// werift viewers over WHEP, one PostgreSQL started for this file, and two
// `fleet serve` processes (each projects when it holds the lock, stands by
// otherwise, and serves the monitor API over every node). Every scenario
// ends with the same checks, once the load has stopped: the central events
// are the union of the nodes' logs (no gap, no duplicate, byte for byte),
// the fleet read models are each node's own, the fleet API agrees with each
// node's own API, the live feed delivered every node's events once, and the
// read models equal what `fleet rebuild` makes of the central log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { tempDir } from '../../helpers/db.ts';
import { runCli, startCli, startCliServer, type CliProcess } from '../../helpers/cli.ts';
import { assertCentreHolds, connect, localRows, postgresFor } from '../../helpers/fleet.ts';
import { openSse, type SseClient } from '../../helpers/sse.ts';
import { CONTENT_DIR, MONITOR, WEBRTC, waitFor } from '../../helpers/webrtc.ts';
import { connectViewer, type Viewer } from '../../../src/webrtc/viewer.ts';
import { openReadOnly } from '../../../src/log/open.ts';
import { nodesWithWork } from '../../../src/fleet/projector.ts';
import { snapshotFleetReadModels } from '../../../src/fleet/readModels.ts';
import type { CentreClient } from '../../../src/fleet/pg.ts';

const NODES = ['node-a', 'node-b', 'node-c'] as const;
type NodeName = (typeof NODES)[number];
type Node = { name: NodeName; path: string; proc: ReturnType<typeof startCliServer>; url: string; viewers: Viewer[] };
type FleetProcess = CliProcess & { url: string };

const Fleet = suite('the fleet, end to end');
const cluster = postgresFor(Fleet);

let scratch: ReturnType<typeof tempDir>;
let centre: string;
let client: CentreClient;
const nodes = new Map<NodeName, Node>();
let projectors: FleetProcess[] = [];
/** Follows the fleet's live feed across every scenario; restarted with its last id when its fleet process goes. */
let feed: FeedFollower;

async function startNode(name: NodeName): Promise<Node> {
  const path = join(scratch.dir, `${name}.db`);
  const proc = startCliServer([
    '--port', '0', '--persistence-path', path, '--content-dir', CONTENT_DIR, '--stats-interval', '100',
    '--forward-to', centre, '--node-id', name, '--forward-backoff-max', '250',
  ], { startTimeoutMs: 120_000 });
  const node: Node = { name, path, proc, url: await proc.url, viewers: [] };
  nodes.set(name, node);
  return node;
}

async function call(node: Node, path: string, init: { method?: string; json?: unknown } = {}) {
  const res = await fetch(node.url + path, {
    method: init.method ?? 'GET',
    headers: init.json === undefined ? {} : { 'content-type': 'application/json' },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${path} on ${node.name} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

const summary = (node: Node) => call(node, `${MONITOR}/summary`);

/** Load: a media stream on the node and `count` werift viewers through WHEP, sampled every 100 ms. */
async function watch(node: Node, count = 2) {
  const stream = await call(node, `${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' } });
  for (let i = 0; i < count; i++) node.viewers.push(await connectViewer(stream.whep_url, { expect: 'media', timeoutMs: 20_000 }));
}

/** Waits until the node's log has grown by `events` past `from`. */
async function grown(node: Node, from: number, events: number) {
  await waitFor(async () => (await summary(node)).log_position >= from + events, 30_000, `${node.name} to record ${events} more events`);
}

/** Viewers of a node that is gone cannot hang up: close their side only. */
async function dropViewers(node: Node) {
  await Promise.all(node.viewers.map((v) => v.pc.close().catch(() => {})));
  node.viewers = [];
}

async function startProjector(): Promise<FleetProcess> {
  const p = startCli(['fleet', 'serve', '--database-url', centre, '--port', '0']);
  // Loading the CLI and the HTTP stack takes seconds on a busy machine.
  const line = await p.waitForLine(/^fleet monitor listening on /, 120_000);
  const fleet = Object.assign(p, { url: line.replace(/^fleet monitor listening on (\S+).*$/, '$1') });
  projectors.push(fleet);
  await p.waitForLine(/^fleet projector (projecting|standby)/);
  return fleet;
}

/** A fleet process that is still running, for API calls. */
const anyFleet = () => projectors[projectors.length - 1];

async function fleetCall(path: string, fleet: FleetProcess = anyFleet()) {
  const res = await fetch(fleet.url + path);
  const body = await res.json();
  if (!res.ok) throw new Error(`${path} on the fleet answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * The fleet's SSE feed, followed from where the fleet stood when it began:
 * every event of every node after that must arrive once, in each node's
 * order, with its node. Reconnects with the last id it got when its fleet
 * process is stopped or killed.
 */
class FeedFollower {
  readonly seen = new Map<string, number[]>();
  start!: Map<string, number>;
  private client: SseClient | null = null;
  private ended = false;
  private lastId: string | null = null;

  async open() {
    // Resumes from the last event received, or (none yet) from where it began.
    const resume = this.lastId ?? (this.start ? [...this.start].map(([n, p]) => `${n}:${p}`).join(',') : null);
    const headers: Record<string, string> = resume === null ? {} : { 'last-event-id': resume };
    const fleet = anyFleet();
    this.client = await openSse(`${fleet.url}${MONITOR}/events/stream?heartbeat_ms=1000`, headers);
    assert.is(this.client.status, 200);
    this.ended = false;
    void this.client.ended.then(() => (this.ended = true));
    if (!this.start) {
      await this.client.waitFor((frames) => frames.some((f) => f.comment?.startsWith('following the fleet after')));
      const comment = this.client.frames.find((f) => f.comment?.startsWith('following the fleet after'))!.comment!;
      const text = comment.replace('following the fleet after ', '');
      this.start = new Map(text === 'the start' ? [] : text.split(',').map((p) => [p.split(':')[0], Number(p.split(':')[1])] as [string, number]));
    }
    const client = this.client;
    let taken = 0;
    const take = () => {
      for (; taken < client.frames.length; taken++) {
        const f = client.frames[taken];
        if (f.data === null) continue;
        const e = JSON.parse(f.data) as { node: string; position: number };
        (this.seen.get(e.node) ?? this.seen.set(e.node, []).get(e.node)!).push(e.position);
        this.lastId = f.id;
      }
    };
    this.take = take;
  }

  take = () => {};

  /** Waits until every node's events through `heads` have arrived, reopening if the fleet process went away. */
  async through(heads: Map<string, number>) {
    await waitFor(async () => {
      this.take();
      if (this.ended) await this.open();
      return [...heads].every(([node, head]) => (this.seen.get(node)?.at(-1) ?? this.start.get(node) ?? 0) >= head);
    }, 60_000, 'the live feed to deliver every node\'s events');
    for (const [node, positions] of this.seen) {
      const from = this.start.get(node) ?? 0;
      const expected = Array.from({ length: positions.length }, (_, i) => from + 1 + i);
      assert.equal(positions, expected, `the live feed: ${node}'s events once each, in order, from ${from + 1}`);
    }
  }

  close() {
    this.client?.close();
  }
}

/** Two projectors, one projecting and one standing by; started one after the other so which is which is known. */
async function startProjectors() {
  const first = await startProjector();
  await first.waitForLine(/^fleet projector projecting/);
  const second = await startProjector();
  await second.waitForLine(/^fleet projector standby/);
  return { projecting: first, standby: second };
}

async function stopProjectors() {
  await Promise.all(projectors.map((p) => p.stop()));
  projectors = [];
}

/**
 * Stops the load, waits until every node has shipped its whole log and the
 * projector has applied it, then checks the union, the read models per node,
 * and the read models against `fleet rebuild`.
 */
async function settleAndCompare(what: string) {
  await Promise.all([...nodes.values()].map(async (node) => {
    await Promise.all(node.viewers.map((v) => v.close()));
    node.viewers = [];
    await waitFor(async () => {
      const c = (await summary(node)).connection_states;
      return c.new + c.connecting + c.connected + c.disconnected === 0;
    }, 30_000, `${node.name}'s connections to end`);
    // Nothing produces any more: once the forwarder is caught up with no lag, its own events are shipped too.
    await waitFor(async () => {
      const f = (await summary(node)).forwarder;
      return f.state === 'caught_up' && f.lag_events === 0;
    }, 60_000, `${node.name}'s forwarder to ship everything`);
  }));
  for (const node of nodes.values()) {
    const db = openReadOnly(node.path);
    try {
      await assertCentreHolds(client, node.name, localRows(db));
    } finally {
      db.close();
    }
  }
  const known = await client.query<{ node: string }>('SELECT node FROM nodes ORDER BY node');
  assert.equal(known.rows.map((r) => r.node), [...NODES], `${what}: the centre holds these nodes and no other`);

  await waitFor(async () => (await nodesWithWork(client)).length === 0, 60_000, 'the projector to apply every central event');
  for (const node of nodes.values()) await assertReadModelsAreTheNodes(node);
  await assertFleetApiAgrees(what);
  const { rows: heads } = await client.query<{ node: string; position: number }>('SELECT node, position FROM fleet_cursors');
  await feed.through(new Map(heads.map((r) => [r.node, r.position])));

  await stopProjectors();
  const incremental = await snapshotFleetReadModels(client);
  const rebuilt = await runCli(['fleet', 'rebuild', '--database-url', centre], { timeoutMs: 60_000 });
  assert.is(rebuilt.code, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /rebuilt the fleet read models from \d+ events of 3 nodes/);
  assert.equal(await snapshotFleetReadModels(client), incremental, `${what}: fleet rebuild equals the incremental read models`);
  await startProjectors();
}

const without = <T extends Record<string, unknown>>(o: T, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

/** The fleet API answers for each node what the node's own API answers, and its summary is their sum. */
async function assertFleetApiAgrees(what: string) {
  const total = { connections: 0, events: 0 };
  for (const node of nodes.values()) {
    const own = await summary(node);
    const fleet = await fleetCall(`${MONITOR}/summary?node=${node.name}`);
    for (const field of ['connection_states', 'connection_outcomes', 'operation_stats', 'task_count', 'event_count', 'log_position']) {
      assert.equal(fleet[field], own[field], `${what}: ${node.name}'s summary ${field}`);
    }
    assert.is(fleet.nodes.length, 1);
    assert.is(fleet.nodes[0].node, node.name);
    assert.is(fleet.nodes[0].lag_events, 0, `${what}: ${node.name} shows no lag once everything is projected`);
    total.connections += own.connection_states.total;
    total.events += own.event_count;

    const ownList = await call(node, `${MONITOR}/connections?include_closed=true&limit=1000`);
    const fleetList = await fleetCall(`${MONITOR}/connections?include_closed=true&limit=1000&node=${node.name}`);
    assert.equal(Object.keys(fleetList.connections), Object.keys(ownList.connections), `${what}: ${node.name}'s connections, newest first`);
    for (const [id, c] of Object.entries(fleetList.connections as Record<string, Record<string, unknown>>)) {
      assert.is(c.node, node.name);
      assert.equal(without(c, 'node'), ownList.connections[id], `${what}: connection ${id} as ${node.name} shows it`);
    }
    const ownOps = await call(node, `${MONITOR}/operations?status=all&limit=1000`);
    const fleetOps = await fleetCall(`${MONITOR}/operations?status=all&limit=1000&node=${node.name}`);
    assert.equal(fleetOps.operations.map((o: Record<string, unknown>) => without(o, 'node')), ownOps.operations, `${what}: ${node.name}'s operations`);
    const ownTasks = await call(node, `${MONITOR}/tasks?status=all&limit=1000`);
    const fleetTasks = await fleetCall(`${MONITOR}/tasks?status=all&limit=1000&node=${node.name}`);
    assert.is(fleetTasks.count, ownTasks.count, `${what}: ${node.name}'s task count`);

    // Time travel: a connection as it was at its second event, on both.
    const id = Object.keys(ownList.connections)[0];
    if (id) {
      const detail = await call(node, `${MONITOR}/connections/${id}?events_limit=2`);
      const at = detail.timeline.events[1]?.position ?? detail.timeline.events[0].position;
      const ownThen = await call(node, `${MONITOR}/connections/${id}?at=${at}`);
      const fleetThen = await fleetCall(`${MONITOR}/connections/${id}?at=${at}&node=${node.name}`);
      assert.equal(without(fleetThen.connection, 'node'), ownThen.connection, `${what}: ${id} at ${at}`);
      assert.equal(fleetThen.timeline.events.map((e: Record<string, unknown>) => without(e, 'node')), ownThen.timeline.events);
      assert.ok(fleetThen.timeline.events.every((e: { node: string }) => e.node === node.name));
    }
  }
  const all = await fleetCall(`${MONITOR}/summary`);
  assert.is(all.connection_states.total, total.connections, `${what}: the fleet summary is the sum of the nodes'`);
  assert.is(all.event_count, total.events);
  assert.equal(all.nodes.map((n: { node: string }) => n.node), [...NODES]);
  const unfiltered = await fleetCall(`${MONITOR}/connections?include_closed=true&limit=1000`);
  assert.is(unfiltered.count, total.connections, `${what}: every node's connections without ?node=`);
}

/** The fleet's rows for a node are the node's own read-model rows, byte for byte. */
async function assertReadModelsAreTheNodes(node: Node) {
  const db = openReadOnly(node.path);
  try {
    for (const table of ['connections', 'connection_stats', 'operations', 'tasks']) {
      const own = (db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as object[]).map((r) => JSON.stringify({ node: node.name, ...r }));
      const fleet = (await client.query(`SELECT * FROM ${table} WHERE node = $1 ORDER BY id`, [node.name])).rows.map((r) => JSON.stringify(r));
      assert.equal(fleet, own, `${node.name} ${table}`);
    }
    const own = db.prepare('SELECT state FROM summary').pluck().get();
    const fleet = (await client.query('SELECT state FROM summary WHERE node = $1', [node.name])).rows[0]?.state;
    assert.is(fleet, own, `${node.name} summary`);
  } finally {
    db.close();
  }
}

/** Starts the centre again; the test's own session did not survive the stop. */
async function restartCentre() {
  await cluster.pg.start();
  await client.end().catch(() => {});
  client = await connect(centre);
}

const forwarderEvents = (node: Node) => {
  const db = openReadOnly(node.path);
  try {
    return db.prepare('SELECT type, data FROM events WHERE stream = ? ORDER BY position').all(`forwarder:${node.name}`) as { type: string; data: string }[];
  } finally {
    db.close();
  }
};

Fleet.before(async () => {
  try {
    await arrange();
  } catch (err) {
    // uvu reports a failed hook as 0 passed, without the error.
    console.error('the fleet suite could not start:', err);
    throw err;
  }
});

async function arrange() {
  scratch = tempDir('wrm-fleet-');
  centre = await cluster.pg.createDatabase();
  // One after the other: three CLI processes loading at once on a busy machine miss the start-up timeout.
  for (const name of NODES) await startNode(name);
  client = await connect(centre);
  await startProjectors();
  feed = new FeedFollower();
  await feed.open();
}

Fleet.after(async () => {
  feed?.close();
  await stopProjectors();
  for (const node of nodes.values()) {
    await dropViewers(node);
    await node.proc.stop();
  }
  await client?.end();
  scratch.cleanup();
});

Fleet('three nodes with real viewers forward to one database', async () => {
  for (const node of nodes.values()) {
    const before = (await summary(node)).log_position;
    await watch(node);
    await grown(node, before, 40);
  }
  for (const node of nodes.values()) assert.is((await summary(node)).forwarder.node, node.name);
  await settleAndCompare('three nodes');
});

Fleet('the centre stopped and restarted mid-load: every local append commits, the backlog drains', async () => {
  for (const node of nodes.values()) await watch(node);
  const atStop = new Map<NodeName, number>();
  await cluster.pg.stop('immediate');
  for (const node of nodes.values()) atStop.set(node.name, (await summary(node)).log_position);
  for (const node of nodes.values()) {
    await waitFor(async () => (await summary(node)).forwarder.state === 'failing', 30_000, `${node.name} to notice`);
    // The load goes on, and every event commits locally while the centre is away.
    await grown(node, atStop.get(node.name)!, 30);
    assert.ok((await summary(node)).forwarder.lag_events >= 30);
  }
  await restartCentre();
  for (const node of nodes.values()) {
    await waitFor(async () => {
      const f = (await summary(node)).forwarder;
      return f.state === 'caught_up' && f.shipped_position >= atStop.get(node.name)! + 30;
    }, 60_000, `${node.name} to catch up`);
    const states = forwarderEvents(node).map((e) => e.type);
    const failing = states.lastIndexOf('forwarder.failing');
    assert.ok(failing > 0 && states.slice(failing + 1)[0] === 'forwarder.connected', states.join(', '));
    const reconnected = JSON.parse(forwarderEvents(node)[failing + 1].data);
    assert.ok(reconnected.outage_ms > 0, `the outage lasted ${reconnected.outage_ms} ms`);
  }
  await settleAndCompare('the centre restarted');
});

Fleet('a forwarder killed mid-batch: the restarted node sends the batch again, and the centre absorbs it', async () => {
  const b = nodes.get('node-b')!;
  await watch(b);
  // Hold every insert into events, catch node-b's forwarder waiting inside its statement, and kill the node there.
  const holder = await connect(centre);
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE events IN SHARE MODE');
    await waitFor(async () => {
      const { rows } = await client.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'webrtc-monitor forwarder node-b' AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO events%'",
      );
      return rows.length === 1;
    }, 30_000, "node-b's forwarder to be mid-batch");
    await b.proc.kill('SIGKILL');
    await dropViewers(b);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  const restarted = await startNode('node-b');
  await waitFor(async () => (await summary(restarted)).forwarder.duplicates > 0, 30_000, 'the batch in flight at the kill to be sent again');
  const s = await summary(restarted);
  assert.ok(s.forwarder.duplicates <= 1000, `${s.forwarder.duplicates} duplicates: at most the batch in flight`);
  await watch(restarted);
  await grown(restarted, s.log_position, 20);
  await settleAndCompare('a forwarder killed mid-batch');
});

Fleet('a node restarted after kill -9 while the centre was down keeps its backlog and ships it', async () => {
  const c = nodes.get('node-c')!;
  await watch(c);
  await cluster.pg.stop('immediate');
  const atStop = (await summary(c)).log_position;
  await waitFor(async () => (await summary(c)).forwarder.state === 'failing', 30_000, 'node-c to notice');
  await grown(c, atStop, 20);
  await c.proc.kill('SIGKILL');
  await dropViewers(c);
  const restarted = await startNode('node-c');
  const afterRestart = await summary(restarted);
  assert.ok(afterRestart.log_position > atStop + 20, 'the backlog survived the crash');
  assert.ok(afterRestart.forwarder.shipped_position <= atStop, 'nothing after the outage began was shipped');
  await restartCentre();
  await waitFor(async () => {
    const f = (await summary(restarted)).forwarder;
    return f.state === 'caught_up' && f.shipped_position >= afterRestart.log_position;
  }, 60_000, 'node-c to ship its backlog');
  // The connections the crash left open were closed out on restart, and that went to the centre too.
  const closedOut = await client.query(
    "SELECT count(*)::integer AS n FROM events WHERE node = 'node-c' AND type = 'connection.closed' AND data->>'initiator' = 'process_restart'",
  );
  assert.ok(closedOut.rows[0].n >= 2, `${closedOut.rows[0].n} connections closed out with process_restart`);
  await settleAndCompare('a node restarted after kill -9');
});

Fleet('two projectors: the projecting one is killed, the other takes over', async () => {
  const [projecting, standby] = projectors;
  for (const node of nodes.values()) await watch(node, 1);
  await projecting.waitForLine(/^fleet projector projecting/);
  assert.is((await fleetCall(`${MONITOR}/summary`, standby)).projector, 'standby');
  await projecting.kill('SIGKILL');
  projectors = projectors.filter((p) => p !== projecting);
  await standby.waitForLine(/^fleet projector projecting/);
  // Events keep arriving; the survivor applies them from the cursors and its API answers throughout.
  for (const node of nodes.values()) {
    const at = (await summary(node)).log_position;
    await grown(node, at, 20);
    await waitFor(async () => {
      const shown = await fleetCall(`${MONITOR}/summary?node=${node.name}`, standby);
      return shown.projector === 'projecting' && shown.nodes[0].projected_position >= at + 20;
    }, 30_000, `the survivor to show ${node.name}'s new events`);
  }
  await settleAndCompare('a projector killed');
});

Fleet.run();
