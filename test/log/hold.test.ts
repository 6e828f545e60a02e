// The hold on a database (src/log/hold.ts): one holder at a time, refused
// with who holds it, let go on close, and let go by the operating system
// when the holder dies however it dies.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { isAppError } from '../../src/errors.ts';
import { SqliteEventStore } from '../../src/log/sqliteStore.ts';
import { tempDir } from '../helpers/db.ts';
import { runCli, startCliServer } from '../helpers/cli.ts';

function refusal(open: () => unknown): Error & { code?: string; status?: number } {
  try {
    const s = open() as SqliteEventStore;
    void s.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error('the second hold was given');
}

const Hold = suite('the hold on a database');
let dir: string;
let cleanup: () => void;
Hold.before.each(() => {
  ({ dir, cleanup } = tempDir('wrm-hold-'));
});
Hold.after.each(() => cleanup());

Hold('is given to one holder at a time, and refused to the next with who holds it', async () => {
  const path = join(dir, 'monitor.db');
  const server = SqliteEventStore.open(path, { hold: 'server' });
  const err = refusal(() => SqliteEventStore.open(path, { hold: 'maintenance' }));
  assert.ok(isAppError(err));
  assert.is(err.status, 409);
  assert.is(err.code, 'CONFLICT');
  assert.match(err.message, `is held by a running server (pid ${process.pid}`);
  assert.match(refusal(() => SqliteEventStore.open(path, { hold: 'server' })).message, 'held by a running server');
  // Readers take no hold.
  const reader = SqliteEventStore.openReadOnly(path);
  assert.is(await reader.head(), 0);
  await reader.close();
  await server.close();
  const next = SqliteEventStore.open(path, { hold: 'maintenance' });
  assert.match(refusal(() => SqliteEventStore.open(path, { hold: 'server' })).message, 'held by a maintenance command');
  await next.close();
});

Hold('is taken for the duration of a prune by a store that holds none, and refused while another holds it', async () => {
  const path = join(dir, 'monitor.db');
  const plain = SqliteEventStore.open(path);
  await plain.append('connection:a', [{ type: 'connection.created', data: { connection_id: 'a' } }]);
  const server = SqliteEventStore.open(path, { hold: 'server' });
  try {
    await plain.prune({ throughPosition: 1 });
    assert.unreachable('pruned beside a server');
  } catch (err) {
    assert.ok(isAppError(err) && err.code === 'CONFLICT', String(err));
  }
  assert.is(await plain.head(), 1);
  assert.is(await plain.prunedThrough(), null, 'nothing was deleted');
  await server.close();
  assert.is((await plain.prune({ throughPosition: 1 })).deleted, 1);
  // And let go after it: a server can start.
  const again = SqliteEventStore.open(path, { hold: 'server' });
  await again.close();
  await plain.close();
});

Hold('is let go when the holding process is killed (SIGKILL), with nothing to clean up', async () => {
  const path = join(dir, 'monitor.db');
  const server = startCliServer(['--port', '0', '--persistence-path', path]);
  await server.url;
  const refused = await runCli(['prune', '--through', '1', '--persistence-path', path]);
  assert.is(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, `held by a running server (pid ${server.child.pid}`);
  await server.kill('SIGKILL');
  const pruned = await runCli(['prune', '--through', '1', '--persistence-path', path]);
  assert.is(pruned.code, 0, pruned.stderr);
  const again = startCliServer(['--port', '0', '--persistence-path', path]);
  await again.url;
  assert.is(await again.stop(), 0, again.output().stderr);
});

Hold.run();
