// Where each consumer of the log has read up to. A consumer stores its
// checkpoint in the same transaction as its own output where it can; the
// --log-dir writer stores it right after each file is safely renamed.
import type { Db } from './open.ts';

export function readCheckpoint(db: Db, consumer: string): number {
  const position = db.prepare('SELECT position FROM checkpoints WHERE consumer = ?').pluck().get(consumer);
  return (position as number | undefined) ?? 0;
}

export function writeCheckpoint(db: Db, consumer: string, position: number): void {
  db.prepare(
    `INSERT INTO checkpoints (consumer, position, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
  ).run(consumer, position, Date.now());
}

/** The lowest checkpoint of any consumer: retention never deletes past it. */
export function lowestCheckpoint(db: Db): number | null {
  return (db.prepare('SELECT min(position) FROM checkpoints').pluck().get() as number | null) ?? null;
}

/** A consumer's checkpoint with the state it keeps beside it (the detectors'), or null before its first write. */
export function readConsumerState(db: Db, consumer: string): { position: number; state: string | null } | null {
  const row = db.prepare('SELECT position, state FROM checkpoints WHERE consumer = ?').get(consumer) as { position: number; state: string | null } | undefined;
  return row ?? null;
}

/** Writes a checkpoint and its state together; inside an append (EventLog.appendWithCheckpoint) they commit with its events. */
export function writeConsumerState(db: Db, consumer: string, position: number, state: string): void {
  db.prepare(
    `INSERT INTO checkpoints (consumer, position, updated_at, state) VALUES (?, ?, ?, ?)
     ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at, state = excluded.state`,
  ).run(consumer, position, Date.now(), state);
}
