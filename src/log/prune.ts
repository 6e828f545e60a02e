// Retention: delete the oldest events by position range, never past the
// lowest consumer checkpoint (a consumer must not lose events it has not
// read), optionally archiving them first as JSON lines.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { count, eq, inArray, lt, lte, max, min, sql } from 'drizzle-orm';
import type { Db } from './open.ts';
import { AppError } from '../errors.ts';
import { lowestCheckpoint } from './checkpoint.ts';
import { iterateLog } from './read.ts';
import { orm } from './orm.ts';
import { tableName } from './names.ts';
import { checkpoints, events, prunedStreams } from './schema.ts';
import type { PruneOptions, PrunePlan, PruneReport } from './store.ts';

/** Events deleted per statement, and the pause between statements. */
const PRUNE_CHUNK = 5_000;
const PRUNE_PAUSE_MS = 20;

/** What `prune` through `throughPosition` would delete, deleting nothing. */
export function planPrune(db: Db, throughPosition: number): PrunePlan {
  const o = orm(db);
  const lowest = lowestCheckpoint(db);
  const through = lowest === null ? throughPosition : Math.min(throughPosition, lowest);
  const heldBy =
    lowest !== null && lowest < throughPosition
      ? (o.select({ consumer: checkpoints.consumer }).from(checkpoints).where(eq(checkpoints.position, lowest)).orderBy(checkpoints.consumer).limit(1).get()?.consumer ?? null)
      : null;
  const row = o
    .select({ events: count(), first: min(events.recordedAt), last: max(events.recordedAt) })
    .from(events)
    .where(lte(events.position, Math.max(0, through)))
    .get()!;
  return { requested: throughPosition, throughPosition: through, heldBy, events: row.events, firstRecordedAt: row.first, lastRecordedAt: row.last };
}

/** The last position recorded before `time` (epoch ms), 0 when none was: what `--older-than` prunes through. */
export function lastPositionBefore(db: Db, time: number): number {
  return orm(db).select({ last: max(events.position) }).from(events).where(lt(events.recordedAt, time)).get()?.last ?? 0;
}

/** Deletes events with position <= `throughPosition` (clamped to the lowest checkpoint). */
export async function prune(db: Db, options: PruneOptions): Promise<PruneReport> {
  const through = planPrune(db, options.throughPosition).throughPosition;
  if (through < 1) throw new AppError('BAD_REQUEST', 'nothing to prune: position must be at least 1');
  if (options.archivePath) {
    const out = createWriteStream(options.archivePath, { flags: 'wx' });
    for (const e of iterateLog(db, { until: through })) {
      if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }
  const o = orm(db);
  // Remember where each pruned stream had got to, so its versions go on from there.
  o.insert(prunedStreams)
    .select(
      o.select({ stream: events.stream, version: sql<number>`max(${events.version})`.as('version') }).from(events).where(lte(events.position, through)).groupBy(events.stream),
    )
    .onConflictDoUpdate({ target: prunedStreams.stream, set: { version: sql`max(${prunedStreams.version}, excluded.${sql.identifier(prunedStreams.version.name)})` } })
    .run();
  // Chunked so a large prune never holds the write lock for long, with a
  // pause between chunks so appends waiting in busy_timeout get the lock in
  // between instead of racing for it. Each statement writes from its first
  // step, so SQLite's busy handler applies to it.
  const chunk = o.select({ position: events.position }).from(events).where(lte(events.position, through)).limit(PRUNE_CHUNK);
  const del = o.delete(events).where(inArray(events.position, chunk)).prepare();
  let deleted = 0;
  for (;;) {
    const n = del.run().changes;
    deleted += n;
    if (n < PRUNE_CHUNK) break;
    await new Promise((resolve) => setTimeout(resolve, PRUNE_PAUSE_MS));
  }
  return { deleted, throughPosition: through, archived: options.archivePath ?? null };
}

/** The last position pruned away, or null if nothing was ever pruned. */
export function prunedThrough(db: Db): number | null {
  const o = orm(db);
  const first = o.select({ first: min(events.position) }).from(events).get()?.first ?? null;
  // AUTOINCREMENT keeps the highest position ever used in sqlite_sequence, which is not in the schema.
  const seq = o.get<{ seq: number } | undefined>(sql`SELECT seq FROM sqlite_sequence WHERE name = ${tableName(events)}`)?.seq;
  if (first === 1 || (first === null && !seq)) return null;
  return first === null ? (seq ?? 0) : first - 1;
}
