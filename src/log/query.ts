// `webrtc-monitor query`: one SQL statement over a read-only connection.
// Writes are refused twice over: the statement must be a reader, and the
// connection itself is read-only (query_only), so even a clever statement
// that slips past the first check cannot change the file.
import type { Db } from './open.ts';
import { AppError } from './errors.ts';

export function runQuery(db: Db, sql: string): { columns: string[]; rows: Record<string, unknown>[] } {
  let stmt;
  try {
    stmt = db.prepare(sql);
  } catch (err) {
    throw new AppError(400, 'SQL_ERROR', (err as Error).message);
  }
  if (!stmt.reader) {
    throw new AppError(403, 'READ_ONLY', 'query is read-only: only statements that return rows (SELECT, WITH, read-only PRAGMA) are allowed');
  }
  try {
    const rows = stmt.all() as Record<string, unknown>[];
    return { columns: stmt.columns().map((c) => c.name), rows };
  } catch (err) {
    const message = (err as Error).message;
    if (/readonly|read-only|query_only/i.test(message)) throw new AppError(403, 'READ_ONLY', `query is read-only: ${message}`);
    throw new AppError(400, 'SQL_ERROR', message);
  }
}

/** Rows as an aligned text table, the way sqlite3's `.mode column` prints them. */
export function formatTable(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (values: string[]) =>
    values.map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : v.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows) out.push(line(columns.map((c) => cell(r[c]))));
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}
