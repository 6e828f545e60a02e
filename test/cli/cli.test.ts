// The CLI as an operator runs it: child processes over a real database file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshStore, tempDir, type TestStore } from '../helpers/db.ts';
import { openReadOnly } from '../../src/log/open.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';
import { runCli, runCliOnTerminal, startCliServer } from '../helpers/cli.ts';
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
    // The warning is a plain line for the operator, whatever the log format.
    assert.match(server.output().stderr, /^webrtc-monitor: warning: listening on 0\.0\.0\.0, .* without --auth-token/m);
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
    assert.equal([await write('reader-secret'), await write('admin-secret')], [403, 200], 'the read token is known but does not write: 403 INSUFFICIENT_SCOPE');
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

// ---------------------------------------------------------------------------
const OneConfig = suite('one configuration path for every command');

OneConfig('WEBRTC_MONITOR_DB names the database for serve, query, export-logs, rebuild and prune, and a flag wins over it', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-env-');
  try {
    const db = join(dir, 'elsewhere', 'x.db');
    mkdirSync(join(dir, 'elsewhere'));
    const env = { WEBRTC_MONITOR_DB: db };
    const server = startCliServer(['--port', '0'], { cwd: dir, env });
    await server.url;
    assert.match(server.output().stdout, `(database ${db})`);
    assert.is(await server.stop(), 0, server.output().stderr);
    assert.ok(existsSync(db), 'serve opened the file the variable names');
    assert.not.ok(existsSync(join(dir, 'data')), 'and not ./data/monitor.db');
    // The other commands, from the same directory, find it the same way.
    // One after another: rebuild and prune hold the database, so they refuse to run beside each other.
    const q = await runCli(['query', "SELECT name FROM sqlite_master WHERE name = 'events'", '--json'], { cwd: dir, env });
    const exported = await runCli(['export-logs', '--out', join(dir, 'out')], { cwd: dir, env });
    const rebuilt = await runCli(['rebuild'], { cwd: dir, env });
    const pruned = await runCli(['prune', '--through', '1', '--dry-run'], { cwd: dir, env });
    for (const r of [q, exported, rebuilt, pruned]) assert.is(r.code, 0, r.stderr);
    assert.equal(JSON.parse(q.stdout), [{ name: 'events' }], 'the database serve made');
    assert.match(pruned.stdout, db);
    // A flag beats the variable.
    const flagged = await runCli(['query', 'SELECT count(*) AS n FROM events', '--json', '--persistence-path', store.path], { cwd: dir, env });
    assert.equal(JSON.parse(flagged.stdout), [{ n: store.db.prepare('SELECT count(*) FROM events').pluck().get() }]);
  } finally {
    cleanup();
  }
});

OneConfig('shows each default in help from the schema, with the variable that stands in for the flag', async () => {
  const [serve, query, fleet] = await Promise.all([runCli(['serve', '--help']), runCli(['query', '--help']), runCli(['fleet', 'project', '--help'])]);
  const flat = (text: string) => text.replace(/\s+/g, ' ');
  assert.match(flat(serve.stdout), '--port <n> port to listen on (0 picks a free one) (default: 9999)');
  assert.match(flat(serve.stdout), 'WEBRTC_MONITOR_DB');
  assert.match(flat(serve.stdout), '--log-format <format>');
  assert.match(flat(serve.stdout), 'WEBRTC_MONITOR_LOG_FORMAT');
  assert.match(flat(query.stdout), '(default: 30000)');
  assert.match(flat(fleet.stdout), 'WEBRTC_MONITOR_LOG_LEVEL');
});

OneConfig('names the variable that holds a bad value', async () => {
  const r = await runCli(['serve', '--port', '0'], { env: { WEBRTC_MONITOR_LOG_FORMAT: 'fancy', WEBRTC_MONITOR_DB: join(store.dir, 'never.db') } });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'WEBRTC_MONITOR_LOG_FORMAT (logFormat)');
  assert.not.ok(existsSync(join(store.dir, 'never.db')));
});

