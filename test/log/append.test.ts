import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GAP_RETRY_MS, type InlineProjector } from '../../src/log/append.ts';
import { SqliteEventStore } from '../../src/log/sqliteStore.ts';
import { Projector } from '../../src/projections/sqlite/projector.ts';
import { SqliteMonitorReads } from '../../src/projections/sqlite/reads.ts';
import { headPosition } from '../../src/log/read.ts';
import { isAppError } from '../../src/errors.ts';
import { GAP_STREAM, type NewEvent } from '../../src/log/catalogue.ts';
import { freshStore, openTestStore, type TestStore } from '../helpers/db.ts';
import { fillDatabase, holdWriteLock } from '../helpers/storage.ts';
import { waitFor } from '../helpers/webrtc.ts';

const created = (id: string): NewEvent => ({ type: 'connection.created', data: { connection_id: id } });
const err = (code: string): NewEvent => ({ type: 'connection.error', data: { code, message: 'm' } });
const count = (store: TestStore) => store.db.prepare('SELECT count(*) FROM events').pluck().get() as number;

const Append = suite('EventStore.append (SQLite)');
let store: TestStore;
Append.before.each(async () => {
  store = await freshStore();
});
Append.after.each(() => store.cleanup());

Append('appends events and reads them back with versions, positions and meta', async () => {
  const r = await store.log.append('connection:a', [created('a'), err('E1')], { meta: { request_id: 'req-1' } });
  assert.ok(r.ok);
  assert.is(r.firstPosition, 1);
  assert.is(r.lastPosition, 2);
  assert.is(r.nextVersion, 2);
  const events = await store.log.readStream('connection:a');
  assert.equal(events.map((e) => [e.position, e.version, e.type]), [[1, 1, 'connection.created'], [2, 2, 'connection.error']]);
  assert.equal(events[0].data, { connection_id: 'a', role: 'server' }, 'defaults are applied before storing');
  assert.equal(events[1].meta, { schema: 2, request_id: 'req-1' });
  assert.is(events[0].recordedAt, r.recordedAt);
});

Append('stores the events table as STRICT with the frozen envelope', () => {
  const sql = store.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").pluck().get() as string;
  assert.match(sql, /STRICT/);
  for (const col of ['position', 'stream', 'version', 'type', 'data', 'meta', 'recorded_at']) assert.match(sql, col);
  assert.is(store.db.pragma('journal_mode', { simple: true }), 'wal');
});

Append('makes the read model visible as soon as the append resolves', async () => {
  await store.log.append('connection:a', [created('a')]);
  assert.is((await store.reads.connection('a'))?.category, 'new');
  assert.is((await store.reads.summary()).event_count, 1);
});

Append('checks expected versions: any, no_stream, stream_exists and exact', async () => {
  const { log } = store;
  assert.ok((await log.append('connection:a', [created('a')], { expectedVersion: 'no_stream' })).ok);
  assert.equal(await log.append('connection:a', [err('x')], { expectedVersion: 'no_stream' }), { ok: false, reason: 'conflict', expected: 'no_stream', current: 1 });
  assert.ok((await log.append('connection:a', [err('x')], { expectedVersion: 'stream_exists' })).ok);
  assert.equal(await log.append('connection:b', [err('x')], { expectedVersion: 'stream_exists' }), { ok: false, reason: 'conflict', expected: 'stream_exists', current: 0 });
  assert.ok((await log.append('connection:a', [err('y')], { expectedVersion: 2 })).ok);
  assert.equal(await log.append('connection:a', [err('z')], { expectedVersion: 2 }), { ok: false, reason: 'conflict', expected: 2, current: 3 });
  assert.ok((await log.append('connection:a', [err('z')], { expectedVersion: 'any' })).ok);
  assert.is(count(store), 4, 'conflicts wrote nothing');
  assert.equal((await store.log.readStream('connection:a')).map((e) => e.version), [1, 2, 3, 4]);
});

