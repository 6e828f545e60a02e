// Figure 8: the fleet forwarder, against a throw-away PostgreSQL cluster
// (Debian's binaries, durable as Debian configures it: fsync and
// synchronous_commit on), in this process beside the SQLite logs it reads.
//
// - Forwarding throughput: one node's log shipped from scratch, against
//   EventStore.append of the same generated events, measured side by side.
// - Catch-up after an outage: three nodes append at a steady pace while
//   forwarding; the centre is stopped, appends go on, the centre comes back
//   and the backlog drains while appends continue. The drain rate is read
//   against the rate the nodes append meanwhile.
// - With the centre down: how many appends committed, and their p99
//   latency against the same producers with the centre up.
import { join } from 'node:path';
import pino from 'pino';
import { SqliteEventStore } from '../src/log/sqliteStore.ts';
import type { EventStore } from '../src/log/store.ts';
import { Projector } from '../src/projections/sqlite/projector.ts';
import { Forwarder } from '../src/fleet/forwarder.ts';
import { centreClient } from '../src/fleet/pg.ts';
import { migrateCentre } from '../src/fleet/migrate.ts';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.ts';
import { generateLog, type Intent } from './make-log.ts';
import { median, percentile, type Figure } from './report.ts';

const BATCH = 100;
const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rate = (events: number, ms: number) => events / (ms / 1000);

async function freshCentre(pg: TestPostgres): Promise<string> {
  const url = await pg.createDatabase();
  // Migrated before the clock starts: the forwarder then only checks.
  const client = centreClient(url, { applicationName: 'bench' });
  await client.connect();
  await migrateCentre(client);
  await client.end();
  return url;
}

function openNode(path: string) {
  return { log: SqliteEventStore.open(path, { projector: new Projector() }) };
}

function forwarder(node: ReturnType<typeof openNode>, url: string, name: string) {
  return new Forwarder(node.log, { url, node: name, batchSize: 1000, backoff: { initialMs: 100, maxMs: 500 }, behindAfterMs: 5_000 }, silent);
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000) {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** EventStore.append of `intents`, 100 single-event appends per tick (the shape of figure 1); events/s. */
async function appendAll(log: EventStore, intents: Intent[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < intents.length; i += BATCH) {
    const results = await Promise.all(intents.slice(i, i + BATCH).map((x) => log.append(x.stream, [x.event], { meta: x.meta })));
    if (!results.every((r) => r.ok)) throw new Error('an append conflicted');
  }
  return rate(intents.length, performance.now() - t0);
}

async function forwardingRound(dir: string, pg: TestPostgres, intents: Intent[], round: number) {
  const node = openNode(join(dir, `fleet-forward-${round}.db`));
  try {
    const appendRate = await appendAll(node.log, intents);
    const url = await freshCentre(pg);
    const f = forwarder(node, url, `bench-${round}`);
    const head = await node.log.head();
    const t0 = performance.now();
    await f.start();
    await until(async () => (await f.status()).shipped_position >= head, 'the forwarder to ship the log');
    const forwardRate = rate(head, performance.now() - t0);
    await f.stop();
    return { appendRate, forwardRate, batches: (await f.status()).batches };
  } finally {
    await node.log.close();
  }
}

/** One producer: `perTick` single-event appends every 10 ms tick, each append's latency kept by phase. */
function producer(log: EventStore, seed: number, perTick: number) {
  const intents = generateLog(10_000_000, seed);
  const latencies: Record<'up' | 'down' | 'catchup', number[]> = { up: [], down: [], catchup: [] };
  let phase: keyof typeof latencies | null = null;
  let attempted = { up: 0, down: 0, catchup: 0 };
  let committed = { up: 0, down: 0, catchup: 0 };
  let running = true;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      const p = phase as keyof typeof latencies | null;
      await Promise.all(
        Array.from({ length: perTick }, async () => {
          const x = intents.next().value as Intent;
          const t = performance.now();
          if (p) attempted[p]++;
          const r = await log.append(x.stream, [x.event], { meta: x.meta });
          if (!r.ok) throw new Error('an append conflicted');
          if (p) {
            committed[p]++;
            latencies[p].push(performance.now() - t);
          }
        }),
      );
      await sleep(Math.max(0, 10 - (performance.now() - started)));
    }
  })();
  return {
    setPhase: (next: keyof typeof latencies | null) => (phase = next),
    latencies,
    counts: () => ({ attempted, committed }),
    async stop() {
      running = false;
      await done;
    },
    reset() {
      attempted = { up: 0, down: 0, catchup: 0 };
      committed = { up: 0, down: 0, catchup: 0 };
    },
  };
}

