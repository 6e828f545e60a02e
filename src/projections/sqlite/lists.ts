// The shape every SQLite list query of the read models shares: newest first
// by `created_position`, a cursor that is the last item's position, stored
// JSON text out. Each model's filters live with the model
// (src/projections/models/); its table and column names come from the schema.
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { AppError } from '../../errors.ts';
import type { Db } from '../../log/open.ts';
import { col, tableName } from '../../log/names.ts';
import { cachedStatement } from '../../log/statements.ts';
import type { Page, StoredRow } from '../reads.ts';

/** Cursors are the created_position of the last item shown, opaque to clients. */
export const encodeCursor = (position: number) => Buffer.from(`p${position}`).toString('base64url');

/** The position a cursor stands for; null for none; a 400 for one this server did not issue. */
export function decodeCursor(cursor: string | null | undefined): number | null {
  if (!cursor) return null;
  const n = /^p(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!n || !Number.isSafeInteger(Number(n[1]))) throw new AppError('BAD_REQUEST', 'cursor: not a cursor this server issued');
  return Number(n[1]);
}

/** The columns a list reads: every read-model table has them (a model of no connection, such as streams, has no connectionId). */
export type ListColumns = { id: SQLiteColumn; connectionId?: SQLiteColumn; state: SQLiteColumn; createdPosition: SQLiteColumn };

/** WHERE clauses and their arguments, built up by a model's filters. */
export class Filter {
  readonly where: string[] = [];
  readonly args: unknown[] = [];

  anyOf(column: SQLiteColumn, values: readonly (string | number)[] | undefined): this {
    if (!values?.length) return this;
    this.where.push(`${col(column)} IN (${values.map(() => '?').join(', ')})`);
    this.args.push(...values);
    return this;
  }

  equals(column: SQLiteColumn, value: string | number | undefined): this {
    if (value === undefined) return this;
    this.where.push(`${col(column)} = ?`);
    this.args.push(value);
    return this;
  }

  /** A clause written by the model, `?` for each argument. */
  raw(clause: string, ...args: unknown[]): this {
    this.where.push(clause);
    this.args.push(...args);
    return this;
  }
}

/** One page, newest first, of the rows matching `filter`, before the cursor. */
export function storedPage(db: Db, table: SQLiteTable, columns: ListColumns, filter: Filter, limit: number, cursor: string | null | undefined): Page<StoredRow> {
  const before = decodeCursor(cursor) ?? Number.MAX_SAFE_INTEGER;
  const position = col(columns.createdPosition);
  const where = [`${position} < ?`, ...filter.where];
  const connectionId = columns.connectionId ? col(columns.connectionId) : 'NULL';
  const sql = `SELECT ${col(columns.id)} AS id, ${connectionId} AS connectionId, ${col(columns.state)} AS json,
      ${position} AS createdPosition
    FROM ${tableName(table)} WHERE ${where.join(' AND ')} ORDER BY ${position} DESC LIMIT ?`;
  const rows = cachedStatement(db, sql).all([before, ...filter.args, limit + 1]) as (StoredRow & { createdPosition: number })[];
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].createdPosition) : null };
}
