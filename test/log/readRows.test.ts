import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { firstAfter, readRowsAfter } from '../../src/log/readRows.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';

let store: TestStore;
let now = 1_000;
async function seed() {
  now = 1_000;
  store = freshStore({ clock: () => now });
  for (let i = 1; i <= 12; i++) {
    await store.log.append(`connection:c${i % 3}`, [{ type: 'connection.error', data: { code: `E${i}`, message: 'é "quoted"' } }]);
    now += 10;
  }
}

const ReadRows = suite('readRowsAfter');
ReadRows.before.each(seed);
ReadRows.after.each(() => store.cleanup());

ReadRows('pages the log in position order with data and meta as the stored text', () => {
  const first = readRowsAfter(store.db, 0, 5);
  assert.equal(first.map((r) => r.position), [1, 2, 3, 4, 5]);
  const rest = readRowsAfter(store.db, 5, 100);
  assert.equal(rest.map((r) => r.position), [6, 7, 8, 9, 10, 11, 12]);
  const stored = store.db.prepare('SELECT data, meta FROM events WHERE position = 3').get() as { data: string; meta: string };
  assert.is(first[2].data, stored.data);
  assert.is(first[2].meta, stored.meta);
  assert.equal(JSON.parse(first[2].data), { code: 'E3', message: 'é "quoted"', fatal: false });
  assert.equal(readRowsAfter(store.db, 12, 10), []);
});

ReadRows.run();

const FirstAfter = suite('firstAfter');
FirstAfter.before.each(seed);
FirstAfter.after.each(() => store.cleanup());

FirstAfter('gives the next position and its time, or null at the head', () => {
  assert.equal(firstAfter(store.db, 0), { position: 1, recordedAt: 1_000 });
  assert.equal(firstAfter(store.db, 4), { position: 5, recordedAt: 1_040 });
  assert.is(firstAfter(store.db, 12), null);
});

FirstAfter.run();