async function outageRound(dir: string, pg: TestPostgres, outageMs: number, perTick: number) {
  const url = await freshCentre(pg);
  const nodes = [0, 1, 2].map((i) => openNode(join(dir, `fleet-outage-${i}.db`)));
  const forwarders = nodes.map((n, i) => forwarder(n, url, `node-${i}`));
  const producers = nodes.map((n, i) => producer(n.log, 100 + i, perTick));
  try {
    for (const f of forwarders) await f.start();
    await sleep(1000); // warm-up: the forwarders connect and keep up
    for (const p of producers) p.setPhase('up');
    const upStart = performance.now();
    await sleep(outageMs);
    const upMs = performance.now() - upStart;
    for (const p of producers) p.setPhase('down');
    await pg.stop('fast');
    const downStart = performance.now();
    await sleep(outageMs);
    const headsAtReturn = await Promise.all(nodes.map((n) => n.log.head()));
    const shippedAtReturn = (await Promise.all(forwarders.map((f) => f.status()))).map((s) => s.shipped_position);
    for (const p of producers) p.setPhase('catchup');
    await pg.start();
    const downMs = performance.now() - downStart;
    const back = performance.now();
    // Each forwarder comes back on its own backoff schedule: the drain is
    // timed from the first reconnect, and the wait for it is reported apart.
    let reconnected = NaN;
    await until(async () => {
      const statuses = await Promise.all(forwarders.map((f) => f.status()));
      if (Number.isNaN(reconnected) && statuses.some((s) => s.state !== 'failing')) reconnected = performance.now();
      return statuses.every((s, i) => s.shipped_position >= headsAtReturn[i]);
    }, 'the backlog to drain');
    const reconnectMs = reconnected - back;
    const drainMs = performance.now() - reconnected;
    for (const p of producers) p.setPhase(null);
    const backlog = headsAtReturn.reduce((a, h, i) => a + h - shippedAtReturn[i], 0);
    const counts = producers.map((p) => p.counts());
    const sum = (phase: 'up' | 'down' | 'catchup', what: 'attempted' | 'committed') => counts.reduce((a, c) => a + c[what][phase], 0);
    const latencies = (phase: 'up' | 'down') => producers.flatMap((p) => p.latencies[phase]).sort((a, b) => a - b);
    return {
      backlog,
      drainMs,
      reconnectMs,
      drainRate: rate(backlog, drainMs),
      appendRateDuringCatchUp: rate(sum('catchup', 'committed'), drainMs),
      appendRateUp: rate(sum('up', 'committed'), upMs),
      downAttempted: sum('down', 'attempted'),
      downCommitted: sum('down', 'committed'),
      downMs,
      p99Up: percentile(latencies('up'), 99),
      p99Down: percentile(latencies('down'), 99),
    };
  } finally {
    for (const p of producers) await p.stop();
    for (const f of forwarders) await f.stop();
    for (const n of nodes) await n.log.close();
  }
}

export async function fleetFigures(dir: string, sizes: { events: number; rounds: number; outageMs: number }): Promise<Figure[]> {
  const pg = await startPostgres({ durable: true });
  try {
    const intents = [...generateLog(sizes.events)];
    // Warm-up on a throw-away file (zod, statement caches, the JIT), as figure 1 does.
    const warm = openNode(join(dir, 'fleet-warm.db'));
    await appendAll(warm.log, intents.slice(0, 2000));
    await warm.log.close();
    const runs = [];
    for (let r = 0; r < sizes.rounds; r++) runs.push(await forwardingRound(dir, pg, intents, r));
    const appendRate = median(runs.map((r) => r.appendRate));
    const forwardRate = median(runs.map((r) => r.forwardRate));
    // 10 appends per 10 ms tick on each of three nodes: 3,000 events/s, about what the issue measured.
    const o = await outageRound(dir, pg, sizes.outageMs, 10);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return [
      {
        id: 'fleet.forward_rate',
        group: 8,
        label: 'forwarder to PostgreSQL, one node from scratch',
        value: forwardRate,
        unit: 'events/s',
        anchor: { label: 'EventStore.append of the same events', value: appendRate },
        ratio: forwardRate / appendRate,
        note: `median of ${sizes.rounds} rounds of ${sizes.events.toLocaleString('en-US')} generated events, 1,000 per statement (${runs[0].batches} batches); durable PostgreSQL 15 on this machine over TCP loopback`,
      },
      {
        id: 'fleet.catch_up_rate',
        group: 8,
        label: `backlog drained after a ${s(o.downMs)} outage, 3 nodes`,
        value: o.drainRate,
        unit: 'events/s',
        anchor: { label: 'the nodes appending meanwhile', value: o.appendRateDuringCatchUp },
        ratio: o.drainRate / o.appendRateDuringCatchUp,
        note: `${o.backlog.toLocaleString('en-US')} events waited in the local logs; all were in the centre ${s(o.drainMs)} after the first forwarder reconnected (${Math.round(o.reconnectMs)} ms after the centre was back: backoff of at most 500 ms), while appends went on`,
      },
      {
        id: 'fleet.append_p99_centre_down',
        group: 8,
        label: 'append latency p99 with the centre down',
        value: o.p99Down,
        unit: 'ms',
        anchor: { label: 'the same producers with it up', value: o.p99Up },
        ratio: o.p99Down / o.p99Up,
        note: 'single-event appends, 10 per 10 ms tick on each node; local appends never wait for the centre',
      },
      {
        id: 'fleet.appends_committed_centre_down',
        group: 8,
        label: 'appends committed while the centre was down',
        value: o.downCommitted,
        unit: 'events',
        anchor: { label: 'appends made', value: o.downAttempted },
        ratio: o.downCommitted / o.downAttempted,
        note: `over ${s(o.downMs)} on 3 nodes, against ${Math.round(o.appendRateUp).toLocaleString('en-US')} events/s with the centre up`,
      },
    ];
  } finally {
    await pg.destroy();
  }
}
