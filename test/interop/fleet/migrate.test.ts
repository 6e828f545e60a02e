// Migrating the central database (src/fleet/migrate.ts): nodes and fleet
// processes all migrate on connecting, and may start together.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, postgresFor } from '../../helpers/fleet.ts';
import { migrateCentre, PG_MIGRATIONS } from '../../../src/fleet/migrate.ts';

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
      'connection_timeline', 'connections', 'data_channel_samples', 'events', 'fleet_cursors', 'nodes', 'operation_durations',
      'operations', 'stall_periods', 'state_transitions', 'stats_samples', 'summary', 'task_outcomes', 'tasks', 'track_samples',
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

Migrate.run();
