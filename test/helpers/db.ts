// A fresh, migrated database file in a temporary directory, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/log/open.ts';
import { EventLog } from '../../src/log/append.ts';
import { Projector } from '../../src/projections/projector.ts';

export type TestStore = { dir: string; path: string; db: Db; log: EventLog; cleanup(): void };

export function tempDir(prefix = 'wrm-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function freshStore(options: { clock?: () => number } = {}): TestStore {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'monitor.db');
  const db = openDatabase(path);
  const log = new EventLog(db, new Projector(), options.clock);
  return {
    dir,
    path,
    db,
    log,
    cleanup() {
      try {
        log.close();
        db.close();
      } catch {
        // already closed by the test
      }
      cleanup();
    },
  };
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
