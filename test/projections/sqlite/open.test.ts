// Opening the node's store: read models whose version changed (or that
// predate versions) are rebuilt from the log before anything is served from
// them; a reader refuses to answer from them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readModelVersions } from '../../../src/log/schema.ts';
import { orm } from '../../../src/log/orm.ts';
import { eq } from 'drizzle-orm';
import { openReadOnlyStore, openStore } from '../../../src/projections/sqlite/open.ts';
import { snapshotReadModels, staleReadModels } from '../../../src/projections/sqlite/rebuild.ts';
import { READ_MODELS } from '../../../src/projections/models/index.ts';
import { MONITOR_PREFIX } from '../../../src/http/routes/monitor.ts';
import { isAppError } from '../../../src/errors.ts';
import { openTestStore, tempDir } from '../../helpers/db.ts';
import { appendSteps, realisticSteps } from '../../helpers/events.ts';
import { startTestServer } from '../../helpers/server.ts';
import { runCli } from '../../helpers/cli.ts';

/** A store with a realistic log, closed; returns its read models as written inline. */
async function generated(path: string) {
  let now = 0;
  const s = await openTestStore(path, { clock: () => now });
  await appendSteps(s.log, realisticSteps(71, { minEvents: 800 }), { seed: 71, maxBatch: 10, setNow: (ms) => (now = ms) });
  const inline = snapshotReadModels(s.db);
  const summary = await s.reads.summary();
  return { s, inline, summary };
}

const Versions = suite('read-model versions at start-up');
let dir: string;
let cleanup: () => void;
Versions.before.each(() => {
  ({ dir, cleanup } = tempDir('wrm-versions-'));
});
Versions.after.each(() => cleanup());

Versions('records every model at its version in a new database, and finds nothing stale', async () => {
  const s = await openTestStore(join(dir, 'monitor.db'));
  try {
    assert.equal(staleReadModels(s.db), []);
    const rows = orm(s.db).select().from(readModelVersions).all();
    assert.equal(rows.map((r) => [r.name, r.version]).sort(), READ_MODELS.map((m) => [m.name, m.version]).sort());
  } finally {
    await s.close();
  }
});

Versions('rebuilds a model whose recorded version is not this code\'s before the server answers, from the log', async () => {
  const path = join(dir, 'monitor.db');
  const { s, inline } = await generated(path);
  // As an older version would have left it: another version of `connections`, rows it wrote differently.
  orm(s.db).update(readModelVersions).set({ version: 0 }).where(eq(readModelVersions.name, 'connections')).run();
  s.db.prepare("UPDATE connections SET category = 'written by another version', state = json_set(state, '$.category', 'old')").run();
  await s.close();

  const server = await startTestServer({}, { keepDir: dir });
  try {
    // The very first answer already comes from the rebuilt models: each
    // connection as its stream folds (recovery at start closed some since).
    const first = (await (await server.api(`${MONITOR_PREFIX}/connections?include_closed=true&limit=1000`)).json()) as { connections: Record<string, unknown> };
    const ids = Object.keys(first.connections);
    assert.is(ids.length, inline.connections.length);
    for (const id of ids) assert.equal(first.connections[id], await server.services.reads.connectionAt(id, {}), id);
    assert.not.match(JSON.stringify(first), 'written by another version');
  } finally {
    await server.stop();
  }
});

Versions('rebuilds a database that predates versions, whose summary lacks the newer counters, into complete read models', async () => {
  const path = join(dir, 'monitor.db');
  const { s, inline, summary } = await generated(path);
  // What a version before read-model versions left: no versions, and a summary without the counters added since.
  orm(s.db).delete(readModelVersions).run();
  const older = { event_count: summary.event_count, log_position: summary.log_position, connections: summary.connections, operations: summary.operations };
  s.db.prepare('UPDATE summary SET state = ?').run(JSON.stringify(older));
  await s.close();

  const messages: string[][] = [];
  const reopened = await openStore(path, { onRebuild: (models) => messages.push(models.map((m) => m.name)) });
  try {
    assert.equal(messages, [READ_MODELS.map((m) => m.name)], 'every model was stale, and rebuilt');
    assert.is(reopened.rebuilt?.report.events, summary.event_count);
    assert.equal(await reopened.reads.summary(), summary, 'every counter is there, counted from the log');
    assert.equal(snapshotReadModels(reopened.store.db), inline);
    assert.equal(staleReadModels(reopened.store.db), []);
  } finally {
    await reopened.close();
  }
});

Versions('refuses to start on stale read models over a pruned log, saying how to rebuild from what is left', async () => {
  const path = join(dir, 'monitor.db');
  const { s } = await generated(path);
  await s.log.prune({ throughPosition: 10 });
  orm(s.db).update(readModelVersions).set({ version: 0 }).where(eq(readModelVersions.name, 'summary')).run();
  await s.close();
  try {
    await openStore(path);
    assert.unreachable('opened over stale read models');
  } catch (err) {
    assert.ok(isAppError(err) && err.code === 'CONFLICT', String(err));
    assert.match(err.message, 'rebuild --force');
  }
  const forced = await runCli(['rebuild', '--force', '--persistence-path', path]);
  assert.is(forced.code, 0, forced.stderr);
  const again = await openStore(path);
  assert.is(again.rebuilt, null);
  await again.close();
});

Versions('a reader (export-logs) refuses stale read models instead of answering from them', async () => {
  const path = join(dir, 'monitor.db');
  const { s } = await generated(path);
  orm(s.db).update(readModelVersions).set({ version: 0 }).where(eq(readModelVersions.name, 'operations')).run();
  await s.close();
  try {
    openReadOnlyStore(path);
    assert.unreachable('read stale read models');
  } catch (err) {
    assert.ok(isAppError(err) && err.code === 'CONFLICT', String(err));
    assert.match(err.message, 'operations');
  }
  const r = await runCli(['export-logs', '--out', join(dir, 'out'), '--persistence-path', path]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'webrtc-monitor rebuild');
});

Versions.run();
