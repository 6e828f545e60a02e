import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { iterateLog } from '../../src/log/read.ts';
import type { NewEvent } from '../../src/log/catalogue.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';

// The reads behind the store's interface are held to test/log/contract.ts
// (test/log/sqliteStore.test.ts); this is the page iterator that archive and
// rebuild use inside the SQLite store.

const err = (code: string): NewEvent => ({ type: 'connection.error', data: { code, message: code } });

let store: TestStore;

const IterateLog = suite('iterateLog');
IterateLog.before.each(async () => {
  store = await freshStore();
  for (let i = 0; i < 30; i++) await store.log.append(['connection:a', 'connection:b'][i % 2], [err(`e${i}`)]);
});
IterateLog.after.each(() => store.cleanup());

IterateLog('yields every event in order across page boundaries, within after/until', () => {
  assert.equal([...iterateLog(store.db, { pageSize: 4 })].map((e) => e.position), Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal([...iterateLog(store.db, { pageSize: 5, after: 10, until: 20 })].map((e) => e.position), Array.from({ length: 10 }, (_, i) => i + 11));
  assert.equal([...iterateLog(store.db, { pageSize: 30 })].length, 30, 'an exactly full last page ends too');
});

IterateLog.run();
