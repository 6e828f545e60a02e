// Prepared statements cached per database handle: reads on request paths
// prepare each distinct SQL text once.
import type { Db } from './open.ts';

const byDb = new WeakMap<Db, Map<string, ReturnType<Db['prepare']>>>();

export function cachedStatement(db: Db, sql: string): ReturnType<Db['prepare']> {
  let statements = byDb.get(db);
  if (!statements) byDb.set(db, (statements = new Map()));
  let s = statements.get(sql);
  if (!s) statements.set(sql, (s = db.prepare(sql)));
  return s;
}
