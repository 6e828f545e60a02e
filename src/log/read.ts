// Reading the log back: one stream, or the whole log from a position, in
// pages. These are the SQLite store's hot reads (the SSE feed, the paged log,
// a connection's timeline, the forwarder's batches): prepared statements,
// cached per handle, their names taken from the schema.
import type { Db } from './open.ts';
import type { StoredEvent } from './catalogue.ts';
import type { EventRow, ReadLogOptions, ReadStreamOptions } from './store.ts';
import { events } from './schema.ts';
import { col, selectAs, tableName } from './names.ts';
import { cachedStatement as stmt } from './statements.ts';

const e = events;
const EVENTS = tableName(e);
const POSITION = col(e.position);
const STREAM = col(e.stream);
const VERSION = col(e.version);
const TYPE = col(e.type);
const RECORDED_AT = col(e.recordedAt);
/** Every column, keyed as EventRow is. */
const ROW = selectAs({
  position: e.position,
  stream: e.stream,
  version: e.version,
  type: e.type,
  data: e.data,
  meta: e.meta,
  recordedAt: e.recordedAt,
} satisfies { [K in keyof EventRow]: unknown });

export function rowToEvent(row: EventRow): StoredEvent {
  return {
    position: row.position,
    stream: row.stream,
    version: row.version,
    type: row.type,
    data: JSON.parse(row.data),
    meta: JSON.parse(row.meta),
    recordedAt: row.recordedAt,
  } as StoredEvent;
}

const STREAM_WHERE = `${STREAM} = ? AND ${VERSION} > ? AND ${POSITION} <= ? AND ${RECORDED_AT} <= ?`;

/** Rows of one stream in version order, with `data` and `meta` still JSON text. */
export function readStreamRows(db: Db, stream: string, options: ReadStreamOptions = {}): EventRow[] {
  const args: unknown[] = [
    stream,
    options.afterVersion ?? 0,
    options.untilPosition ?? Number.MAX_SAFE_INTEGER,
    options.untilTime ?? Number.MAX_SAFE_INTEGER,
  ];
  let where = STREAM_WHERE;
  const excluded = options.excludeTypes ?? [];
  if (excluded.length) {
    where += ` AND ${TYPE} NOT IN (${excluded.map(() => '?').join(', ')})`;
    args.push(...excluded);
  }
  args.push(options.limit ?? -1);
  // Newest: walk the (stream, version) index backwards and stop at `limit`,
  // so the page costs its own size, not the stream's length.
  const rows = stmt(db, `SELECT ${ROW} FROM ${EVENTS} WHERE ${where} ORDER BY ${VERSION}${options.newest ? ' DESC' : ''} LIMIT ?`).all(args) as EventRow[];
  return options.newest ? rows.reverse() : rows;
}

/** A page of the log in position order (descending when asked), `data` and `meta` still JSON text. */
export function readLogRows(db: Db, options: ReadLogOptions): EventRow[] {
  const where = [`${POSITION} > ?`];
  const args: unknown[] = [options.after ?? 0];
  if (options.until !== undefined) {
    where.push(`${POSITION} <= ?`);
    args.push(options.until);
  }
  if (options.stream) {
    where.push(`${STREAM} = ?`);
    args.push(options.stream);
  } else if (options.streamPrefix) {
    // substr comparison, not LIKE: ids may contain % or _.
    where.push(`substr(${STREAM}, 1, ?) = ?`);
    args.push(options.streamPrefix.length, options.streamPrefix);
  }
  if (options.types?.length) {
    where.push(`${TYPE} IN (${options.types.map(() => '?').join(', ')})`);
    args.push(...options.types);
  }
  args.push(options.limit);
  // Descending walks the primary key backwards from `until` and stops at `limit`.
  const order = options.descending ? ' DESC' : '';
  return stmt(db, `SELECT ${ROW} FROM ${EVENTS} WHERE ${where.join(' AND ')} ORDER BY ${POSITION}${order} LIMIT ?`).all(args) as EventRow[];
}

/** Iterates the log in pages so memory stays flat however long it is (archive, rebuild). */
export function* iterateLog(db: Db, options: { after?: number; pageSize?: number; until?: number } = {}): Generator<StoredEvent> {
  const pageSize = options.pageSize ?? 5000;
  const until = options.until ?? Number.MAX_SAFE_INTEGER;
  let after = options.after ?? 0;
  for (;;) {
    const rows = readLogRows(db, { after, until, limit: pageSize });
    for (const row of rows) yield rowToEvent(row);
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].position;
  }
}

/** The last position in the log (0 when empty). */
export function headPosition(db: Db): number {
  return stmt(db, `SELECT coalesce(max(${POSITION}), 0) FROM ${EVENTS}`).pluck().get() as number;
}

/** The position and time of the first event after `after`, or null when there is none. */
export function firstAfter(db: Db, after: number): { position: number; recordedAt: number } | null {
  const row = stmt(db, `SELECT ${POSITION} AS position, ${RECORDED_AT} AS recordedAt FROM ${EVENTS} WHERE ${POSITION} > ? ORDER BY ${POSITION} LIMIT 1`).get([
    after,
  ]) as { position: number; recordedAt: number } | undefined;
  return row ?? null;
}
