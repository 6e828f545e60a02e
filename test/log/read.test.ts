import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readStream, readAll, iterateAll, headPosition } from '../../src/log/read.ts';
import type { NewEvent } from '../../src/log/catalogue.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';

const err = (code: string): NewEvent => ({ type: 'connection.error', data: { code, message: code } });

let store: TestStore;
let now = 1_000;
/** 30 events over 3 streams, one batch per event, the clock moving 10 ms each. */
async function seed() {
  now = 1_000;
  store = freshStore({ clock: () => now });
  for (let i = 0; i < 30; i++) {
    const stream = ['connection:a', 'connection:a_%', 'operation:a'][i % 3];
    const event: NewEvent = stream.startsWith('operation')
      ? i === 2
        ? { type: 'operation.started', data: { operation_id: 'a', type: 't' } }
        : { type: 'task.started', data: {} }
      : err(`e${i}`);
    await store.log.append(stream, [event]);
    now += 10;
  }
}

const ReadStream = suite('readStream');
ReadStream.before.each(seed);
ReadStream.after.each(() => store.cleanup());

ReadStream('returns one stream in version order', () => {
  const events = readStream(store.db, 'connection:a');
  assert.is(events.length, 10);
  assert.equal(events.map((e) => e.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(events.every((e) => e.stream === 'connection:a'));
});

ReadStream('pages with afterVersion and limit', () => {
  const page = readStream(store.db, 'connection:a', { afterVersion: 4, limit: 3 });
  assert.equal(page.map((e) => e.version), [5, 6, 7]);
});

ReadStream('stops at a position or a time (time travel)', () => {
  assert.equal(readStream(store.db, 'connection:a', { untilPosition: 7 }).map((e) => e.position), [1, 4, 7]);
  // Event i was recorded at 1000 + 10 i; position = i + 1.
  assert.equal(readStream(store.db, 'connection:a', { untilTime: 1_065 }).map((e) => e.position), [1, 4, 7]);
  assert.equal(readStream(store.db, 'connection:a', { untilTime: 999 }), []);
});

ReadStream('answers an empty list for an unknown stream', () => {
  assert.equal(readStream(store.db, 'connection:nope'), []);
});

ReadStream.run();

const ReadAll = suite('readAll');
ReadAll.before.each(seed);
ReadAll.after.each(() => store.cleanup());

ReadAll('reads the whole log from a position in pages, with no gap and no repeat', () => {
  const seen: number[] = [];
  let after = 0;
  for (;;) {
    const page = readAll(store.db, { after, limit: 7 });
    seen.push(...page.map((e) => e.position));
    if (page.length < 7) break;
    after = page[page.length - 1].position;
  }
  assert.equal(seen, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(readAll(store.db, { after: 28, limit: 10 }).map((e) => e.position), [29, 30]);
  assert.equal(readAll(store.db, { after: 30, limit: 10 }), []);
});

ReadAll('filters by stream prefix literally (ids with % and _ are not patterns)', () => {
  const exact = readAll(store.db, { limit: 100, streamPrefix: 'connection:a_' });
  assert.is(exact.length, 10);
  assert.ok(exact.every((e) => e.stream === 'connection:a_%'));
  assert.is(readAll(store.db, { limit: 100, streamPrefix: 'connection:' }).length, 20);
  assert.is(readAll(store.db, { limit: 100, streamPrefix: 'connection:%' }).length, 0);
});

ReadAll('filters by exact stream and by types', () => {
  assert.is(readAll(store.db, { limit: 100, stream: 'operation:a' }).length, 10);
  assert.equal(readAll(store.db, { limit: 100, types: ['operation.started'] }).map((e) => e.position), [3]);
  assert.is(readAll(store.db, { limit: 100, types: ['operation.started', 'task.started'] }).length, 10);
});

ReadAll.run();

const IterateAll = suite('iterateAll');
IterateAll.before.each(seed);
IterateAll.after.each(() => store.cleanup());

IterateAll('yields every event in order across page boundaries, within after/until', () => {
  assert.equal([...iterateAll(store.db, { pageSize: 4 })].map((e) => e.position), Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal([...iterateAll(store.db, { pageSize: 5, after: 10, until: 20 })].map((e) => e.position), Array.from({ length: 10 }, (_, i) => i + 11));
  assert.equal([...iterateAll(store.db, { pageSize: 30 })].length, 30, 'an exactly full last page ends too');
});

IterateAll.run();

const Head = suite('headPosition');

Head('is 0 on an empty log and the last position otherwise', async () => {
  const s = freshStore();
  try {
    assert.is(headPosition(s.db), 0);
    await s.log.append('connection:x', [err('a'), err('b')]);
    assert.is(headPosition(s.db), 2);
  } finally {
    s.cleanup();
  }
});

Head.run();

