// Real storage trouble for tests that need no root: a database that is full
// (SQLite's own page limit, which fails writes with SQLITE_FULL as a full
// disk does; test/reliability fills a real tmpfs) and another connection holding the write lock from a
// worker thread (as a `prune` in another process would).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { Db } from '../../src/log/open.ts';

const require = createRequire(import.meta.url);

/**
 * Fills the database to its last byte: the page count is capped at its
 * current size and rows are added at the end of the log until not even a
 * 1-byte row fits, so the next event (which goes at the end of the log)
 * fails with SQLITE_FULL. The filler rows bypass the log's API (their
 * stream is `test:filler`); `release()` deletes them and lifts the cap.
 */
export function fillDatabase(db: Db): { release(): void } {
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const insert = db.prepare(
    "INSERT INTO events (stream, version, type, data, meta, recorded_at) VALUES ('test:filler', ?, 'test.filler', ?, '{}', 0)",
  );
  let version = (db.prepare("SELECT coalesce(max(version), 0) FROM events WHERE stream = 'test:filler'").pluck().get() as number) + 1;
  for (const size of [16_384, 4096, 1024, 256, 64, 16, 1]) {
    for (;;) {
      try {
        insert.run(version++, 'x'.repeat(size));
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_FULL') break;
        throw err;
      }
    }
  }
  return {
    release() {
      db.pragma('max_page_count = 4294967294');
      db.prepare("DELETE FROM events WHERE stream = 'test:filler'").run();
    },
  };
}

export type LockHolder = {
  /** Resolves once the other connection holds the write lock. */
  held: Promise<void>;
  /** Resolves once it has committed (its write is visible) and closed. */
  done: Promise<void>;
};

/**
 * Another connection (in a worker thread, so it runs while this thread is
 * blocked in SQLite's busy handler) takes the write lock, writes a
 * checkpoint row, holds the lock for `holdMs`, then commits.
 */
export function holdWriteLock(path: string, holdMs: number): LockHolder {
  const worker = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const Database = require(workerData.module);
    const db = new Database(workerData.path);
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT OR REPLACE INTO checkpoints (consumer, position, updated_at) VALUES ('lock-holder', 1, 1)").run();
    parentPort.postMessage('held');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
    db.exec('COMMIT');
    db.close();
    parentPort.postMessage('done');
    `,
    { eval: true, workerData: { path, holdMs, module: require.resolve('better-sqlite3') } },
  );
  const message = (what: string) =>
    new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => m === what && resolve());
      worker.once('error', reject);
    });
  const held = message('held');
  const done = message('done').then(() => worker.terminate().then(() => {}));
  return { held, done };
}
