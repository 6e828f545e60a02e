import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prune, prunedThrough } from '../../src/log/prune.ts';
import { writeCheckpoint } from '../../src/log/checkpoint.ts';
import { readAll, headPosition } from '../../src/log/read.ts';
import { isAppError } from '../../src/errors.ts';
import { bulkEvents, freshStore, type TestStore } from '../helpers/db.ts';
import { runCli } from '../helpers/cli.ts';
import { startWebRtcServer, WEBRTC } from '../helpers/webrtc.ts';
import { GAP_STREAM } from '../../src/log/catalogue.ts';
import type { Viewer } from '../../src/webrtc/viewer.ts';

let store: TestStore;
const Prune = suite('prune');
Prune.before.each(async () => {
  store = freshStore();
  await store.log.append('connection:a', Array.from({ length: 30 }, (_, i) => ({ type: 'connection.error', data: { code: `e${i}`, message: 'm' } }) as const));
});
Prune.after.each(() => store.cleanup());

Prune('deletes events through a position, archiving them first as JSON lines', async () => {
  const archive = join(store.dir, 'archive.jsonl');
  const report = await prune(store.db, { throughPosition: 12, archivePath: archive });
  assert.equal(report, { deleted: 12, throughPosition: 12, archived: archive });
  const lines = readFileSync(archive, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.map((e) => e.position), Array.from({ length: 12 }, (_, i) => i + 1));
  assert.is(readAll(store.db, { limit: 100 })[0].position, 13);
  assert.is(prunedThrough(store.db), 12);
  assert.is(headPosition(store.db), 30);
});

Prune('never deletes past the lowest consumer checkpoint', async () => {
  writeCheckpoint(store.db, 'log-dir', 5);
  writeCheckpoint(store.db, 'other', 20);
  const report = await prune(store.db, { throughPosition: 25 });
  assert.is(report.throughPosition, 5);
  assert.is(report.deleted, 5);
});

Prune('refuses position 0 and keeps positions growing after a prune of everything', async () => {
  try {
    await prune(store.db, { throughPosition: 0 });
    assert.unreachable();
  } catch (err) {
    assert.ok(isAppError(err));
    assert.is(err.status, 400);
  }
  await prune(store.db, { throughPosition: 30 });
  assert.is(prunedThrough(store.db), 30);
  const r = await store.log.append('connection:b', [{ type: 'connection.created', data: { connection_id: 'b' } }]);
  assert.ok(r.ok);
  assert.is(r.firstPosition, 31, 'AUTOINCREMENT never reuses a pruned position');
});

Prune('says nothing was pruned on a fresh log', () => {
  assert.is(prunedThrough(store.db), null);
});

Prune('a stream whose events were all pruned keeps counting its versions, and no_stream does not hold for it', async () => {
  await prune(store.db, { throughPosition: 30 });
  const again = await store.log.append('connection:a', [{ type: 'connection.error', data: { code: 'late', message: 'm' } }], {
    expectedVersion: 'no_stream',
  });
  assert.equal(again.ok, false, 'the stream existed: no_stream must not hold');
  const next = await store.log.append('connection:a', [{ type: 'connection.error', data: { code: 'late', message: 'm' } }], {
    expectedVersion: 30,
  });
  assert.ok(next.ok && next.nextVersion === 31, JSON.stringify(next));
});

Prune.run();

const Live = suite('prune beside a live server');

Live('makes no write of the server fail: no 5xx, no event lost, while prune runs again and again', async () => {
  const server = await startWebRtcServer({ statsIntervalMs: 100 });
  const viewers: Viewer[] = [];
  const statuses: number[] = [];
  let pruning = true;
  try {
    // Connection events every 100 ms per viewer, and operations from requests.
    const data = await server.stream({ mode: 'data', quality: 'low' });
    for (let i = 0; i < 3; i++) viewers.push(await server.viewer(data.whep_url, 'data'));
    // Old events for each prune to delete in several chunks.
    bulkEvents(server.services.db, 60_000, 20);
    let through = 0;
    let runs = 0;
    let pruneStopped = false;
    const prunes = (async () => {
      try {
        while (pruning) {
          through = Math.min(headPosition(server.services.db) - 50, through + 15_000);
          const r = await runCli(['prune', '--through', String(through), '--persistence-path', join(server.dir, 'monitor.db')]);
          assert.is(r.code, 0, r.stderr);
          runs++;
        }
      } finally {
        pruneStopped = true;
      }
    })();
    // The load runs until prune has run three times beside it, however fast
    // or slow the machine (and stops at once if a prune failed).
    const enough = () => (runs >= 3 && statuses.length >= 40) || pruneStopped;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!enough()) {
          const created = await server.json(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm', mode: 'data' } });
          statuses.push(created.status);
          if (created.status === 200) statuses.push((await server.json(`${WEBRTC}/stream/stop/${created.body.server_id}`, { method: 'POST' })).status);
        }
      }),
    );
    pruning = false;
    await prunes;
    assert.ok(runs >= 3, `${runs} prunes`);
    assert.ok(statuses.length > 10, `${statuses.length} requests`);
    assert.equal(statuses.filter((s) => s !== 200), [], 'every request answered 200');
    assert.is(server.services.log.stats.unrecordedEvents, 0, 'no event failed to be recorded');
    assert.is(readAll(server.services.db, { limit: 10, stream: GAP_STREAM }).length, 0, 'no gap in the log');
    assert.ok(prunedThrough(server.services.db)! > 0, 'the prunes deleted events');
  } finally {
    pruning = false;
    await Promise.all(viewers.map((v) => v.leave().catch(() => {})));
    await server.stop();
  }
});

Live.run();
