// Where each consumer of the log has read up to. A consumer stores its
// checkpoint in the same transaction as its own output where it can; the
// --log-dir writer stores it right after each file is safely renamed.
import type { Db } from './open.ts';
import { cachedStatement } from './statements.ts';

export function readCheckpoint(db: Db, consumer: string): number {
  const position = db.prepare('SELECT position FROM checkpoints WHERE consumer = ?').pluck().get(consumer);
  return (position as number | undefined) ?? 0;
}

/** Whether the consumer has written a checkpoint yet. */
export function hasCheckpoint(db: Db, consumer: string): boolean {
  return cachedStatement(db, 'SELECT 1 FROM checkpoints WHERE consumer = ?').get([consumer]) !== undefined;
}

export function writeCheckpoint(db: Db, consumer: string, position: number): void {
  cachedStatement(
    db,
    `INSERT INTO checkpoints (consumer, position, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
  ).run([consumer, position, Date.now()]);
}

/**
 * Deletes the checkpoints of consumers named `<prefix>…` other than those in
 * `keep` (consumers no longer configured, which would otherwise hold back
 * retention for ever). Returns the consumers it deleted.
 */
export function dropCheckpointsExcept(db: Db, prefix: string, keep: readonly string[]): string[] {
  const rows = cachedStatement(db, 'SELECT consumer FROM checkpoints WHERE substr(consumer, 1, ?) = ?').pluck().all([prefix.length, prefix]) as string[];
  const dropped = rows.filter((consumer) => !keep.includes(consumer));
  for (const consumer of dropped) cachedStatement(db, 'DELETE FROM checkpoints WHERE consumer = ?').run([consumer]);
  return dropped;
}

/** The lowest checkpoint of any consumer: retention never deletes past it. */
export function lowestCheckpoint(db: Db): number | null {
  return (db.prepare('SELECT min(position) FROM checkpoints').pluck().get() as number | null) ?? null;
}
