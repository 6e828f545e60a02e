// The CLI as an operator runs it: child processes over a real database file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshStore, tempDir, type TestStore } from '../helpers/db.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';
import { runCli, startCliServer } from '../helpers/cli.ts';
import { treeHashes } from '../helpers/files.ts';
import { snapshotReadModels } from '../../src/projections/sqlite/rebuild.ts';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';

let store: TestStore;
const Cli = suite('webrtc-monitor CLI');
Cli.before(async () => {
  let now = 0;
  store = await freshStore({ clock: () => now });
  await appendSteps(store.log, realisticSteps(51, { minEvents: 400 }), { seed: 51, setNow: (ms) => (now = ms) });
  // Let the child processes see everything in the main file.
  store.db.pragma('wal_checkpoint(TRUNCATE)');
});
Cli.after(() => store.cleanup());

Cli('has --help on every command, naming the shared --persistence-path', async () => {
  const commands = ['serve', 'export-logs', 'query', 'rebuild', 'prune'];
  const [top, ...each] = await Promise.all([runCli(['--help']), ...commands.map((c) => runCli([c, '--help']))]);
  assert.is(top.code, 0);
  for (const c of commands) assert.match(top.stdout, c);
  each.forEach((r, i) => {
    assert.is(r.code, 0, `${commands[i]} --help: ${r.stderr}`);
    assert.match(r.stdout, `Usage: webrtc-monitor ${commands[i]}`);
    assert.match(r.stdout, '--persistence-path', commands[i]);
    assert.match(r.stdout, './data/monitor.db', commands[i]);
  });
  assert.match(each[0].stdout, '--port');
  assert.match(each[0].stdout, '--log-dir');
  assert.match(each[0].stdout, '--auth-token');
});

Cli('query prints rows as a table and as --json', async () => {
  const sql = 'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type';
  const expected = store.db.prepare(sql).all() as { type: string; n: number }[];
  const [table, json] = await Promise.all([
    runCli(['query', sql, '--persistence-path', store.path]),
    runCli(['query', sql, '--json', '--persistence-path', store.path]),
  ]);
  assert.is(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0], /^type\s+n$/);
  assert.is(lines.at(-1), `(${expected.length} rows)`);
  assert.ok(lines.some((l) => /^connection\.created\s+\d+$/.test(l)));
  assert.is(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout), expected);
  const view = await runCli(['query', 'SELECT count(*) AS n FROM operation_durations', '--json', '--persistence-path', store.path]);
  assert.equal(JSON.parse(view.stdout), [{ n: (store.db.prepare('SELECT count(*) FROM operations').pluck().get() as number) }]);
});

Cli('query stops a runaway statement at --timeout and exits non-zero, saying so', async () => {
  const endless = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
  const r = await runCli(['query', endless, '--timeout', '300', '--persistence-path', store.path], { timeoutMs: 20_000 });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /TIMEOUT: the query ran for 300 ms/);
});

Cli('query refuses writes with a clear message and a non-zero exit, leaving the file unchanged', async () => {
  const before = readFileSync(store.path);
  // Every kind of write is covered in test/log/query.test.ts; here, that the process says so and fails.
  const writes = ["INSERT INTO checkpoints VALUES ('x', 1, 1)", 'DROP TABLE events', 'PRAGMA journal_mode=DELETE'];
  const results = await Promise.all(writes.map((sql) => runCli(['query', sql, '--persistence-path', store.path])));
  results.forEach((r, i) => {
    assert.is.not(r.code, 0, writes[i]);
    assert.match(r.stderr, 'READ_ONLY', writes[i]);
    assert.match(r.stderr, 'read-only', writes[i]);
    assert.is(r.stdout, '');
  });
  assert.ok(readFileSync(store.path).equals(before), 'the database file is unchanged');
  const missing = await runCli(['query', 'SELECT 1', '--persistence-path', join(store.dir, 'nope.db')]);
  assert.is.not(missing.code, 0);
  assert.not.ok(existsSync(join(store.dir, 'nope.db')), 'query never creates a database');
});

