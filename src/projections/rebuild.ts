// Rebuild: throw the read models away and replay the whole log through the
// same reducers the append path uses inline.
import type { Db } from '../log/open.ts';
import { iterateAll, headPosition } from '../log/read.ts';
import { Projector } from './projector.ts';

export const READ_MODEL_TABLES = ['connections', 'operations', 'tasks', 'issues', 'summary'] as const;

export type RebuildReport = { events: number; durationMs: number; eventsPerSecond: number };

/**
 * Replays the log into emptied read-model tables, in transactions of
 * `chunkSize` events. The clear and the first chunk share a transaction, and
 * the log is read up to the head at start, so a concurrent reader never sees
 * empty tables for long and appends made meanwhile are not applied twice
 * (rebuild is meant to run with the server stopped; the CLI says so).
 */
export function rebuild(
  db: Db,
  options: { chunkSize?: number; onProgress?: (done: number, total: number) => void } = {},
): RebuildReport {
  const chunkSize = options.chunkSize ?? 10_000;
  const started = performance.now();
  const projector = new Projector();
  const head = headPosition(db);
  let done = 0;
  const clear = () => {
    for (const table of READ_MODEL_TABLES) db.prepare(`DELETE FROM ${table}`).run();
  };
  const runChunk = db.transaction((events: Parameters<Projector['apply']>[1], first: boolean) => {
    if (first) clear();
    projector.apply(db, events);
    projector.flush(db);
    // IMMEDIATE, like every write transaction: it reads before it writes.
  }).immediate;
  let chunk: Parameters<Projector['apply']>[1] = [];
  let first = true;
  for (const event of iterateAll(db, { until: head, pageSize: chunkSize })) {
    chunk.push(event);
    if (chunk.length === chunkSize) {
      runChunk(chunk, first);
      first = false;
      done += chunk.length;
      chunk = [];
      options.onProgress?.(done, head);
    }
  }
  if (chunk.length || first) runChunk(chunk, first);
  done += chunk.length;
  const durationMs = performance.now() - started;
  return { events: done, durationMs, eventsPerSecond: done / Math.max(durationMs / 1000, 1e-9) };
}

/** Every read-model row as text, in a stable order: what "rebuild == inline" compares. */
export function snapshotReadModels(db: Db): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const table of READ_MODEL_TABLES) {
    out[table] = (db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as object[]).map((r) => JSON.stringify(r));
  }
  return out;
}