OneConfig.run();

// ---------------------------------------------------------------------------
const Traps = suite('a CLI without traps');
// The last suite of the file: the store the first one made goes with it.
Traps.after(() => store.cleanup());

Traps('prints its version', async () => {
  const r = await runCli(['--version']);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal([r.code, r.stdout.trim()], [0, pkg.version]);
});

Traps('refuses an unknown command without starting a server, and suggests the command a typo meant', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-unknown-');
  try {
    const [unknown, typo, stray] = await Promise.all([
      runCli(['frobnicate'], { cwd: dir, timeoutMs: 20_000 }),
      runCli(['exprot-logs', '--out', 'x'], { cwd: dir }),
      runCli(['--port', '0', 'frobnicate'], { cwd: dir }),
    ]);
    assert.is(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, "unknown command 'frobnicate'");
    assert.match(unknown.stderr, 'webrtc-monitor --help');
    assert.not.match(unknown.stdout, 'listening');
    assert.is(typo.code, 2);
    assert.match(typo.stderr, "unknown command 'exprot-logs'");
    assert.match(typo.stderr, 'Did you mean export-logs?');
    assert.not.match(typo.stderr, "unknown option '--out'");
    assert.is(stray.code, 2);
    assert.not.ok(existsSync(join(dir, 'data')), 'no database was created');
  } finally {
    cleanup();
  }
});

Traps('names the file and what to do when the database is not one, or is not there', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-files-');
  try {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database at all, but long enough for SQLite to read a header from it: ' + 'x'.repeat(200));
    const missing = join(dir, 'missing', 'm.db');
    const [q, rebuilt, served, gone, folder] = await Promise.all([
      runCli(['query', 'SELECT 1', '--persistence-path', text]),
      runCli(['rebuild', '--persistence-path', text]),
      runCli(['serve', '--port', '0', '--persistence-path', text]),
      runCli(['export-logs', '--out', join(dir, 'out'), '--persistence-path', missing]),
      runCli(['query', 'SELECT 1', '--persistence-path', dir]),
    ]);
    for (const r of [q, rebuilt, served]) {
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, `NOT_A_DATABASE: ${text} is not a database`);
      assert.match(r.stderr, 'check --persistence-path or WEBRTC_MONITOR_DB');
    }
    assert.is(gone.code, 2);
    assert.match(gone.stderr, `no database at ${missing}`);
    assert.match(folder.stderr, `${dir} is a directory, not a database file`);
    assert.not.ok(existsSync(join(dir, 'missing')), 'nothing was created');
  } finally {
    cleanup();
  }
});

Traps('export-logs --connection with an id the log does not have exits non-zero, saying so', async () => {
  const out = join(store.dir, 'export-nope');
  const r = await runCli(['export-logs', '--out', out, '--connection', 'nope', '--persistence-path', store.path]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'NOT_FOUND: no connection "nope"');
  assert.is(r.stdout, '');
});

Traps('prune says what it would delete with --dry-run, asks before deleting, and refuses to guess when nobody can answer', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-prune-');
  try {
    // A copy of the log: this one is pruned for real.
    const db = join(dir, 'copy.db');
    copyFileSync(store.path, db);
    const total = store.db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    const events = () => {
      const copy = openReadOnly(db);
      try {
        return copy.prepare('SELECT position, stream, type FROM events ORDER BY position').all();
      } finally {
        copy.close();
      }
    };
    const before = events();
    // One after another: each prune holds the database while it looks.
    const dry = await runCli(['prune', '--older-than', '1d', '--dry-run', '--persistence-path', db]);
    const unasked = await runCli(['prune', '--through', '10', '--persistence-path', db]);
    const neither = await runCli(['prune', '--persistence-path', db]);
    assert.is(dry.code, 0, dry.stderr);
    // The generated log was recorded at the start of 1970: all of it is older than a day.
    assert.match(dry.stdout, `dry run: would delete ${total} events recorded before`);
    assert.match(dry.stdout, 'nothing was deleted');
    assert.is(unasked.code, 2);
    assert.match(unasked.stderr, 'stdin is not a terminal');
    assert.match(unasked.stderr, '--yes');
    assert.is(neither.code, 2);
    assert.match(neither.stderr, '--through POSITION or --older-than DURATION');
    assert.equal(events(), before, 'nothing was deleted');
    const bad = await runCli(['prune', '--older-than', 'a week', '--persistence-path', db]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, '7d');
    const done = await runCli(['prune', '--through', '10', '--yes', '--persistence-path', db]);
    assert.is(done.code, 0, done.stderr);
    assert.match(done.stdout, 'deleted 10 events through position 10');
  } finally {
    cleanup();
  }
});

