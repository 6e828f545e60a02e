// Opening the database: the one place pragmas and migrations are applied.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { AppError, isAppError } from '../errors.ts';
import { checkpoints } from './schema.ts';
import { orm } from './orm.ts';

const require = createRequire(import.meta.url);

export type Db = Database.Database;
/** A prepared statement, positional or named parameters. */
export type Statement = Database.Statement<unknown[]>;

const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

export type OpenOptions = {
  /** `synchronous` pragma: NORMAL is durable across process crashes in WAL mode; FULL also across power loss. */
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
};

/**
 * Opens (creating if needed) the database file, sets pragmas, applies pending
 * migrations and proves it can be written. A file SQLite can only read (its
 * permissions, a read-only mount, a directory where the -wal file cannot be
 * made) opens without complaint and fails every write later; here it fails
 * the open instead, with a message that names the file.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:' && isDirectory(path)) throw directoryGiven(path);
  let db: Db | null = null;
  try {
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path);
    applyPragmas(db, options);
    if (hasPendingMigrations(db)) {
      const { migrate } = require('drizzle-orm/better-sqlite3/migrator') as typeof import('drizzle-orm/better-sqlite3/migrator');
      migrate(orm(db), { migrationsFolder: MIGRATIONS });
    }
    proveWritable(db);
    return db;
  } catch (err) {
    db?.close();
    if (isAppError(err)) throw err;
    throw openError(path, err, 'writing');
  }
}

/** Where the database is given, for messages that tell the operator what to change. */
const WHERE_GIVEN = '--persistence-path or WEBRTC_MONITOR_DB';

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

const directoryGiven = (path: string) =>
  new AppError('NOT_A_DATABASE', `${resolve(path)} is a directory, not a database file; check ${WHERE_GIVEN} (e.g. ${join(resolve(path), 'monitor.db')})`);

/**
 * An error opening the database, naming the file (absolute) and what to do.
 * SQLite's own words ("file is not a database", "unable to open database
 * file") say neither.
 */
function openError(path: string, err: unknown, purpose: 'reading' | 'writing'): AppError {
  const file = resolve(path);
  const code = (err as { code?: string }).code;
  const said = `${(err as Error).message}${code ? ` (${code})` : ''}`;
  if (code === 'SQLITE_NOTADB') {
    return new AppError('NOT_A_DATABASE', `${file} is not a database (SQLite says: ${said}); check ${WHERE_GIVEN}: it must name the file \`webrtc-monitor serve\` created`);
  }
  if (code === 'SQLITE_CANTOPEN') {
    return new AppError(
      purpose === 'reading' ? 'NOT_FOUND' : 'STORAGE_UNAVAILABLE',
      `the database ${file} cannot be opened for ${purpose}: ${said}; check that it is a file (not a directory), that its directory exists, and that you may ${purpose === 'reading' ? 'read' : 'write'} both; check ${WHERE_GIVEN}`,
    );
  }
  return new AppError(
    'STORAGE_UNAVAILABLE',
    `the database ${file} cannot be opened for ${purpose}: ${said}; ` +
      (purpose === 'writing' ? 'check that the file and its directory are writable and that the disk has space' : `check ${WHERE_GIVEN}`),
  );
}

/** A write that is rolled back: SQLite only reports a read-only database when something writes. */
function proveWritable(db: Db) {
  db.exec('BEGIN IMMEDIATE');
  try {
    orm(db)
      .insert(checkpoints)
      .values({ consumer: '(write probe)', position: 0, updatedAt: 0 })
      .onConflictDoUpdate({ target: checkpoints.consumer, set: { position: 0 } })
      .run();
  } finally {
    // Some errors (I/O, full) roll the transaction back by themselves.
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}

/**
 * Whether the newest migration in the journal is not yet recorded in the
 * database. drizzle's migrator records each applied migration's journal
 * `when` as `created_at` in `__drizzle_migrations` and applies those newer
 * than the last one, so this is the same test it makes.
 */
function hasPendingMigrations(db: Db): boolean {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta/_journal.json'), 'utf8')) as { entries: { when: number }[] };
  const newest = Math.max(...journal.entries.map((e) => e.when));
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!table) return true;
  const applied = db.prepare('SELECT max(created_at) FROM __drizzle_migrations').pluck().get() as number | null;
  return applied === null || applied < newest;
}

/**
 * Opens an existing database of ours read-only: writes fail inside SQLite
 * itself. A missing file, a file that is not SQLite and an SQLite file
 * without our tables are refused here, each saying which file and what to do.
 */
export function openReadOnly(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new AppError('NOT_FOUND', `no database at ${resolve(path)}: check ${WHERE_GIVEN}, or run \`webrtc-monitor serve\` once to create it`);
  }
  if (isDirectory(path)) throw directoryGiven(path);
  let db: Db | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    db.pragma('query_only = ON');
    // SQLite reads the file lazily: a first read finds out whether it is a database at all.
    const ours = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
    if (!ours) {
      throw new AppError('NOT_A_DATABASE', `${resolve(path)} is an SQLite database without webrtc-monitor's tables (no events table); check ${WHERE_GIVEN}`);
    }
    return db;
  } catch (err) {
    db?.close();
    if (isAppError(err)) throw err;
    throw openError(path, err, 'reading');
  }
}

function applyPragmas(db: Db, options: OpenOptions) {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  db.pragma('foreign_keys = ON');
  // Read models and the log are hot; a larger page cache avoids re-reading them.
  db.pragma('cache_size = -32000');
}
