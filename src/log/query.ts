// `webrtc-monitor query`: one SQL statement over a read-only connection.
// Writes are refused twice over: the statement must be a reader, and the
// connection itself is read-only (query_only), so even a clever statement
// that slips past the first check cannot change the file.
//
// A runaway query (an endless recursive CTE, a cross join of the log with
// itself) is stopped after a timeout: better-sqlite3 runs a statement
// synchronously and offers no sqlite3_interrupt, so the statement runs in a
// child process that is killed when time is up. (A worker thread cannot be
// stopped inside native code: even process.exit() waits for it.)
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Db } from './open.ts';
import { openReadOnly } from './open.ts';
import { AppError } from '../errors.ts';

const require = createRequire(import.meta.url);

/** How long `query` lets a statement run by default. */
export const QUERY_TIMEOUT_MS = 30_000;

/** A statement to suggest for finding connection ids (the CLI's hint when one is unknown). */
export const RECENT_CONNECTIONS_SQL = 'SELECT id, created_at FROM connections ORDER BY created_at DESC LIMIT 20';

// A PRAGMA that sets something returns a row too, so `stmt.reader` lets it
// through and SQLite then fails it with "disk I/O error" or "database is
// locked": refuse it here, by name, with a message that says why. Names may
// be quoted ("x", 'x', [x], `x`), with or without a schema.
const BACKTICK = '`';
const NAME = `(?:\\w+|"[^"]*"|'[^']*'|\\[[^\\]]*\\]|${BACKTICK}[^${BACKTICK}]*${BACKTICK})`;
const PRAGMA = new RegExp(`^(?:\\s|--[^\\n]*\\n|\\/\\*[\\s\\S]*?\\*\\/)*PRAGMA\\s+(?:${NAME}\\s*\\.\\s*)?(${NAME})\\s*([=(])?`, 'i');
const unquote = (name: string) => ('"\'[`'.includes(name[0]) ? name.slice(1, -1) : name);
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
  const name = unquote(m[1]).trim().toLowerCase();
  const sets = m[2] === '=' || (m[2] === '(' && !READING_PRAGMAS_WITH_ARGUMENT.has(name));
  if (sets || WRITING_PRAGMAS.has(name)) {
    throw new AppError('READ_ONLY', `query is read-only: PRAGMA ${name} would change the database or its settings`);
  }
}

/** Checks a statement without running it; returns it prepared. */
function prepareQuery(db: Db, sql: string) {
  refuseWritingPragma(sql);
  let stmt;
  try {
    stmt = db.prepare(sql);
  } catch (err) {
    throw new AppError('SQL_ERROR', (err as Error).message);
  }
  if (!stmt.reader) {
    throw new AppError('READ_ONLY', 'query is read-only: only statements that return rows (SELECT, WITH, read-only PRAGMA) are allowed');
  }
  return stmt;
}

function executionError(message: string): AppError {
  if (/readonly|read-only|query_only/i.test(message)) return new AppError('READ_ONLY', `query is read-only: ${message}`);
  return new AppError('SQL_ERROR', message);
}

export function runQuery(db: Db, sql: string): { columns: string[]; rows: Record<string, unknown>[] } {
  const stmt = prepareQuery(db, sql);
  try {
    const rows = stmt.all() as Record<string, unknown>[];
    return { columns: stmt.columns().map((c) => c.name), rows };
  } catch (err) {
    throw executionError((err as Error).message);
  }
}

// The child: the same read-only connection (query_only), the statement, the rows back as JSON.
const CHILD = `
const Database = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8').on('data', (c) => (input += c)).on('end', () => {
  const { path, sql } = JSON.parse(input);
  let out;
  let db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.pragma('query_only = ON');
    const stmt = db.prepare(sql);
    const rows = stmt.all();
    out = { columns: stmt.columns().map((c) => c.name), rows };
  } catch (err) {
    out = { error: String((err && err.message) || err) };
  } finally {
    if (db) db.close();
  }
  process.stdout.write(JSON.stringify(out));
});
`;

/**
 * runQuery on the database at `path`, in a child process killed after
 * `timeoutMs` (rejects with TIMEOUT then).
 */
export async function runQueryWithTimeout(path: string, sql: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  // Checked here first (prepare runs nothing), so a refusal needs no child.
  const db = openReadOnly(path);
  try {
    prepareQuery(db, sql);
  } finally {
    db.close();
  }
  const child = spawn(process.execPath, ['-e', CHILD, require.resolve('better-sqlite3')], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(JSON.stringify({ path, sql }));
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new AppError('INTERNAL', `the query could not be run: ${err.message}`));
    });
    child.once('close', () => {
      clearTimeout(timer);
      if (timedOut) return reject(new AppError('QUERY_TIMEOUT', `the query ran for ${timeoutMs} ms and was stopped (use --timeout to allow longer)`));
      let out: { error?: string; columns: string[]; rows: Record<string, unknown>[] };
      try {
        out = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reject(new AppError('INTERNAL', `the query process failed: ${stderr.trim() || 'no output'}`));
      }
      if (out.error !== undefined) reject(executionError(out.error));
      else resolve({ columns: out.columns, rows: out.rows });
    });
  });
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
