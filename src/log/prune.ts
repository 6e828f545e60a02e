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

/** Deletes events with position <= `throughPosition` (clamped to the lowest checkpoint). */
export async function prune(db: Db, options: { throughPosition: number; archivePath?: string }): Promise<PruneReport> {
  const lowest = lowestCheckpoint(db);
  const through = lowest === null ? options.throughPosition : Math.min(options.throughPosition, lowest);
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
