// Migrating the central database (src/fleet/migrate.ts): nodes and fleet
// processes all migrate on connecting, and may start together.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, postgresFor } from '../../helpers/fleet.ts';
import { migrateCentre, PG_MIGRATIONS } from '../../../src/fleet/migrate.ts';
import { relationsOf } from '../../helpers/migrationText.ts';

const Migrate = suite('migrateCentre');
const cluster = postgresFor(Migrate);

const journal = () => (JSON.parse(readFileSync(join(PG_MIGRATIONS, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;

Migrate('creates the events, node, cursor and read-model tables and the views on an empty database', async () => {
  const client = await connect(await cluster.pg.createDatabase());
  try {
    await migrateCentre(client);
    const { rows } = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    assert.equal(rows.map((r) => r.name), [
      'connection_stats', 'connection_timeline', 'connections', 'data_channel_samples', 'events', 'fleet_cursors', 'nodes', 'operation_durations',
      'operations', 'quality_samples', 'stall_periods', 'state_transitions', 'stats_samples', 'summary', 'task_outcomes', 'tasks', 'track_samples', 'viewer_quality', 'viewer_samples',
    ]);
    const key = await client.query<{ def: string }>("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'events_pkey'");
    assert.is(key.rows[0].def, 'PRIMARY KEY (node, node_position)');
    await migrateCentre(client);
    const applied = await client.query<{ n: number }>('SELECT count(*)::integer AS n FROM drizzle.__drizzle_migrations');
    assert.is(applied.rows[0].n, journal(), 'a second run applies nothing');
  } finally {
    await client.end();
  }
});

Migrate('applies each migration once when many processes start together', async () => {
  const url = await cluster.pg.createDatabase();
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect(url)));
  try {
    await Promise.all(clients.map((c) => migrateCentre(c)));
    const applied = await clients[0].query<{ n: number }>('SELECT count(*)::integer AS n FROM drizzle.__drizzle_migrations');
    assert.is(applied.rows[0].n, journal());
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

Migrate('builds exactly the tables and views, columns in order, that test/fleet/schema.test.ts reads from its text', async () => {
  const client = await connect(await cluster.pg.createDatabase());
  try {
    await migrateCentre(client);
    const { rows } = await client.query<{ name: string; view: boolean; columns: string[] }>(
      `SELECT c.table_name AS name, t.table_type = 'VIEW' AS view, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
       FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
       WHERE c.table_schema = 'public' GROUP BY c.table_name, t.table_type`,
    );
    const read = relationsOf(PG_MIGRATIONS);
    // Sorted here, not by the cluster's collation.
    const entries = (pairs: Iterable<[string, string[]]>) => [...pairs].sort(([a], [b]) => a.localeCompare(b));
    assert.equal(entries(rows.filter((r) => !r.view).map((r) => [r.name, r.columns])), entries(read.tables));
    assert.equal(entries(rows.filter((r) => r.view).map((r) => [r.name, r.columns])), entries(read.views));
  } finally {
    await client.end();
  }
});

Migrate.run();
