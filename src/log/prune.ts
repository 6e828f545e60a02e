// Retention: delete the oldest events by position range, never past the
// lowest consumer checkpoint (a consumer must not lose events it has not
// read), optionally archiving them first as JSON lines.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Db } from './open.ts';
import { AppError } from '../errors.ts';
import { lowestCheckpoint } from './checkpoint.ts';
import { iterateAll } from './read.ts';

/** Events deleted per statement, and the pause between statements. */
const PRUNE_CHUNK = 5_000;
const PRUNE_PAUSE_MS = 20;

export type PruneReport = { deleted: number; throughPosition: number; archived: string | null };

export type PrunePlan = {
  /** The position asked for. */
  requested: number;
  /** What would be deleted through: `requested`, held back by the lowest consumer checkpoint. */
  throughPosition: number;
  /** The consumer whose checkpoint held it back, if one did. */
  heldBy: string | null;
  /** Events at or before `throughPosition` still in the log. */
  events: number;
  /** When the first and last of them were recorded (epoch ms), null when there are none. */
  firstRecordedAt: number | null;
  lastRecordedAt: number | null;
};

/** What `prune` through `throughPosition` would delete, deleting nothing. */
export function planPrune(db: Db, throughPosition: number): PrunePlan {
  const lowest = lowestCheckpoint(db);
  const through = lowest === null ? throughPosition : Math.min(throughPosition, lowest);
  const heldBy =
    lowest !== null && lowest < throughPosition
      ? ((db.prepare('SELECT consumer FROM checkpoints WHERE position = ? ORDER BY consumer LIMIT 1').pluck().get(lowest) as string | undefined) ?? null)
      : null;
  const row = db
    .prepare('SELECT count(*) AS events, min(recorded_at) AS first, max(recorded_at) AS last FROM events WHERE position <= ?')
    .get(Math.max(0, through)) as { events: number; first: number | null; last: number | null };
  return { requested: throughPosition, throughPosition: through, heldBy, events: row.events, firstRecordedAt: row.first, lastRecordedAt: row.last };
}

/** The last position recorded before `time` (epoch ms), 0 when none was: what `--older-than` prunes through. */
export function lastPositionBefore(db: Db, time: number): number {
  return (db.prepare('SELECT max(position) FROM events WHERE recorded_at < ?').pluck().get(time) as number | null) ?? 0;
}

/** Deletes events with position <= `throughPosition` (clamped to the lowest checkpoint). */
export async function prune(db: Db, options: { throughPosition: number; archivePath?: string }): Promise<PruneReport> {
  const through = planPrune(db, options.throughPosition).throughPosition;
  if (through < 1) throw new AppError('BAD_REQUEST', 'nothing to prune: position must be at least 1');
  if (options.archivePath) {
    const out = createWriteStream(options.archivePath, { flags: 'wx' });
    for (const e of iterateAll(db, { until: through })) {
      if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }
  // Remember where each pruned stream had got to, so its versions go on from there.
  db.prepare(
    `INSERT INTO pruned_streams (stream, version)
       SELECT stream, max(version) FROM events WHERE position <= ? GROUP BY stream
     ON CONFLICT (stream) DO UPDATE SET version = max(version, excluded.version)`,
  ).run(through);
  // Chunked so a large prune never holds the write lock for long, with a
  // pause between chunks so a live server's appends (waiting in busy_timeout)
  // get the lock in between instead of racing for it. Each statement writes
  // from its first step, so SQLite's busy handler applies to it.
  const del = db.prepare('DELETE FROM events WHERE position IN (SELECT position FROM events WHERE position <= ? LIMIT ?)');
  let deleted = 0;
  for (;;) {
    const n = del.run(through, PRUNE_CHUNK).changes;
    deleted += n;
    if (n < PRUNE_CHUNK) break;
    await new Promise((resolve) => setTimeout(resolve, PRUNE_PAUSE_MS));
  }
  return { deleted, throughPosition: through, archived: options.archivePath ?? null };
}

/** The first position still in the log, or null if nothing was ever pruned. */
export function prunedThrough(db: Db): number | null {
  const first = db.prepare('SELECT min(position) FROM events').pluck().get() as number | null;
  const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() as number | undefined;
  if (first === 1 || (first === null && !seq)) return null;
  return first === null ? (seq ?? 0) : first - 1;
}
