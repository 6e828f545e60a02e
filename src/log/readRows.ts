// Pages of the log as stored rows (`data` and `meta` still JSON text), for
// consumers that pass events on rather than read them: the fleet forwarder
// ships these bytes to PostgreSQL as they are, with no parse and no
// re-serialisation on the node.
import type { Db } from './open.ts';
import type { EventRow } from './read.ts';
import { cachedStatement } from './statements.ts';

/** Up to `limit` rows after `after`, in position order. */
export function readRowsAfter(db: Db, after: number, limit: number): EventRow[] {
  return cachedStatement(
    db,
    'SELECT position, stream, version, type, data, meta, recorded_at FROM events WHERE position > ? ORDER BY position LIMIT ?',
  ).all([after, limit]) as EventRow[];
}

/** The position and time of the first event after `after`, or null when there is none. */
export function firstAfter(db: Db, after: number): { position: number; recordedAt: number } | null {
  const row = cachedStatement(db, 'SELECT position, recorded_at FROM events WHERE position > ? ORDER BY position LIMIT 1').get([after]) as
    | { position: number; recorded_at: number }
    | undefined;
  return row ? { position: row.position, recordedAt: row.recorded_at } : null;
}
