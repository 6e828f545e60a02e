// drizzle's query builder over a better-sqlite3 handle, for the statements
// that are not on a measured hot path (checkpoints, retention, recovery, the
// holder lock, read-model versions, export pages): their names and row types
// come from the schema objects. One instance per handle.
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { Db } from './open.ts';

export type Orm = BetterSQLite3Database;

const byDb = new WeakMap<Db, Orm>();

export function orm(db: Db): Orm {
  let o = byDb.get(db);
  if (!o) byDb.set(db, (o = drizzle(db)));
  return o;
}
