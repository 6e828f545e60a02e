// Reading the log back: one stream, or the whole log from a position, in pages.
import type { Db } from './open.ts';
import type { StoredEvent } from './catalogue.ts';
import { cachedStatement } from './statements.ts';

export type EventRow = {
  position: number;
  stream: string;
  version: number;
  type: string;
  data: string;
  meta: string;
  recorded_at: number;
};

const COLUMNS = 'position, stream, version, type, data, meta, recorded_at';

export function rowToEvent(row: EventRow): StoredEvent {
  return {
    position: row.position,
    stream: row.stream,
    version: row.version,
    type: row.type,
    data: JSON.parse(row.data),
    meta: JSON.parse(row.meta),
    recordedAt: row.recorded_at,
  } as StoredEvent;
}

export type ReadStreamOptions = {
  /** Only events after this stream version (default 0: from the start). */
  afterVersion?: number;
  /** Only events at or before this log position (time travel). */
  untilPosition?: number;
  /** Only events recorded at or before this epoch ms (time travel). */
  untilTime?: number;
  limit?: number;
};

const stmt = cachedStatement;

/** Rows of one stream in version order, with `data` and `meta` still JSON text. */
export function readStreamRows(db: Db, stream: string, options: ReadStreamOptions = {}): EventRow[] {
  const sql = `SELECT ${COLUMNS} FROM events WHERE stream = ? AND version > ? AND position <= ? AND recorded_at <= ?
       ORDER BY version LIMIT ?`;
  return stmt(db, sql).all([
    stream,
    options.afterVersion ?? 0,
    options.untilPosition ?? Number.MAX_SAFE_INTEGER,
    options.untilTime ?? Number.MAX_SAFE_INTEGER,
    options.limit ?? -1,
  ]) as EventRow[];
}

/** Events of one stream in version order. */
export function readStream(db: Db, stream: string, options: ReadStreamOptions = {}): StoredEvent[] {
  return readStreamRows(db, stream, options).map(rowToEvent);
}

export type ReadAllOptions = {
  /** Events after this log position (exclusive). */
  after?: number;
  /**
   * Only events at or before this position. With a filter that matches
   * rarely, this bounds how many rows one query scans: a reader that must
   * not hold the event loop reads a window at a time.
   */
  until?: number;
  limit: number;
  /** Only streams with this prefix, e.g. `connection:`. */
  streamPrefix?: string;
  /** Only this exact stream. */
  stream?: string;
  types?: string[];
};

/** A page of the whole log in position order. */
export function readAll(db: Db, options: ReadAllOptions): StoredEvent[] {
  return readAllRows(db, options).map(rowToEvent);
}

/** readAll with `data` and `meta` still JSON text, for callers that send them on as they are. */
export function readAllRows(db: Db, options: ReadAllOptions): EventRow[] {
  const where = ['position > ?'];
  const args: unknown[] = [options.after ?? 0];
  if (options.until !== undefined) {
    where.push('position <= ?');
    args.push(options.until);
  }
  if (options.stream) {
    where.push('stream = ?');
    args.push(options.stream);
  } else if (options.streamPrefix) {
    // substr comparison, not LIKE: ids may contain % or _.
    where.push('substr(stream, 1, ?) = ?');
    args.push(options.streamPrefix.length, options.streamPrefix);
  }
  if (options.types?.length) {
    where.push(`type IN (${options.types.map(() => '?').join(', ')})`);
    args.push(...options.types);
  }
  args.push(options.limit);
  return stmt(db, `SELECT ${COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY position LIMIT ?`).all(args) as EventRow[];
}

/** Iterates the log in pages so memory stays flat however long it is. */
export function* iterateAll(db: Db, options: { after?: number; pageSize?: number; until?: number } = {}) {
  const pageSize = options.pageSize ?? 5000;
  const until = options.until ?? Number.MAX_SAFE_INTEGER;
  const stmt = db.prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`);
  let after = options.after ?? 0;
  for (;;) {
    const rows = stmt.all(after, until, pageSize) as EventRow[];
    for (const row of rows) yield rowToEvent(row);
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].position;
  }
}

/** The last position in the log (0 when empty). */
export function headPosition(db: Db): number {
  return (db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck().get() as number) ?? 0;
}

/**
 * Streams (`server:<id>`) created and never stopped, with when they were
 * created. Reads the `server:` range of the (stream, version) index only, so
 * it costs the number of server streams, not the length of the log.
 */
export function unstoppedServers(db: Db): { id: string; createdAtMs: number }[] {
  const rows = stmt(
    db,
    `SELECT substr(e.stream, 8) AS id, e.recorded_at AS createdAtMs FROM events e
      WHERE e.stream >= 'server:' AND e.stream < 'server;' AND e.type = 'server.created'
        AND NOT EXISTS (SELECT 1 FROM events s WHERE s.stream = e.stream AND s.type = 'server.stopped')`,
  ).all([]) as { id: string; createdAtMs: number }[];
  return rows;
}
