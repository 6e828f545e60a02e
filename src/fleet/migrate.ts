// Migrating the central database: every process that connects to it (each
// node's forwarder, each fleet process) brings it up to date before using
// it, so a fresh database needs no separate step. They may start together,
// so migrations run under an advisory lock; drizzle's migrator then applies
// only what is missing, in one transaction.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CentreClient } from './pg.ts';
import { MIGRATION_LOCK } from './coordination.ts';

const require = createRequire(import.meta.url);

export const PG_MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations/pg');

const newestMigration = () =>
  Math.max(...(JSON.parse(readFileSync(join(PG_MIGRATIONS, 'meta/_journal.json'), 'utf8')) as { entries: { when: number }[] }).entries.map((e) => e.when));

/**
 * Whether drizzle's record of applied migrations lacks the newest one (the
 * same test its migrator makes), so an up-to-date database costs one query
 * and drizzle is not even loaded.
 */
async function pending(client: CentreClient): Promise<boolean> {
  // Two statements: a query naming a table that does not exist fails to parse, whatever branch it is in.
  const exists = await client.query(`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS exists`);
  if (!exists.rows[0]?.exists) return true;
  const { rows } = await client.query<{ applied: number | null }>('SELECT max(created_at) AS applied FROM drizzle.__drizzle_migrations');
  const applied = rows[0]?.applied ?? null;
  return applied === null || applied < newestMigration();
}

/** Applies pending migrations over `client`'s session; safe to call from many processes at once. */
export async function migrateCentre(client: CentreClient): Promise<void> {
  if (!(await pending(client))) return;
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    if (!(await pending(client))) return;
    const { drizzle } = require('drizzle-orm/node-postgres') as typeof import('drizzle-orm/node-postgres');
    const { migrate } = require('drizzle-orm/node-postgres/migrator') as typeof import('drizzle-orm/node-postgres/migrator');
    await migrate(drizzle({ client }), { migrationsFolder: PG_MIGRATIONS });
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
