// `webrtc-monitor query`: one SQL statement over a read-only connection.
// Writes are refused twice over: the statement must be a reader, and the
// connection itself is read-only (query_only), so even a clever statement
// that slips past the first check cannot change the file.
import type { Db } from './open.ts';
import { AppError } from './errors.ts';

// A PRAGMA that sets something returns a row too, so `stmt.reader` lets it
// through and SQLite then fails it with "disk I/O error" or "database is
// locked": refuse it here, by name, with a message that says why.
const PRAGMA = /^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*PRAGMA\s+(?:\w+\s*\.\s*)?(\w+)\s*([=(])?/i;
/** Pragmas that only read, even with an argument (`table_info(events)`). */
const READING_PRAGMAS_WITH_ARGUMENT = new Set([
  'table_info', 'table_xinfo', 'table_list', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list',
  'foreign_key_check', 'integrity_check', 'quick_check', 'pragma_list', 'function_list', 'module_list',
  'collation_list', 'database_list', 'compile_options',
]);
/** Pragmas that write (or try to) even without an argument. */
const WRITING_PRAGMAS = new Set(['wal_checkpoint', 'optimize', 'incremental_vacuum', 'shrink_memory']);

function refuseWritingPragma(sql: string) {
  const m = PRAGMA.exec(sql);
  if (!m) return;
  const name = m[1].toLowerCase();
  const sets = m[2] === '=' || (m[2] === '(' && !READING_PRAGMAS_WITH_ARGUMENT.has(name));
  if (sets || WRITING_PRAGMAS.has(name)) {
    throw new AppError(403, 'READ_ONLY', `query is read-only: PRAGMA ${name} would change the database or its settings`);
  }
}

export function runQuery(db: Db, sql: string): { columns: string[]; rows: Record<string, unknown>[] } {
  refuseWritingPragma(sql);
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
