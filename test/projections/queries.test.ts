import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  connectionAt, decodeCursor, encodeCursor, getConnection, listConnections, listOperations, listTasks,
} from '../../src/projections/queries.ts';
import { foldConnection } from '../../src/projections/connection.ts';
import { readStream } from '../../src/log/read.ts';
import { parseStream } from '../../src/log/catalogue.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';
import { appendSteps, prng, realisticSteps } from '../helpers/events.ts';

let store: TestStore;
async function seeded() {
  let now = 0;
  store = freshStore({ clock: () => now });
  await appendSteps(store.log, realisticSteps(11, { minEvents: 1500 }), { seed: 11, maxBatch: 10, setNow: (ms) => (now = ms) });
}
const connectionIds = () =>
  (store.db.prepare("SELECT DISTINCT stream FROM events WHERE stream LIKE 'connection:%'").pluck().all() as string[]).map((s) => parseStream(s)!.id);

const At = suite('connectionAt');
At.before(seeded);
At.after(() => store.cleanup());

At('equals the fold of the prefix of the stream, by position', () => {
  const r = prng(5);
  let checked = 0;
  for (const id of connectionIds()) {
    const events = readStream(store.db, `connection:${id}`);
    for (let k = 0; k < 3; k++) {
      const cut = Math.floor(r() * (events.length + 1));
      // Any position between two of its events answers the earlier prefix.
      const position = cut === 0 ? events[0].position - 1 : events[cut - 1].position + (cut < events.length ? Math.floor(r() * (events[cut].position - events[cut - 1].position)) : 1000);
      assert.equal(connectionAt(store.db, id, { position }), foldConnection(id, events.slice(0, cut)), `${id} at ${position}`);
      checked++;
    }
  }
  assert.ok(checked > 100);
});

At('equals the fold of the prefix of the stream, by time', () => {
  for (const id of connectionIds().slice(0, 40)) {
    const events = readStream(store.db, `connection:${id}`);
    for (const e of events) {
      const prefix = events.filter((x) => x.recordedAt <= e.recordedAt);
      assert.equal(connectionAt(store.db, id, { time: e.recordedAt }), foldConnection(id, prefix));
    }
    assert.is(connectionAt(store.db, id, { time: events[0].recordedAt - 1 }), null);
  }
});

At('equals the current read model at the head', () => {
  for (const id of connectionIds()) assert.equal(connectionAt(store.db, id, {}), getConnection(store.db, id));
});

At.run();

const Lists = suite('listConnections / listOperations / listTasks');
Lists.before(seeded);
Lists.after(() => store.cleanup());

Lists('pages connections newest first with a cursor, with no gap and no repeat', () => {
  const all = store.db.prepare('SELECT id FROM connections ORDER BY created_position DESC').pluck().all() as string[];
  const seen: string[] = [];
  let before: number | null = null;
  for (;;) {
    const page = listConnections(store.db, { includeClosed: true, limit: 7, before });
    seen.push(...page.items.map((c) => c.id));
    if (!page.nextCursor) break;
    before = decodeCursor(page.nextCursor);
  }
  assert.equal(seen, all);
});

Lists('hides closed connections unless asked, and filters by category and server', () => {
  const open = listConnections(store.db, { limit: 1000 }).items;
  assert.ok(open.length > 0 && open.every((c) => c.category !== 'closed'));
  const closed = listConnections(store.db, { categories: ['closed'], limit: 1000 }).items;
  assert.ok(closed.length > 0 && closed.every((c) => c.category === 'closed'));
  assert.is(open.length + closed.length, listConnections(store.db, { includeClosed: true, limit: 1000 }).items.length);
  const server = closed.find((c) => c.server_id)?.server_id ?? open.find((c) => c.server_id)!.server_id!;
  const byServer = listConnections(store.db, { includeClosed: true, serverId: server, limit: 1000 }).items;
  assert.ok(byServer.length > 0 && byServer.every((c) => c.server_id === server));
});

Lists('filters operations and tasks by status and pages them', () => {
  const running = listOperations(store.db, { statuses: ['running'], limit: 1000 }).items;
  assert.ok(running.length > 0 && running.every((o) => o.status === 'running'));
  const all = listOperations(store.db, { statuses: [], limit: 1000 }).items;
  const firstPage = listOperations(store.db, { statuses: [], limit: 5 });
  assert.equal(firstPage.items.map((o) => o.id), all.slice(0, 5).map((o) => o.id));
  const second = listOperations(store.db, { statuses: [], limit: 5, before: decodeCursor(firstPage.nextCursor!) });
  assert.equal(second.items.map((o) => o.id), all.slice(5, 10).map((o) => o.id));
  const pending = listTasks(store.db, { statuses: ['created', 'running'], limit: 1000 }).items;
  assert.ok(pending.length > 0 && pending.every((t) => t.status === 'created' || t.status === 'running'));
  const op = all.find((o) => o.task_count > 1)!;
  const tasks = listTasks(store.db, { statuses: [], operationId: op.id, limit: 100 }).items;
  assert.equal(new Set(tasks.map((t) => t.id)), new Set(op.task_ids));
});

Lists.run();

const Cursor = suite('decodeCursor');

Cursor('round-trips its own cursors and marks foreign ones NaN', () => {
  assert.is(decodeCursor(encodeCursor(42)), 42);
  assert.is(decodeCursor(undefined), null);
  assert.ok(Number.isNaN(decodeCursor('garbage!')));
  assert.ok(Number.isNaN(decodeCursor(Buffer.from('p-1').toString('base64url'))));
});

Cursor.run();
