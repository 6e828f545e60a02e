import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rebuild, snapshotReadModels } from '../../src/projections/sqlite/rebuild.ts';
import { EVENT_TYPES } from '../../src/log/catalogue.ts';
import { freshStore } from '../helpers/db.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';

const Rebuild = suite('rebuild');

for (const seed of [1, 2, 3]) {
  Rebuild(`replays a randomized log (seed ${seed}) into read models identical to the inline ones`, async () => {
    let now = 0;
    const store = await freshStore({ clock: () => now });
    try {
      const { appended, conflicts } = await appendSteps(store.log, realisticSteps(seed, { minEvents: 1200 }), {
        seed,
        maxBatch: [1, 25, 80][seed - 1],
        setNow: (ms) => (now = ms),
      });
      const { db } = store;
      assert.ok(appended >= 1000, `${appended} events`);
      assert.is(await store.log.head(), appended, 'every append landed; conflicting ones wrote nothing');
      assert.ok(conflicts > 0 || seed !== 1, 'the generator produced stale writers');
      const streams = db.prepare('SELECT count(DISTINCT stream) FROM events').pluck().get() as number;
      assert.ok(streams >= 50, `${streams} streams`);
      const types = new Set(db.prepare('SELECT DISTINCT type FROM events').pluck().all() as string[]);
      for (const t of EVENT_TYPES) assert.ok(types.has(t), `the log has a ${t}`);
      const interleaved = db.prepare(
        `SELECT count(*) FROM events a JOIN events b ON b.position = a.position + 1 WHERE substr(a.stream, 1, 4) <> substr(b.stream, 1, 4)`,
      ).pluck().get() as number;
      assert.ok(interleaved > appended / 10, 'kinds of streams interleave');

      const inline = snapshotReadModels(db);
      assert.ok(inline.connections.length > 20 && inline.operations.length > 20 && inline.tasks.length > 20);
      // Streams: started ones, and ones only their viewers name; viewers counted on them.
      assert.ok(inline.streams.length > 3, `${inline.streams.length} streams`);
      const states = new Set(db.prepare('SELECT stream_state FROM streams').pluck().all() as string[]);
      assert.ok(states.has('unknown') && (states.has('live') || states.has('stopped')), [...states].join());
      const viewers = db.prepare("SELECT count(*) FROM streams WHERE json_extract(state, '$.viewers.total') > 0").pluck().get() as number;
      assert.ok(viewers > 0, 'viewers counted on their streams');
      assert.is((await store.reads.summary()).event_count, appended);

      const report = await rebuild(store.log, { chunkSize: 97 + seed * 100 });
      assert.is(report.events, appended);
      assert.equal(snapshotReadModels(db), inline);
    } finally {
      await store.cleanup();
    }
  });
}

Rebuild('empties read models on an empty log', async () => {
  const store = await freshStore();
  try {
    await store.log.append('connection:a', [{ type: 'connection.created', data: { connection_id: 'a' } }]);
    store.db.prepare('DELETE FROM events').run();
    // Every event gone looks like a pruned log: rebuilding it needs --force.
    await rebuild(store.log, { force: true });
    const snap = snapshotReadModels(store.db);
    assert.equal([snap.connections, snap.operations, snap.tasks, snap.streams], [[], [], [], []]);
    assert.is((await store.reads.summary()).event_count, 0);
  } finally {
    await store.cleanup();
  }
});

Rebuild('reports progress chunk by chunk', async () => {
  const store = await freshStore();
  try {
    await store.log.append('connection:a', Array.from({ length: 25 }, () => ({ type: 'connection.error', data: { code: 'e', message: 'm' } }) as const));
    const calls: [number, number][] = [];
    await rebuild(store.log, { chunkSize: 10, onProgress: (done, total) => calls.push([done, total]) });
    assert.equal(calls, [[10, 25], [20, 25]]);
  } finally {
    await store.cleanup();
  }
});

Rebuild.run();
