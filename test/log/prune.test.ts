// Pruning the SQLite store as an operator does, with the real CLI. What prune
// keeps and deletes is the store's contract (test/log/contract.ts); here, the
// large prune in chunks, and the refusal beside a running server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { bulkEvents, openTestStore, tempDir } from '../helpers/db.ts';
import { runCli, startCliServer } from '../helpers/cli.ts';
import { MONITOR } from '../helpers/webrtc.ts';
import { openReadOnly } from '../../src/log/open.ts';

const count = (path: string) => {
  const db = openReadOnly(path);
  try {
    return db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
};

const Chunks = suite('prune in chunks');

Chunks('deletes a large range statement by statement, every event of it', async () => {
  const { dir, cleanup } = tempDir('wrm-prune-');
  try {
    const path = join(dir, 'monitor.db');
    const s = await openTestStore(path);
    bulkEvents(s.db, 23_456, 20);
    const report = await s.log.prune({ throughPosition: 23_000 });
    assert.equal(report, { deleted: 23_000, throughPosition: 23_000, archived: null });
    assert.is((await s.log.readLog({ limit: 1 }))[0].position, 23_001);
    await s.close();
  } finally {
    cleanup();
  }
});

Chunks.run();

const Live = suite('prune beside a running server');

Live('is refused while a server holds the database, deleting nothing and failing none of its writes; it prunes once the server stopped', async () => {
  const { dir, cleanup } = tempDir('wrm-prune-live-');
  const path = join(dir, 'monitor.db');
  const server = startCliServer(['--port', '0', '--persistence-path', path]);
  try {
    const url = await server.url;
    const exportNow = () => fetch(`${url}${MONITOR}/export`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.is((await exportNow()).status, 200);
    const before = count(path);
    assert.ok(before > 0, 'the server recorded an operation');
    const refused = await runCli(['prune', '--through', String(before), '--yes', '--persistence-path', path]);
    assert.is(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /CONFLICT: the database .*monitor\.db is held by a running server \(pid \d+/);
    assert.is(refused.stdout, '');
    const rebuild = await runCli(['rebuild', '--persistence-path', path]);
    assert.is(rebuild.code, 2, rebuild.stderr);
    assert.match(rebuild.stderr, /held by a running server/);
    // The server goes on writing, and its answers are whole.
    assert.is((await exportNow()).status, 200);
    const summary = (await (await fetch(`${url}${MONITOR}/summary`)).json()) as { event_count: number };
    assert.ok(summary.event_count > before, 'nothing was deleted and the server kept recording');
    assert.is(await server.stop(), 0, server.output().stderr);
    const head = count(path);
    const pruned = await runCli(['prune', '--through', String(head), '--yes', '--persistence-path', path]);
    assert.is(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, `deleted ${head} events through position ${head}`);
  } finally {
    await server.kill('SIGKILL').catch(() => {});
    cleanup();
  }
});

Live.run();
