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
// of one process. Readers (`query`, `export-logs`) take no hold. Who holds it
// is written to the `holder` table, for the refusal's message only.
import Database from 'better-sqlite3';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { AppError } from '../errors.ts';
import type { Db } from './open.ts';
import { orm } from './orm.ts';
import { holder } from './schema.ts';

export type HoldRole = 'server' | 'maintenance';

/** A hold taken; `release()` lets go (idempotent, never throws). */
export type Hold = { readonly role: HoldRole; release(): void };

const HOLDER_ROW = 1;

export const holdFileOf = (path: string) => `${resolve(path)}-holder`;

/**
 * Takes the hold on the database at `path` (open as `db`) for `role`, or
 * throws CONFLICT naming who has it.
 */
export function takeHold(db: Db, path: string, role: HoldRole): Hold {
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
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw heldBy(db, path, role);
    throw err;
  }
  const row = { id: HOLDER_ROW, role, pid: process.pid, host: hostname(), since: Date.now() };
  try {
    orm(db).insert(holder).values(row).onConflictDoUpdate({ target: holder.id, set: row }).run();
  } catch (err) {
    lock.close();
    throw err;
  }
  let held = true;
  return {
    role,
    release() {
      if (!held) return;
      held = false;
      try {
        // Only describes the hold; a full disk may refuse it, and the lock below is what counts.
        if (db.open) orm(db).delete(holder).where(and(eq(holder.pid, row.pid), eq(holder.since, row.since))).run();
      } catch {
        // left for the next holder to overwrite
      }
      lock!.close();
    },
  };
}

function heldBy(db: Db, path: string, wanted: HoldRole): AppError {
  let who = 'another process';
  try {
    const h = orm(db).select().from(holder).where(eq(holder.id, HOLDER_ROW)).get();
    if (h) {
      const what = h.role === 'server' ? 'a running server' : 'a maintenance command (rebuild or prune)';
      who = `${what} (pid ${h.pid} on ${h.host}, since ${new Date(h.since).toISOString()})`;
    }
  } catch {
    // the description is a courtesy
  }
  const advice = wanted === 'server' ? 'wait for it to finish or stop it first' : 'stop it first';
  return new AppError(409, 'CONFLICT', `the database ${resolve(path)} is held by ${who}: ${advice}`);
}
