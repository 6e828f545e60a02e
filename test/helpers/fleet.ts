// Arrange and assert helpers for the fleet suites: one PostgreSQL cluster per
// test file, forwarders with test-sized backoff, and the two checks every
// fleet scenario ends with (central events are the union of the nodes' logs;
// the fleet read models equal a rebuild).
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { startPostgres, type TestPostgres } from './postgres.ts';
import type { Db } from '../../src/log/open.ts';
import type { EventRow, EventStore } from '../../src/log/store.ts';
import { Forwarder, type ForwarderOptions } from '../../src/fleet/forwarder.ts';
import { centreClient, type CentreClient } from '../../src/fleet/pg.ts';
import { waitFor } from './webrtc.ts';

/** One cluster for the suites of a test file: started before the first suite, destroyed after the last. */
export function postgresFor(first: Test, last: Test = first): { readonly pg: TestPostgres } {
  const holder: { pg: TestPostgres | null } = { pg: null };
  first.before(async () => {
    holder.pg = await startPostgres();
  });
  last.after(async () => {
    await holder.pg?.destroy();
  });
  return {
    get pg() {
      if (!holder.pg) throw new Error('the cluster is started by the first suite');
      return holder.pg;
    },
  };
}

export const silent = pino({ level: 'silent' });

/** A forwarder with test-sized batches and backoff; start() it. */
export function forwarderFor(store: EventStore, url: string, node: string, options: Partial<ForwarderOptions> = {}): Forwarder {
  return new Forwarder(
    store,
    { url, node, batchSize: 200, backoff: { initialMs: 10, maxMs: 100 }, behindAfterMs: 60_000, ...options },
    silent,
  );
}

/** A connected client for assertions. */
export async function connect(url: string): Promise<CentreClient> {
  const client = centreClient(url, { applicationName: 'webrtc-monitor tests' });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Resolves once everything up to `position` (default: the head now) is in the centre and the forwarder is idle. */
export async function shippedThrough(forwarder: Forwarder, position?: number, timeoutMs = 20_000): Promise<void> {
  const target = position ?? (await forwarder.status()).head_position;
  await waitFor(async () => (await forwarder.status()).shipped_position >= target, timeoutMs, `the forwarder to ship through ${target}`);
  await forwarder.idle();
}

const COLUMNS = 'position, stream, version, type, data, meta, recorded_at AS recordedAt';

/** The node's own log, as stored. */
export function localRows(db: Db, through = Number.MAX_SAFE_INTEGER): EventRow[] {
  return db.prepare(`SELECT ${COLUMNS} FROM events WHERE position <= ? ORDER BY position`).all(through) as EventRow[];
}

/** The centre's copy of one node's log, in the node's shape. */
export async function centralRows(client: CentreClient, node: string, through = Number.MAX_SAFE_INTEGER): Promise<EventRow[]> {
  const { rows } = await client.query<EventRow>(
    `SELECT node_position AS position, stream, version, type, data, meta, recorded_at AS "recordedAt" FROM events
     WHERE node = $1 AND node_position <= $2 ORDER BY node_position`,
    [node, through],
  );
  return rows;
}

/**
 * The central events of `node` up to `through` are exactly the node's log up
 * to there, byte for byte: no gap, no duplicate, nothing altered.
 */
export async function assertCentreHolds(client: CentreClient, node: string, local: EventRow[]): Promise<void> {
  const through = local.length ? local[local.length - 1].position : 0;
  const central = await centralRows(client, node, through);
  assert.is(central.length, local.length, `node ${node}: ${central.length} central events for ${local.length} local ones through ${through}`);
  for (let i = 0; i < local.length; i++) {
    if (JSON.stringify(central[i]) !== JSON.stringify(local[i])) {
      assert.equal(central[i], local[i], `node ${node}: event ${local[i].position} differs`);
    }
  }
  // No duplicates is the key's job; no gap beyond what was compared:
  const { rows } = await client.query<{ n: number; max: number | null }>(
    'SELECT count(*)::integer AS n, max(node_position) AS max FROM events WHERE node = $1',
    [node],
  );
  assert.is(rows[0].n, rows[0].max ?? 0, `node ${node}: central positions run 1..n with no gap`);
}

/** The position a consumer's checkpoint covers (0 before its first). */
export async function checkpointPosition(store: EventStore, consumer: string): Promise<number> {
  const checkpoint = await store.readCheckpoint(consumer);
  return checkpoint === null ? 0 : store.positionOf(checkpoint);
}
