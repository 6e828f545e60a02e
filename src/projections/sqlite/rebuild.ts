// Rebuild: throw the read models away and replay the whole log through the
// same projector the append path runs inline; and the versions that decide,
// at start-up, whether the read models must be rebuilt before the server
// serves them.
import { getTableColumns } from 'drizzle-orm';
import { AppError } from '../../errors.ts';
import type { Db } from '../../log/open.ts';
import type { SqliteEventStore } from '../../log/sqliteStore.ts';
import { orm } from '../../log/orm.ts';
import { col, tableName } from '../../log/names.ts';
import { readModelVersions } from '../../log/schema.ts';
import type { StoredEvent } from '../../log/catalogue.ts';
import { READ_MODELS } from '../models/index.ts';
import { Projector } from './projector.ts';

export type RebuildReport = { events: number; durationMs: number; eventsPerSecond: number };

export type RebuildOptions = {
  chunkSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** Rebuild even though old events were pruned (their streams lose that history). */
  force?: boolean;
};

/** A read model whose rows were built by another version of it than this code's (`stored` null: never recorded). */
export type StaleModel = { name: string; stored: number | null; current: number };

/** The read models whose recorded version is not this code's. */
export function staleReadModels(db: Db): StaleModel[] {
  const stored = new Map(orm(db).select().from(readModelVersions).all().map((r) => [r.name, r.version]));
  return READ_MODELS.filter((m) => stored.get(m.name) !== m.version).map((m) => ({ name: m.name, stored: stored.get(m.name) ?? null, current: m.version }));
}

/** Records that the read models are this code's versions: for a writer that projected every event itself (rebuild; the benchmark's bulk loader). */
export function recordVersions(db: Db, builtAt = Date.now()) {
  for (const m of READ_MODELS) {
    orm(db)
      .insert(readModelVersions)
      .values({ name: m.name, version: m.version, builtAt })
      .onConflictDoUpdate({ target: readModelVersions.name, set: { version: m.version, builtAt } })
      .run();
  }
}

/**
 * Replays the log into emptied read-model tables, in transactions of
 * `chunkSize` events, and records the models' versions. The clear and the
 * first chunk share a transaction, and the log is read up to the head at
 * start, so a reader never sees empty tables for long. It runs with the
 * database held (refused while a server holds it, unless this store is that
 * server starting), and refuses a pruned log unless forced.
 *
 * Every model is rebuilt together: the summary folds the entity models'
 * changes event by event, so it cannot be replayed without them.
 */
export function rebuild(store: SqliteEventStore, options: RebuildOptions = {}): Promise<RebuildReport> {
  return store.whileHeld('maintenance', async () => {
    const { db } = store;
    const pruned = await store.prunedThrough();
    if (pruned !== null && !options.force) {
      throw new AppError('CONFLICT', `events up to position ${pruned} were pruned; a rebuild would lose their history (use rebuild --force)`);
    }
    const chunkSize = options.chunkSize ?? 10_000;
    const started = performance.now();
    const projector = new Projector();
    const head = await store.head();
    const clear = () => {
      for (const m of READ_MODELS) orm(db).delete(m.table).run();
    };
    // IMMEDIATE, like every write transaction: it reads before it writes.
    const runChunk = db.transaction((events: StoredEvent[], first: boolean, last: boolean) => {
      if (first) clear();
      projector.apply(db, events);
      projector.flush(db);
      if (last) recordVersions(db, Date.now());
    }).immediate;
    let done = 0;
    let after = 0;
    let first = true;
    for (;;) {
      const chunk = await store.readLog({ after, until: head, limit: chunkSize });
      const last = chunk.length < chunkSize;
      runChunk(chunk, first, last);
      first = false;
      done += chunk.length;
      if (last) break;
      after = chunk[chunk.length - 1].position;
      options.onProgress?.(done, head);
    }
    const durationMs = performance.now() - started;
    return { events: done, durationMs, eventsPerSecond: done / Math.max(durationMs / 1000, 1e-9) };
  });
}

/** Every read-model row as text, in a stable order: what "rebuild == inline" compares. */
export function snapshotReadModels(db: Db): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of READ_MODELS) {
    const id = col(getTableColumns(m.table).id);
    out[m.name] = (db.prepare(`SELECT * FROM ${tableName(m.table)} ORDER BY ${id}`).all() as object[]).map((r) => JSON.stringify(r));
  }
  return out;
}
