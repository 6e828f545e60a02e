// The central schema against the node's, with no PostgreSQL: the node's
// tables and views as SQLite reports them, the central ones as their
// migrations (migrations/pg) leave them. A column or view added on the node
// without its fleet twin fails here, in `npm test`, not only in the fleet
// suites that need a cluster (test/interop/fleet).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { freshStore, type TestStore } from '../helpers/db.ts';
import { relationsOf } from '../helpers/migrationText.ts';
import * as central from '../../src/fleet/schema.ts';
import { PG_MIGRATIONS } from '../../src/fleet/migrate.ts';

const NODE_MIGRATIONS = join(PG_MIGRATIONS, '..');

/** The node's tables and views with their columns in order, from SQLite itself. */
function nodeRelations(store: TestStore, type: 'table' | 'view'): Map<string, string[]> {
  const names = store.db
    .prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_drizzle%' ESCAPE '\\' ORDER BY name")
    .pluck()
    .all(type) as string[];
  return new Map(names.map((n) => [n, store.db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(n) as string[]]));
}

const sortedEntries = (m: Map<string, string[]>) => [...m].sort(([a], [b]) => a.localeCompare(b));

let store: TestStore;

const Reader = suite('relationsOf (migration text)');
Reader.before(async () => {
  store = await freshStore();
});

Reader("reads the node's migrations as SQLite reports the schema they build, columns in order", () => {
  const read = relationsOf(NODE_MIGRATIONS);
  assert.equal(sortedEntries(read.tables), sortedEntries(nodeRelations(store, 'table')));
  assert.equal(sortedEntries(read.views), sortedEntries(nodeRelations(store, 'view')));
});

Reader.run();

const Central = suite('the central schema (src/fleet/schema.ts, migrations/pg)');
Central.after(() => store.cleanup());

Central("has the node's read-model tables with the node's columns in the node's order, `node` first", () => {
  const node = nodeRelations(store, 'table');
  const { tables } = relationsOf(PG_MIGRATIONS);
  for (const table of ['connections', 'operations', 'tasks']) {
    // The fleet compares its rows with the node's byte for byte (SELECT *), so the order matters too.
    assert.equal(tables.get(table), ['node', ...node.get(table)!], table);
  }
  // The node's summary is its single row id = 1; the fleet's has one row per node instead.
  assert.equal(tables.get('summary'), ['node', ...node.get('summary')!.filter((c) => c !== 'id')], 'summary');
});

Central("has every view of the node, with the node's columns in order after `node`", () => {
  const expected = sortedEntries(nodeRelations(store, 'view')).map(([view, columns]) => [view, ['node', ...columns]]);
  assert.equal(sortedEntries(relationsOf(PG_MIGRATIONS).views), expected);
});

Central('declares in src/fleet/schema.ts exactly the tables and columns its migrations build (none left ungenerated)', () => {
  const declared = (Object.values(central) as unknown[])
    .filter((t): t is PgTable => t instanceof PgTable)
    .map((t) => getTableConfig(t))
    .map((c): [string, string[]] => [c.name, c.columns.map((col) => col.name).sort()]);
  const built = sortedEntries(relationsOf(PG_MIGRATIONS).tables).map(([t, columns]): [string, string[]] => [t, [...columns].sort()]);
  assert.equal(declared.sort(([a], [b]) => a.localeCompare(b)), built);
});

Central.run();