Traps('serves the bundled content whatever the working directory', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-content-');
  try {
    const server = startCliServer(['--port', '0', '--persistence-path', join(dir, 'm.db')], { cwd: dir });
    const url = await server.url;
    const check = (await (await fetch(`${url}/api/v0/mcp/webrtc/check`)).json()) as { content: { readable: boolean; files: { name: string }[] } };
    assert.ok(check.content.readable);
    assert.ok(check.content.files.some((f) => f.name === 'sample.webm'), JSON.stringify(check.content));
    assert.is(await server.stop(), 0, server.output().stderr);
  } finally {
    cleanup();
  }
});

Traps('logs JSON lines when stderr is not a terminal, and readable lines with --log-format pretty', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-logs-');
  try {
    const env = { WEBRTC_MONITOR_LOG_LEVEL: 'info' };
    const json = startCliServer(['--port', '0', '--persistence-path', join(dir, 'a.db')], { env });
    await json.url;
    assert.is(await json.stop(), 0);
    const lines = json.output().stderr.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.map((l) => JSON.parse(l)).some((e) => e.msg === 'webrtc-monitor listening' && e.level === 30), json.output().stderr);
    const pretty = startCliServer(['--port', '0', '--persistence-path', join(dir, 'b.db'), '--log-format', 'pretty'], { env });
    await pretty.url;
    assert.is(await pretty.stop(), 0);
    assert.match(pretty.output().stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}webrtc-monitor listening url=http:\/\/127\.0\.0\.1:\d+ database=/m);
    assert.not.match(pretty.output().stderr, /^\{"level"/m);
  } finally {
    cleanup();
  }
});

Traps('logs readable lines on a terminal', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-tty-');
  try {
    const r = await runCliOnTerminal(['serve', '--port', '0', '--persistence-path', join(dir, 'm.db')], {
      env: { WEBRTC_MONITOR_LOG_LEVEL: 'info' },
      until: /listening on http/,
    });
    assert.match(r.output, /\d\d:\d\d:\d\d\.\d{3} INFO {2}webrtc-monitor listening url=http/);
    assert.not.match(r.output, '{"level"');
  } finally {
    cleanup();
  }
});

Traps('prune asks on a terminal, and deletes only on yes', async () => {
  const { dir, cleanup } = tempDir('wrm-cli-ask-');
  try {
    const db = join(dir, 'copy.db');
    copyFileSync(store.path, db);
    const no = await runCliOnTerminal(['prune', '--through', '5', '--persistence-path', db], { answers: [[/\[y\/N\]/, 'n']] });
    assert.is(no.code, 2, no.output);
    assert.match(no.output, `delete 5 events through position 5`);
    assert.match(no.output, 'CANCELLED: nothing was deleted');
    const yes = await runCliOnTerminal(['prune', '--through', '5', '--persistence-path', db], { answers: [[/\[y\/N\]/, 'y']] });
    assert.is(yes.code, 0, yes.output);
    assert.match(yes.output, 'deleted 5 events through position 5');
  } finally {
    cleanup();
  }
});

Traps.run();