Append('fails only the conflicting append while the rest of the same batch commits', async () => {
  await store.log.append('connection:a', [created('a')]);
  const batchesBefore = store.log.stats.batches;
  const results = await Promise.all([
    store.log.append('connection:b', [created('b')], { expectedVersion: 'no_stream' }),
    store.log.append('connection:a', [err('stale')], { expectedVersion: 0 }),
    store.log.append('connection:a', [err('fresh')], { expectedVersion: 1 }),
    // Versions count appends earlier in the same batch.
    store.log.append('connection:a', [err('next')], { expectedVersion: 2 }),
    store.log.append('connection:b', [err('dup')], { expectedVersion: 'no_stream' }),
  ]);
  assert.is(store.log.stats.batches, batchesBefore + 1, 'one transaction');
  assert.equal(results.map((r) => r.ok), [true, false, true, true, false]);
  assert.equal((await store.log.readStream('connection:a')).map((e) => (e.data as { code?: string }).code ?? e.type), ['connection.created', 'fresh', 'next']);
  assert.is((await store.log.readStream('connection:b')).length, 1);
  assert.is((await store.reads.connection('a'))?.error_count, 2, 'the projection saw only the committed appends');
});

Append('group-commits appends made in the same tick into one transaction', async () => {
  const before = store.log.stats.batches;
  const all = Array.from({ length: 200 }, (_, i) => store.log.append(`connection:c${i}`, [created(`c${i}`)]));
  const results = await Promise.all(all);
  assert.is(store.log.stats.batches, before + 1);
  assert.is(store.log.stats.lastBatchSize, 200);
  assert.ok(results.every((r) => r.ok));
  const times = new Set(results.map((r) => (r.ok ? r.recordedAt : 0)));
  assert.is(times.size, 1, 'one batch, one recorded_at');
  // Appends in later ticks are later batches.
  await store.log.append('connection:x', [created('x')]);
  await store.log.append('connection:y', [created('y')]);
  assert.is(store.log.stats.batches, before + 3);
});

Append('resolves each caller only after commit (onCommit fires after the rows are readable)', async () => {
  const seen: number[] = [];
  store.log.onCommit((info) => {
    seen.push(info.lastPosition);
    assert.is(headPosition(store.db), info.lastPosition);
  });
  const p = store.log.append('connection:a', [created('a')]);
  assert.is(count(store), 0, 'nothing is written before the batch runs');
  const r = await p;
  assert.ok(r.ok);
  assert.equal(seen, [1]);
  assert.is(count(store), 1);
});

Append('rejects events that are not in the catalogue with INVALID_EVENT and writes nothing', async () => {
  const bad = [
    { type: 'connection.exploded', data: {} },
    { type: 'connection.state_changed', data: { kind: 'moon', from: 'a', to: 'b' } },
    { type: 'connection.created', data: {} },
    { type: 'operation.completed', data: { result: 1, duration_ms: -5 } },
  ];
  for (const e of bad) {
    try {
      await store.log.append('connection:a', [created('a'), e as NewEvent]);
      assert.unreachable(`${e.type} was accepted`);
    } catch (error) {
      assert.ok(isAppError(error), String(error));
      assert.is(error.code, 'INVALID_EVENT');
      assert.is(error.status, 422);
    }
  }
  await new Promise((r) => setImmediate(r));
  assert.is(count(store), 0);
  assert.is((await store.reads.summary()).event_count, 0);
});

Append('rejects a payload that is not JSON (a cycle) instead of throwing', async () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.me = cyclic;
  const p = store.log.append('operation:o', [{ type: 'operation.completed', data: { result: cyclic, duration_ms: 1 } }]);
  try {
    await p;
    assert.unreachable();
  } catch (error) {
    assert.ok(isAppError(error));
    assert.is(error.code, 'INVALID_EVENT');
  }
  assert.is(count(store), 0);
});

