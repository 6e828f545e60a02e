// Where each consumer of the log has read up to, as the position its
// checkpoint covers. A consumer stores its checkpoint in the same transaction
// as its own output where it can; the --log-dir writer stores it right after
// each file is safely renamed.
import { eq, min } from 'drizzle-orm';
import type { Db } from './open.ts';
import { orm } from './orm.ts';
import { checkpoints } from './schema.ts';

/** The position a consumer's checkpoint covers, or null before its first write. */
export function readCheckpoint(db: Db, consumer: string): number | null {
  const row = orm(db).select({ position: checkpoints.position }).from(checkpoints).where(eq(checkpoints.consumer, consumer)).get();
  return row?.position ?? null;
}

export function writeCheckpoint(db: Db, consumer: string, position: number): void {
  const updatedAt = Date.now();
  orm(db)
    .insert(checkpoints)
    .values({ consumer, position, updatedAt })
    .onConflictDoUpdate({ target: checkpoints.consumer, set: { position, updatedAt } })
    .run();
}

/** The lowest checkpoint of any consumer: retention never deletes past it. */
export function lowestCheckpoint(db: Db): number | null {
  return orm(db).select({ lowest: min(checkpoints.position) }).from(checkpoints).get()?.lowest ?? null;
}
