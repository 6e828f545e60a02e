// The hold on a database: a serving process, or a maintenance command
// (`rebuild`, `prune`), has it; no other may take it meanwhile. A server's
// inline projector assumes it is the only writer of the read models, and a
// rebuild or a prune beside it would race it, so they refuse.
//
// The hold is an exclusive lock SQLite takes on a small file beside the
// database (`<db>-holder`, in locking_mode=EXCLUSIVE, never released until
// the connection closes). It is the operating system's lock, so it goes with
// the process however the process ends (kill -9, a crash), with no pid to
// check and none to be reused; SQLite also sees it between two connections
// of one process. It is taken before the database is opened, so a command
// that would migrate the file does not do so under a running server.
// Readers (`query`, `export-logs`) take no hold. Who holds it is written to
// the `holder` table, for the refusal's message only.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { AppError } from '../errors.ts';
import type { Db } from './open.ts';
import { orm } from './orm.ts';
import { holder } from './schema.ts';

export type HoldRole = 'server' | 'maintenance';

/** A hold taken on a database file. */
export type Hold = {
  readonly role: HoldRole;
  /** Writes who holds it into the (opened, migrated) database, for the next refusal's message. */
  describe(db: Db): void;
  /** Lets go (idempotent, never throws). */
  release(): void;
};

const HOLDER_ROW = 1;

export const holdFileOf = (path: string) => `${resolve(path)}-holder`;

/** Takes the hold on the database at `path` for `role`, or throws CONFLICT naming who has it. */
export function takeHold(path: string, role: HoldRole): Hold {
  let lock: Database.Database | null = null;
  try {
    lock = new Database(holdFileOf(path), { timeout: 0 });
    lock.pragma('locking_mode = EXCLUSIVE');
    // A write is what makes SQLite take the exclusive lock; EXCLUSIVE mode keeps it after the commit.
    lock.exec('BEGIN EXCLUSIVE');
    lock.pragma(`user_version = ${process.pid}`);
    lock.exec('COMMIT');
  } catch (err) {
    lock?.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw heldBy(path, role);
    throw err;
  }
  const row = { id: HOLDER_ROW, role, pid: process.pid, host: hostname(), since: Date.now() };
  let described: Db | null = null;
  let held = true;
  return {
    role,
    describe(db) {
      orm(db).insert(holder).values(row).onConflictDoUpdate({ target: holder.id, set: row }).run();
      described = db;
    },
    release() {
      if (!held) return;
      held = false;
      try {
        // Only describes the hold; a full disk may refuse it, and the lock below is what counts.
        if (described?.open) orm(described).delete(holder).where(and(eq(holder.pid, row.pid), eq(holder.since, row.since))).run();
      } catch {
        // left for the next holder to overwrite
      }
      lock!.close();
    },
  };
}

function heldBy(path: string, wanted: HoldRole): AppError {
  let who = 'another process';
  if (existsSync(path)) {
    let db: Db | null = null;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 1000');
      const h = orm(db).select().from(holder).where(eq(holder.id, HOLDER_ROW)).get();
      if (h) {
        const what = h.role === 'server' ? 'a running server' : 'a maintenance command (rebuild or prune)';
        who = `${what} (pid ${h.pid} on ${h.host}, since ${new Date(h.since).toISOString()})`;
      }
    } catch {
      // the description is a courtesy (a database from before the holder table has none)
    } finally {
      db?.close();
    }
  }
  const advice = wanted === 'server' ? 'wait for it to finish or stop it first' : 'stop it first';
  return new AppError('CONFLICT', `the database ${resolve(path)} is held by ${who}: ${advice}`);
}
