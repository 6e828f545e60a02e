// Opening the database: the one place pragmas and migrations are applied.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { AppError } from './errors.ts';

export type Db = Database.Database;

const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

export type OpenOptions = {
  /** `synchronous` pragma: NORMAL is durable across process crashes in WAL mode; FULL also across power loss. */
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
};

/** Opens (creating if needed) the database file, sets pragmas and applies pending migrations. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const db = new Database(path);
  applyPragmas(db, options);
  migrate(drizzle(db), { migrationsFolder: MIGRATIONS });
  return db;
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
