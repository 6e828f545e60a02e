// `serve --run-tests` as CI runs it: a child process that starts the server,
// drives it over HTTP with a werift viewer, and exits 0 only if every check
// passed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { openReadOnly } from '../src/log/open.ts';
import { tempDir } from './helpers/db.ts';

const root = resolve(import.meta.dirname, '..');

const test = suite('runSelfTests (serve --run-tests)');

test('exits 0 after every check passed, having recorded real connections', async () => {
  const { dir, cleanup } = tempDir('wrm-run-tests-');
  try {
    const dbPath = join(dir, 'monitor.db');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--run-tests', '--persistence-path', dbPath], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WEBRTC_MONITOR_LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.is(code, 0, out);
    assert.match(out, /checks passed.*OK/);
    assert.not.match(out, /^FAIL/m);
    const db = openReadOnly(dbPath);
    const closed = db.prepare("SELECT count(*) FROM events WHERE type = 'connection.closed'").pluck().get() as number;
    const sampled = db.prepare("SELECT count(*) FROM events WHERE type = 'connection.stats_sampled'").pluck().get() as number;
    db.close();
    assert.ok(closed >= 4 && sampled > 0, `closed ${closed}, samples ${sampled}`);
  } finally {
    cleanup();
  }
});

test.run();