Cli('export-logs writes the layout, the same bytes twice, and honours --connection', async () => {
  const a = join(store.dir, 'export-a');
  const b = join(store.dir, 'export-b');
  const one = join(store.dir, 'export-one');
  const id = store.db.prepare('SELECT id FROM connections ORDER BY created_position LIMIT 1').pluck().get() as string;
  const [ra, rb, r1, bad] = await Promise.all([
    runCli(['export-logs', '--out', a, '--persistence-path', store.path]),
    runCli(['export-logs', '--out', b, '--persistence-path', store.path]),
    runCli(['export-logs', '--out', one, '--connection', id, '--persistence-path', store.path]),
    runCli(['export-logs', '--out', one, '--since', 'last tuesday', '--persistence-path', store.path]),
  ]);
  assert.is(ra.code, 0, ra.stderr);
  const connections = store.db.prepare('SELECT count(*) FROM connections').pluck().get() as number;
  assert.match(ra.stdout, `${connections} connections`);
  assert.is(readdirSync(join(a, 'connections')).length, connections);
  assert.equal(treeHashes(b), treeHashes(a));
  assert.is(r1.code, 0, r1.stderr);
  assert.is(readdirSync(join(one, 'connections')).length, 1);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, 'ISO-8601');
});

Cli('rebuild replays the log into the same read models', async () => {
  const before = snapshotReadModels(store.db);
  store.db.prepare("UPDATE connections SET category = 'scribbled'").run();
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const [r, typo] = await Promise.all([
    runCli(['rebuild', '--persistence-path', store.path]),
    runCli(['rebuild', '--persistence-path', join(store.dir, 'typo.db')]),
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is.not(typo.code, 0);
  assert.match(typo.stderr, 'no database at');
  assert.not.ok(existsSync(join(store.dir, 'typo.db')), 'a mistyped path creates nothing');
  assert.match(r.stdout, /rebuilt read models from \d+ events/);
  assert.equal(snapshotReadModels(store.db), before);
});

Cli('serve uses ./data/monitor.db by default, answers the summary, warns about a public bind without a token, and stops cleanly on SIGTERM', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-serve-');
  try {
    const server = startCliServer(['--port', '0', '--host', '0.0.0.0'], { cwd: dir });
    const url = (await server.url).replace('0.0.0.0', '127.0.0.1');
    const res = await fetch(`${url}${MONITOR_PREFIX}/summary`);
    assert.is(res.status, 200);
    const summary = (await res.json()) as any;
    assert.ok('connection_states' in summary);
    assert.is(await server.stop(), 0, server.output().stderr);
    assert.match(server.output().stderr, 'without --auth-token');
    assert.ok(existsSync(join(dir, 'data', 'monitor.db')));
    // The other commands find the same default file.
    const q = await runCli(['query', "SELECT name FROM sqlite_master WHERE name = 'events'", '--json'], { cwd: dir });
    assert.equal(JSON.parse(q.stdout), [{ name: 'events' }]);
  } finally {
    cleanup();
  }
});

Cli('serve reads its tokens from files (never the process list) and protects reads with the read token', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-tokens-');
  try {
    writeFileSync(join(dir, 'admin'), 'admin-secret\n', { mode: 0o600 });
    writeFileSync(join(dir, 'reader'), 'reader-secret\n', { mode: 0o644 });
    const server = startCliServer(['--port', '0', '--persistence-path', join(dir, 'm.db'), '--auth-token-file', join(dir, 'admin'), '--read-token-file', join(dir, 'reader')]);
    const url = await server.url;
    const get = (token?: string) => fetch(`${url}${MONITOR_PREFIX}/summary`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.status);
    assert.equal([await get(), await get('reader-secret'), await get('admin-secret')], [401, 200, 200]);
    const write = (token: string) =>
      fetch(`${url}${MONITOR_PREFIX}/export`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status);
    assert.equal([await write('reader-secret'), await write('admin-secret')], [401, 200]);
    const cmdline = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8');
    assert.not.match(cmdline, 'secret');
    assert.is(await server.stop(), 0, server.output().stderr);
    assert.match(server.output().stderr, /token file can be read by other users/);
  } finally {
    cleanup();
  }
});

Cli('serve takes the tokens from the environment too', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-tokens-');
  try {
    const server = startCliServer(['--port', '0', '--persistence-path', join(dir, 'm.db')], { env: { WEBRTC_MONITOR_READ_TOKEN: 'env-reader' } });
    const url = await server.url;
    const status = (token?: string) => fetch(`${url}${MONITOR_PREFIX}/summary`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.status);
    assert.equal([await status(), await status('env-reader')], [401, 200]);
    assert.is(await server.stop(), 0, server.output().stderr);
  } finally {
    cleanup();
  }
});

Cli.run();