Append('rolls back only the append whose projection throws, keeping the batch', async () => {
  const { dir } = store;
  const inner = new Projector();
  const throwing: InlineProjector = {
    apply(d, events) {
      if (events.some((e) => e.stream === 'connection:bad')) throw new Error('projection failed');
      inner.apply(d, events);
    },
    flush: (d) => inner.flush(d),
    discard: () => inner.discard(),
  };
  const log = SqliteEventStore.open(`${dir}/throwing.db`, { projector: throwing });
  const reads = new SqliteMonitorReads(log);
  const results = await Promise.allSettled([
    log.append('connection:ok1', [created('ok1')]),
    log.append('connection:bad', [created('bad'), err('e')]),
    log.append('connection:ok2', [created('ok2')]),
  ]);
  assert.equal(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal((await log.readLog({ limit: 10 })).map((e) => e.stream), ['connection:ok1', 'connection:ok2']);
  assert.ok(await reads.connection('ok2'));
  assert.is(await reads.connection('bad'), null);
  assert.is((await reads.summary()).event_count, 2);
  await log.close();
});

Append('never lets recorded_at go backwards, even when the clock does', async () => {
  let now = 10_000;
  const s = await freshStore({ clock: () => now });
  try {
    await s.log.append('connection:a', [created('a')]);
    now = 5_000;
    await s.log.append('connection:a', [err('x')]);
    now = 20_000;
    await s.log.append('connection:a', [err('y')]);
    assert.equal((await s.log.readStream('connection:a')).map((e) => e.recordedAt), [10_000, 10_000, 20_000]);
  } finally {
    await s.cleanup();
  }
});

Append('keeps recorded_at from going backwards across a reopen with a clock that went back', async () => {
  let now = 50_000;
  const path = `${store.dir}/reopen-clock.db`;
  const first = await openTestStore(path, { clock: () => now });
  await first.log.append('connection:a', [created('a')]);
  await first.close();
  now = 40_000;
  const second = await openTestStore(path, { clock: () => now });
  await second.log.append('connection:a', [err('x')]);
  assert.equal((await second.log.readStream('connection:a')).map((e) => e.recordedAt), [50_000, 50_000]);
  await second.close();
});

Append('keeps everything after closing and reopening the file, and continues the versions', async () => {
  const { path, log } = store;
  await Promise.all([log.append('connection:a', [created('a'), err('1')]), log.append('operation:o', [{ type: 'operation.started', data: { operation_id: 'o', type: 't' } }])]);
  const before = await log.readLog({ limit: 100 });
  await log.close();
  const again = await openTestStore(path);
  assert.equal(await again.log.readLog({ limit: 100 }), before);
  const r = await again.log.append('connection:a', [err('2')], { expectedVersion: 2 });
  assert.ok(r.ok);
  assert.is(r.nextVersion, 3);
  assert.is(r.firstPosition, 4);
  assert.is((await again.reads.connection('a'))?.error_count, 2);
  assert.is((await again.reads.summary()).event_count, 4);
  await again.close();
});

Append('refuses appends after close with SHUTTING_DOWN, having committed what was queued', async () => {
  const p = store.log.append('connection:a', [created('a')]);
  const closing = store.log.close();
  assert.ok((await p).ok);
  await closing;
  try {
    await store.log.append('connection:a', [err('late')]);
    assert.unreachable('append after close');
  } catch (error) {
    assert.ok(isAppError(error));
    assert.is(error.code, 'SHUTTING_DOWN');
  }
  const reopened = await openTestStore(store.path);
  assert.is((await reopened.log.head()), 1);
  await reopened.close();
});

Append.run();

const Storage = suite('EventStore.append (SQLite) when storage fails');
Storage.before.each(async () => {
  store = await freshStore();
});
Storage.after.each(() => store.cleanup());

Storage('rejects with a 503 STORAGE_FULL when the database is full, writing nothing', async () => {
  await store.log.append('connection:a', [created('a')]);
  const full = fillDatabase(store.db);
  try {
    await store.log.append('connection:a', [err('lost'), err('lost too')]);
    assert.unreachable('append to a full database');
  } catch (error) {
    assert.ok(isAppError(error), String(error));
    assert.is(error.status, 503);
    assert.is(error.code, 'STORAGE_FULL');
    assert.ok(error.expose, 'the message is safe to show');
    assert.is(error.retryAfterSeconds! > 0, true);
  } finally {
    full.release();
  }
  assert.is(count(store), 1);
  assert.equal(store.log.pendingGap?.events, 2);
});

Storage('marks what was lost with a counted log.gap event as soon as storage takes writes again', async () => {
  await store.log.append('connection:a', [created('a')]);
  const full = fillDatabase(store.db);
  const lost = await Promise.allSettled([
    store.log.append('connection:a', [err('1'), err('2')]),
    store.log.append('operation:o', [{ type: 'operation.started', data: { operation_id: 'o', type: 't' } }]),
  ]);
  assert.equal(lost.map((r) => r.status), ['rejected', 'rejected']);
  full.release();
  assert.ok((await store.log.append('connection:a', [err('3')])).ok);
  const gaps = await store.log.readStream(GAP_STREAM);
  assert.is(gaps.length, 1);
  const gap = gaps[0];
  assert.is(gap.type, 'log.gap');
  if (gap.type !== 'log.gap') return;
  assert.is(gap.data.events, 3);
  assert.is(gap.data.appends, 2);
  assert.equal(gap.data.types, { 'connection.error': 2, 'operation.started': 1 });
  assert.equal(gap.data.streams.sort(), ['connection:a', 'operation:o']);
  assert.is(gap.data.error.code, 'STORAGE_FULL');
  assert.ok(gap.data.first_failed_at <= gap.data.last_failed_at);
  assert.ok(gap.position < (await store.log.readStream('connection:a')).at(-1)!.position, 'the marker comes before what followed it');
  assert.is(store.log.pendingGap, null);
  assert.equal([store.log.stats.unrecordedEvents, store.log.stats.gapsRecorded, store.log.stats.gapEventsRecorded], [3, 1, 3]);
});

Storage('records the gap by itself when nothing else is appended after storage returns', async () => {
  await store.log.append('connection:a', [created('a')]);
  const full = fillDatabase(store.db);
  await store.log.append('connection:a', [err('lost')]).catch(() => {});
  full.release();
  await waitFor(async () => (await store.log.readStream(GAP_STREAM)).length === 1, GAP_RETRY_MS + 5000, 'the gap marker');
  assert.is(store.log.pendingGap, null);
});

Storage('keeps counting while storage stays full, and writes one marker for all of it', async () => {
  await store.log.append('connection:a', [created('a')]);
  const full = fillDatabase(store.db);
  for (let i = 0; i < 3; i++) await store.log.append('connection:a', [err(`lost ${i}`)]).catch(() => {});
  assert.is(store.log.pendingGap?.events, 3);
  full.release();
  await store.log.append('connection:a', [err('back')]);
  const gaps = await store.log.readStream(GAP_STREAM);
  assert.is(gaps.length, 1);
  assert.is((gaps[0].data as { events: number }).events, 3);
});

Storage.run();

const Concurrent = suite('EventStore.append (SQLite) beside another writer');
Concurrent.before.each(async () => {
  store = await freshStore();
});
Concurrent.after.each(() => store.cleanup());

Concurrent('waits for another connection that holds the write lock, then commits (BEGIN IMMEDIATE)', async () => {
  await store.log.append('connection:a', [created('a')]);
  const other = holdWriteLock(store.path, 300);
  await other.held;
  // This append reads the stream's version before it writes: in a deferred
  // transaction SQLite refuses the upgrade once the other writer commits
  // (SQLITE_BUSY_SNAPSHOT) instead of waiting in busy_timeout.
  const result = await store.log.append('connection:a', [err('after the other writer')]);
  await other.done;
  assert.ok(result.ok);
  assert.is(count(store), 2);
  assert.is(store.db.prepare("SELECT position FROM checkpoints WHERE consumer = 'lock-holder'").pluck().get(), 1, 'the other write committed too');
  assert.is(store.log.pendingGap, null);
});

Concurrent.run();
