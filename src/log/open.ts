// Opening the database: the one place pragmas and migrations are applied.
import { mkdirSync, readFileSync } from 'node:fs';
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
    const code = (err as { code?: string }).code;
    throw new AppError(
      503,
      'STORAGE_UNAVAILABLE',
      `the database ${resolve(path)} cannot be opened for writing: ${(err as Error).message}${code ? ` (${code})` : ''}; ` +
        'check that the file and its directory are writable and that the disk has space',
    );
  }
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

/** Opens an existing database read-only: writes fail inside SQLite itself. */
export function openReadOnly(path: string, options: OpenOptions = {}): Db {
  let db: Db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new AppError(404, 'NOT_FOUND', `cannot open database ${path}: ${(err as Error).message}`);
  }
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  db.pragma('query_only = ON');
  return db;
}

function applyPragmas(db: Db, options: OpenOptions) {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  db.pragma('foreign_keys = ON');
  // Read models and the log are hot; a larger page cache avoids re-reading them.
  db.pragma('cache_size = -32000');
}
