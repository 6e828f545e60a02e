// One door to the store (DESIGN.md section 3): only src/log, and the SQL
// half of src/projections (its sqlite/ folder and the model descriptors in
// models/), touch the SQLite handle or write SQL. Everything else talks to
// the EventStore and MonitorReads interfaces. src/fleet writes PostgreSQL's
// SQL and is checked for the SQLite handle only. This reads the source as
// text, as `grep` would, so a shortcut that compiles still fails here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

const files = readdirSync(SRC, { recursive: true, withFileTypes: true })
  .filter((f) => f.isFile() && f.name.endsWith('.ts'))
  .map((f) => relative(ROOT, join(f.parentPath, f.name)));

/** May hold the handle and SQLite's SQL. */
const SQLITE_SIDE = [/^src\/log\//, /^src\/projections\/sqlite\//, /^src\/projections\/models\//];
/** May hold SQL (PostgreSQL's), never the SQLite handle. */
const POSTGRES_SIDE = [/^src\/fleet\//];

/** What of src/log the rest may import: the interface, the catalogue, storage errors, and `query` (which takes a path). */
const LOG_DOORS = new Set(['store.ts', 'catalogue.ts', 'storage.ts', 'query.ts']);

/** The source without comments, so prose about SQL does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/[^\n]*/g, '$1');
}

const SQL = /\b(SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIEW)|PRAGMA\s+\w)/;
const HANDLE = /from '(better-sqlite3|drizzle-orm\/better-sqlite3[^']*)'|\bDb\b|\bDatabase\.Database\b/;

function importsOf(text: string): string[] {
  return [...text.matchAll(/^import[^;]*?from '([^']+)'/gm), ...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]);
}

const Door = suite('one door to the store');

Door('finds SQL and the handle where they are allowed (the check is not blind)', () => {
  const read = code(readFileSync(join(ROOT, 'src/log/read.ts'), 'utf8'));
  assert.match(read, SQL);
  assert.match(read, HANDLE);
  assert.match(code(readFileSync(join(ROOT, 'src/fleet/projector.ts'), 'utf8')), SQL);
  assert.not.match(code('// SELECT * FROM events\nconst x = 1;'), SQL, 'comments are not code');
});

Door('no file outside src/log and the SQL half of src/projections writes SQL, except the fleet (PostgreSQL)', () => {
  const offenders = files
    .filter((f) => !SQLITE_SIDE.some((r) => r.test(f)) && !POSTGRES_SIDE.some((r) => r.test(f)))
    .filter((f) => SQL.test(code(readFileSync(join(ROOT, f), 'utf8'))));
  assert.equal(offenders, []);
});

Door('no file outside src/log and the SQL half of src/projections imports better-sqlite3 or names the handle type', () => {
  const offenders = files.filter((f) => !SQLITE_SIDE.some((r) => r.test(f))).filter((f) => HANDLE.test(code(readFileSync(join(ROOT, f), 'utf8'))));
  assert.equal(offenders, []);
});

Door('the rest imports from src/log only its doors: the store interface, the catalogue, storage errors, query', () => {
  const offenders: string[] = [];
  for (const f of files.filter((x) => !SQLITE_SIDE.some((r) => r.test(x)))) {
    for (const spec of importsOf(readFileSync(join(ROOT, f), 'utf8'))) {
      const target = relative(ROOT, resolve(ROOT, f, '..', spec));
      if (spec.startsWith('.') && target.startsWith('src/log/') && !LOG_DOORS.has(target.slice('src/log/'.length))) offenders.push(`${f} -> ${target}`);
    }
  }
  assert.equal(offenders, []);
});

Door.run();
