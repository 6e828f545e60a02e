// The read side: every monitor answer comes from these queries over the read
// models, or from folding a stream of the log (time travel).
import type { Db } from '../log/open.ts';
import { readStream } from '../log/read.ts';
import { streamName } from '../log/catalogue.ts';
import { foldConnection, type ConnectionCategory, type ConnectionModel } from './connection.ts';
import type { OperationModel, OperationStatus } from './operation.ts';
import type { TaskModel } from './task.ts';
import type { TaskStatus } from '../log/catalogue.ts';
import { emptySummary, type SummaryModel } from './summary.ts';

export type Page<T> = { items: T[]; nextCursor: string | null };

const parse = <T>(rows: unknown[]) => (rows as string[]).map((s) => JSON.parse(s) as T);

// Statements are prepared once per database handle.
const cache = new WeakMap<Db, Map<string, ReturnType<Db['prepare']>>>();
function stmt(db: Db, sql: string) {
  let byDb = cache.get(db);
  if (!byDb) cache.set(db, (byDb = new Map()));
  let s = byDb.get(sql);
  if (!s) byDb.set(sql, (s = db.prepare(sql)));
  return s;
}

/** Cursors are the created_position of the last item shown; lists run newest first. */
export const encodeCursor = (position: number) => Buffer.from(`p${position}`).toString('base64url');
export function decodeCursor(cursor: string | undefined): number | null {
  if (!cursor) return null;
  const text = Buffer.from(cursor, 'base64url').toString();
  const n = /^p(\d+)$/.exec(text);
  return n ? Number(n[1]) : NaN;
}

function paged<T extends { created_position: number }>(items: T[], limit: number): Page<T> {
  const more = items.length > limit;
  const shown = more ? items.slice(0, limit) : items;
  return { items: shown, nextCursor: more ? encodeCursor(shown[shown.length - 1].created_position) : null };
}

export function getSummary(db: Db): SummaryModel {
  const row = stmt(db, 'SELECT state FROM summary WHERE id = 1').pluck().get() as string | undefined;
  return row ? JSON.parse(row) : emptySummary();
}

export function getConnection(db: Db, id: string): ConnectionModel | null {
  const row = stmt(db, 'SELECT state FROM connections WHERE id = ?').pluck().get(id) as string | undefined;
  return row ? JSON.parse(row) : null;
}

export function listConnections(
  db: Db,
  options: { categories?: ConnectionCategory[]; includeClosed?: boolean; serverId?: string; limit: number; before?: number | null },
): Page<ConnectionModel> {
  const where = ['created_position < ?'];
  const args: unknown[] = [options.before ?? Number.MAX_SAFE_INTEGER];
  if (options.categories?.length) {
    where.push(`category IN (${options.categories.map(() => '?').join(', ')})`);
    args.push(...options.categories);
  } else if (!options.includeClosed) {
    where.push(`category <> 'closed'`);
  }
  if (options.serverId) {
    where.push('server_id = ?');
    args.push(options.serverId);
  }
  const sql = `SELECT state FROM connections WHERE ${where.join(' AND ')} ORDER BY created_position DESC LIMIT ?`;
  const rows = stmt(db, sql).pluck().all(...args, options.limit + 1);
  return paged(parse<ConnectionModel>(rows), options.limit);
}

/** What a connection looked like at a time (epoch ms) or log position. */
export function connectionAt(db: Db, id: string, at: { time?: number; position?: number }): ConnectionModel | null {
  const events = readStream(db, streamName('connection', id), { untilTime: at.time, untilPosition: at.position });
  return foldConnection(id, events);
}

export function getOperation(db: Db, id: string): OperationModel | null {
  const row = stmt(db, 'SELECT state FROM operations WHERE id = ?').pluck().get(id) as string | undefined;
  return row ? JSON.parse(row) : null;
}

/** `statuses` empty means every status. */
export function listOperations(
  db: Db,
  options: { statuses: OperationStatus[]; type?: string; limit: number; before?: number | null },
): Page<OperationModel> {
  const where = ['created_position < ?'];
  const args: unknown[] = [options.before ?? Number.MAX_SAFE_INTEGER];
  if (options.statuses.length) {
    where.push(`status IN (${options.statuses.map(() => '?').join(', ')})`);
    args.push(...options.statuses);
  }
  if (options.type) {
    where.push('type = ?');
    args.push(options.type);
  }
  const sql = `SELECT state FROM operations WHERE ${where.join(' AND ')} ORDER BY created_position DESC LIMIT ?`;
  return paged(parse<OperationModel>(stmt(db, sql).pluck().all(...args, options.limit + 1)), options.limit);
}

export function listTasks(
  db: Db,
  options: { statuses: TaskStatus[]; connectionId?: string; operationId?: string; limit: number; before?: number | null },
): Page<TaskModel> {
  const where = ['created_position < ?'];
  const args: unknown[] = [options.before ?? Number.MAX_SAFE_INTEGER];
  if (options.statuses.length) {
    where.push(`status IN (${options.statuses.map(() => '?').join(', ')})`);
    args.push(...options.statuses);
  }
  if (options.connectionId) {
    where.push('connection_id = ?');
    args.push(options.connectionId);
  }
  if (options.operationId) {
    where.push('operation_id = ?');
    args.push(options.operationId);
  }
  const sql = `SELECT state FROM tasks WHERE ${where.join(' AND ')} ORDER BY created_position DESC LIMIT ?`;
  return paged(parse<TaskModel>(stmt(db, sql).pluck().all(...args, options.limit + 1)), options.limit);
}
