// A fresh, migrated store in a temporary directory, removed at the end; and
// the SQLite handle behind a store, for tests that check the file with SQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/log/open.ts';
import type { EventStore } from '../../src/log/store.ts';
import { SqliteEventStore } from '../../src/log/sqliteStore.ts';
import { openStore, type OpenStoreOptions } from '../../src/projections/sqlite/open.ts';
import type { SqliteMonitorReads } from '../../src/projections/sqlite/reads.ts';

export type TestStore = {
  dir: string;
  path: string;
  /** The store (what the server's services carry as `store`). */
  log: SqliteEventStore;
  reads: SqliteMonitorReads;
  /** Its SQLite handle, for checks in SQL. */
  db: Db;
  cleanup(): Promise<void>;
};

export function tempDir(prefix = 'wrm-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens the store at `path` (creating it), as the server does but without its hold. */
export async function openTestStore(path: string, options: OpenStoreOptions = {}): Promise<Omit<TestStore, 'dir' | 'cleanup'> & { close(): Promise<void> }> {
  const opened = await openStore(path, options);
  return { path, log: opened.store, reads: opened.reads, db: opened.store.db, close: () => opened.close() };
}

export async function freshStore(options: { clock?: () => number } = {}): Promise<TestStore> {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'monitor.db');
  const opened = await openTestStore(path, options);
  return {
    dir,
    ...opened,
    async cleanup() {
      try {
        await opened.close();
      } catch {
        // already closed by the test
      }
      cleanup();
    },
  };
}

/** The SQLite handle behind a store (a server's `services.store`), for checks in SQL. */
export function dbOf(store: EventStore | { store: EventStore }): Db {
  const s = 'store' in store ? store.store : store;
  if (!(s instanceof SqliteEventStore)) throw new Error('not a SQLite store');
  return s.db;
}

/**
 * Appends `n` small catalogue-valid events (`connection.error` on stream
 * `connection:bulk`) straight into the events table in one statement: a long
 * log in a fraction of a second, for readers of the log (the feed, paging).
 * Read models are not updated; tests that use this read the log only.
 */
export function bulkEvents(db: Db, n: number, messageBytes = 200): void {
  db.prepare(
    `WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
     INSERT INTO events (stream, version, type, data, meta, recorded_at)
     SELECT 'connection:bulk', coalesce((SELECT max(version) FROM events WHERE stream = 'connection:bulk'), 0) + i, 'connection.error',
            json_object('code', 'BULK', 'message', printf('%0' || ? || 'd', i), 'fatal', json('false')), '{"schema":1}', 0
     FROM k`,
  ).run(n, messageBytes);
}
