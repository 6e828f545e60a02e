// Figure 8, the fleet monitor: three node servers (in this process, no
// WebRTC plugin) forwarding to one PostgreSQL, and `fleet serve` over them
// (projecting), measured side by side in one run:
//
// - End-to-end lag: an event appended on a node until it arrives on the
//   fleet monitor's live feed (SSE), under a steady load on all three nodes.
//   It is the forwarder's batch, the central insert, the projector's page
//   and the feed's read, plus one event loop shared with the producers.
// - Read latency: summary, a connections page and a connection's detail
//   from the fleet monitor (PostgreSQL) against the same from a node's own
//   server (SQLite), the same requests one after the other.
import { join } from 'node:path';
import { makeConfig, loadFleetConfig } from '../src/config.ts';
import { makeLogger } from '../src/logger.ts';
import { startServer, type RunningServer } from '../src/http/serve.ts';
import { startFleetServer } from '../src/http/fleetServe.ts';
import type { EventStore } from '../src/log/store.ts';
import type { TestPostgres } from '../test/helpers/postgres.ts';
import { generateLog, type Intent } from './make-log.ts';
import { median, percentile, type Figure } from './report.ts';

const MONITOR = '/api/v0/mcp/monitor/webrtc';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows the fleet feed; the arrival time of each `node:position`. */
async function follow(url: string, arrived: Map<string, number>, signal: AbortSignal) {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal });
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const e = JSON.parse(data.slice(6)) as { node: string; position: number };
          arrived.set(`${e.node}:${e.position}`, performance.now());
        }
      }
    } catch {
      // aborted at the end
    }
  })();
}

/** `perTick` single-event appends every 10 ms on `store` for `ms`; when each was called, by position. */
async function load(store: EventStore, node: string, seed: number, perTick: number, ms: number, sent: Map<string, number>) {
  const intents = generateLog(10_000_000, seed);
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const tick = performance.now();
    await Promise.all(
      Array.from({ length: perTick }, async () => {
        const x = intents.next().value as Intent;
        const t = performance.now();
        const r = await store.append(x.stream, [x.event], { meta: x.meta });
        if (!r.ok) throw new Error('an append conflicted');
        sent.set(`${node}:${r.firstPosition}`, t);
      }),
    );
    await sleep(Math.max(0, 10 - (performance.now() - tick)));
  }
}

async function timeGets(url: string, rounds: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`bench: ${url} answered ${res.status}`);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

export async function fleetApiFigures(dir: string, pg: TestPostgres, sizes: { loadMs: number; reads: number; preload: number }): Promise<Figure[]> {
  const url = await pg.createDatabase();
  const logger = makeLogger(makeConfig({ logLevel: 'silent' }));
  const nodes: RunningServer[] = [];
  const abort = new AbortController();
  let fleet: Awaited<ReturnType<typeof startFleetServer>> | null = null;
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startServer(makeConfig({ port: 0, persistencePath: join(dir, `fleet-api-${i}.db`), forwardTo: url, nodeId: `node-${i}`, logLevel: 'silent' }), { logger }),
      );
    }
    // A history to read: connections, operations and tasks from the generator, on each node.
    await Promise.all(nodes.map((n, i) => load(n.services.store, `node-${i}`, 200 + i, 30, sizes.preload, new Map())));
    fleet = await startFleetServer(makeConfig({ port: 0, logLevel: 'silent' }), loadFleetConfig({ base: { databaseUrl: url, feedPollMs: 1000 } }), { logger });
    const caughtUp = async () => {
      const s = await (await fetch(`${fleet!.url}${MONITOR}/summary`)).json();
      return s.nodes.length === 3 && s.nodes.every((n: { lag_events: number }) => n.lag_events === 0);
    };
    const deadline = performance.now() + 120_000;
    while (!(await caughtUp())) {
      if (performance.now() > deadline) throw new Error('bench: the fleet did not catch up with the preload');
      await sleep(50);
    }

    // End-to-end lag under load: 10 appends per 10 ms tick on each node (3,000 events/s in all).
    const arrived = new Map<string, number>();
    const sent = new Map<string, number>();
    await follow(`${fleet.url}${MONITOR}/events/stream`, arrived, abort.signal);
    await sleep(200);
    await Promise.all(nodes.map((n, i) => load(n.services.store, `node-${i}`, 300 + i, 10, sizes.loadMs, sent)));
    const end = performance.now() + 60_000;
    while ([...sent.keys()].some((k) => !arrived.has(k))) {
      if (performance.now() > end) throw new Error(`bench: ${[...sent.keys()].filter((k) => !arrived.has(k)).length} events never reached the fleet feed`);
      await sleep(20);
    }
    const lags = [...sent].map(([k, t]) => arrived.get(k)! - t).sort((a, b) => a - b);
    abort.abort();

    // Read latency, fleet against node, in the same run and order.
    const node = nodes[0];
    const list = await (await fetch(`${node.url}${MONITOR}/connections?include_closed=true&limit=1`)).json();
    const id = Object.keys(list.connections)[0];
    const reads = [
      ['summary', '/summary', '/summary'],
      ['connections page (100)', '/connections?include_closed=true&limit=100', '/connections?include_closed=true&limit=100'],
      ['connection detail', `/connections/${id}`, `/connections/${id}?node=node-0`],
    ] as const;
    const readFigures: Figure[] = [];
    for (const [what, own, fleetPath] of reads) {
      await timeGets(`${node.url}${MONITOR}${own}`, 20);
      await timeGets(`${fleet.url}${MONITOR}${fleetPath}`, 20);
      const mine = await timeGets(`${node.url}${MONITOR}${own}`, sizes.reads);
      const theirs = await timeGets(`${fleet.url}${MONITOR}${fleetPath}`, sizes.reads);
      readFigures.push({
        id: `fleet.read.${what.split(' ')[0]}${what.includes('detail') ? '_detail' : ''}`,
        group: 8,
        label: `fleet monitor: ${what}, median`,
        value: median(theirs),
        unit: 'ms',
        anchor: { label: "the node's own server", value: median(mine) },
        ratio: median(theirs) / median(mine),
        note: `${sizes.reads} GETs each; p99 ${percentile(theirs, 99).toFixed(1)} ms (node ${percentile(mine, 99).toFixed(1)} ms); the fleet ${what === 'summary' ? 'adds up 3 nodes and their lag' : 'reads PostgreSQL over TCP loopback'}`,
      });
    }
    const head = await Promise.all(nodes.map((n) => n.services.store.head()));
    return [
      {
        id: 'fleet.end_to_end_lag_p50',
        group: 8,
        label: 'append on a node -> on the fleet feed, p50',
        value: median(lags),
        unit: 'ms',
        anchor: { label: 'the p99', value: percentile(lags, 99) },
        ratio: percentile(lags, 99) / median(lags),
        note: `${lags.length.toLocaleString('en-US')} events over ${(sizes.loadMs / 1000).toFixed(1)} s (${Math.round(lags.length / (sizes.loadMs / 1000)).toLocaleString('en-US')} events/s appended; asked: 10 per 10 ms tick on each of 3 nodes), logs of ${head.join(', ')} events; forwarder batch, central insert, projector page, feed read; one event loop for nodes, fleet and client`,
      },
      ...readFigures,
    ];
  } finally {
    abort.abort();
    await fleet?.close();
    for (const n of nodes) await n.close();
  }
}
