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

/**
 * Deletes the checkpoints of consumers named `<prefix>…` other than those in
 * `keep` (consumers no longer configured, which would otherwise hold back
 * retention for ever). Returns the consumers it deleted.
 */
export function dropCheckpointsExcept(db: Db, prefix: string, keep: readonly string[]): string[] {
  // The checkpoints table holds a row per consumer: a handful.
  const all = orm(db).select({ consumer: checkpoints.consumer }).from(checkpoints).all();
  const dropped = all.map((r) => r.consumer).filter((consumer) => consumer.startsWith(prefix) && !keep.includes(consumer));
  for (const consumer of dropped) orm(db).delete(checkpoints).where(eq(checkpoints.consumer, consumer)).run();
  return dropped;
}

/** The lowest checkpoint of any consumer: retention never deletes past it. */
export function lowestCheckpoint(db: Db): number | null {
  return orm(db).select({ lowest: min(checkpoints.position) }).from(checkpoints).get()?.lowest ?? null;
}

/** A consumer's checkpoint with the state it keeps beside it (the detectors'), or null before its first write. */
export function readConsumerState(db: Db, consumer: string): { position: number; state: string | null } | null {
  return orm(db).select({ position: checkpoints.position, state: checkpoints.state }).from(checkpoints).where(eq(checkpoints.consumer, consumer)).get() ?? null;
}

/** Writes a checkpoint and its state (null: none) together; inside an append (GroupCommit.appendWithCheckpoint) they commit with its events. */
export function writeConsumerState(db: Db, consumer: string, position: number, state: string | null): void {
  const updatedAt = Date.now();
  orm(db)
    .insert(checkpoints)
    .values({ consumer, position, updatedAt, state })
    .onConflictDoUpdate({ target: checkpoints.consumer, set: { position, updatedAt, state } })
    .run();
}
