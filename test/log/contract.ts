// The contract of the store: what every implementation of EventStore and
// MonitorReads must do, as uvu suites parameterised by a factory. The SQLite
// store runs it in test/log/sqliteStore.test.ts; a second implementation
// (the fleet's PostgreSQL read models, a PostgreSQL node store) is held to
// the same tests by calling `storeContract` with its own factory.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAppError } from '../../src/errors.ts';
import { parseStream, type NewEvent } from '../../src/log/catalogue.ts';
import type { Checkpoint, EventStore } from '../../src/log/store.ts';
import { foldConnection, type ConnectionModel } from '../../src/projections/connection.ts';
import type { OperationModel } from '../../src/projections/operation.ts';
import type { TaskModel } from '../../src/projections/task.ts';
import { parsed, type MonitorReads, type Page, type StoredRow } from '../../src/projections/reads.ts';
import { appendSteps, prng, realisticSteps } from '../helpers/events.ts';

/** One store under test, on storage of its own. */
export type ContractStore = {
  store: EventStore;
  reads: MonitorReads;
  /** Sets the clock the store stamps `recordedAt` with. */
  setNow(ms: number): void;
  /** A directory the test may write files into (prune archives). */
  dir: string;
  /** Closes the store (if the test has not) and removes its storage. */
  cleanup(): Promise<void>;
};
export type StoreFactory = () => Promise<ContractStore>;

const created = (id: string): NewEvent => ({ type: 'connection.created', data: { connection_id: id } });
const err = (code: string, message = 'm'): NewEvent => ({ type: 'connection.error', data: { code, message } });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.unreachable('it resolved');
}

/** Registers and runs every suite of the contract against stores from `factory`. */
export function storeContract(name: string, factory: StoreFactory): void {
  appending(name, factory);
  reading(name, factory);
  checkpoints(name, factory);
  retention(name, factory);
  readModels(name, factory);
}

// ---- appending ---------------------------------------------------------------

function appending(name: string, factory: StoreFactory) {
  const Append = suite(`${name}: append`);
  let t: ContractStore;
  Append.before.each(async () => {
    t = await factory();
  });
  Append.after.each(() => t.cleanup());

  Append('appends events and reads them back with versions, positions, meta and defaults', async () => {
    const r = await t.store.append('connection:a', [created('a'), err('E1')], { meta: { request_id: 'req-1' } });
    assert.ok(r.ok);
    assert.equal([r.firstPosition, r.lastPosition, r.nextVersion], [1, 2, 2]);
    const events = await t.store.readStream('connection:a');
    assert.equal(events.map((e) => [e.position, e.version, e.type]), [[1, 1, 'connection.created'], [2, 2, 'connection.error']]);
    assert.equal(events[0].data, { connection_id: 'a', role: 'server' }, 'defaults are applied before storing');
    assert.equal(events[1].meta, { schema: 2, request_id: 'req-1' });
    assert.is(events[0].recordedAt, r.recordedAt);
  });

  Append('checks expected versions: any, no_stream, stream_exists and exact; a conflict is a value and writes nothing', async () => {
    const { store } = t;
    assert.ok((await store.append('connection:a', [created('a')], { expectedVersion: 'no_stream' })).ok);
    assert.equal(await store.append('connection:a', [err('x')], { expectedVersion: 'no_stream' }), { ok: false, reason: 'conflict', expected: 'no_stream', current: 1 });
    assert.ok((await store.append('connection:a', [err('x')], { expectedVersion: 'stream_exists' })).ok);
    assert.equal(await store.append('connection:b', [err('x')], { expectedVersion: 'stream_exists' }), { ok: false, reason: 'conflict', expected: 'stream_exists', current: 0 });
    assert.ok((await store.append('connection:a', [err('y')], { expectedVersion: 2 })).ok);
    assert.equal(await store.append('connection:a', [err('z')], { expectedVersion: 2 }), { ok: false, reason: 'conflict', expected: 2, current: 3 });
    assert.ok((await store.append('connection:a', [err('z')], { expectedVersion: 'any' })).ok);
    assert.is(await store.head(), 4, 'conflicts wrote nothing');
    assert.equal((await store.readStream('connection:a')).map((e) => e.version), [1, 2, 3, 4]);
  });

  Append('group-commits appends made in the same turn: one commit, one recordedAt, told once to onCommit', async () => {
    const commits: { lastPosition: number; size: number }[] = [];
    t.store.onCommit(({ lastPosition, size }) => commits.push({ lastPosition, size }));
    const before = t.store.stats.batches;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => t.store.append(`connection:c${i}`, [created(`c${i}`)])));
    assert.ok(results.every((r) => r.ok));
    assert.is(t.store.stats.batches, before + 1);
    assert.is(t.store.stats.lastBatchSize, 200);
    assert.equal(commits, [{ lastPosition: 200, size: 200 }]);
    assert.is(new Set(results.map((r) => (r.ok ? r.recordedAt : 0))).size, 1, 'one batch, one recorded_at');
    // Appends in later turns are later batches.
    await t.store.append('connection:x', [created('x')]);
    await t.store.append('connection:y', [created('y')]);
    assert.is(t.store.stats.batches, before + 3);
  });

  Append('fails only the conflicting append of a batch; versions count the appends before it in the same batch', async () => {
    await t.store.append('connection:a', [created('a')]);
    const batchesBefore = t.store.stats.batches;
    const results = await Promise.all([
      t.store.append('connection:b', [created('b')], { expectedVersion: 'no_stream' }),
      t.store.append('connection:a', [err('stale')], { expectedVersion: 0 }),
      t.store.append('connection:a', [err('fresh')], { expectedVersion: 1 }),
      t.store.append('connection:a', [err('next')], { expectedVersion: 2 }),
      t.store.append('connection:b', [err('dup')], { expectedVersion: 'no_stream' }),
    ]);
    assert.is(t.store.stats.batches, batchesBefore + 1, 'one transaction');
    assert.equal(results.map((r) => r.ok), [true, false, true, true, false]);
    assert.equal((await t.store.readStream('connection:a')).map((e) => (e.data as { code?: string }).code ?? e.type), ['connection.created', 'fresh', 'next']);
    assert.is((await t.store.readStream('connection:b')).length, 1);
    assert.is((await t.reads.connection('a'))?.error_count, 2, 'the read model saw only the committed appends');
  });

  Append('reads its own appends: the log, the head and the read models, as soon as the append resolves', async () => {
    const r = await t.store.append('connection:a', [created('a')]);
    assert.ok(r.ok);
    assert.is(await t.store.head(), r.lastPosition);
    assert.is((await t.store.readLog({ after: 0, limit: 10 })).length, 1);
    assert.is((await t.reads.connection('a'))?.category, 'new');
    assert.is((await t.reads.summary()).event_count, 1);
    assert.is((await t.reads.summary()).log_position, r.lastPosition);
  });

  Append('tells onCommit listeners before any appender resumes, and the rows are readable then', async () => {
    const seen: number[] = [];
    const heads: Promise<number>[] = [];
    const unsubscribe = t.store.onCommit((info) => {
      seen.push(info.lastPosition);
      heads.push(t.store.head());
    });
    const p = t.store.append('connection:a', [created('a')]);
    assert.is(await t.store.head(), 0, 'nothing is written before the batch runs');
    assert.ok((await p).ok);
    assert.equal(seen, [1], 'told before the appender resumed');
    assert.equal(await Promise.all(heads), [1]);
    unsubscribe();
    await t.store.append('connection:a', [err('e')]);
    assert.equal(seen, [1], 'no longer told once unsubscribed');
  });

  Append('rejects events that are not in the catalogue with INVALID_EVENT, and writes nothing', async () => {
    const bad = [
      { type: 'connection.exploded', data: {} },
      { type: 'connection.state_changed', data: { kind: 'moon', from: 'a', to: 'b' } },
      { type: 'connection.created', data: {} },
      { type: 'operation.completed', data: { result: 1, duration_ms: -5 } },
    ];
    for (const e of bad) {
      const error = await rejection(t.store.append('connection:a', [created('a'), e as NewEvent]));
      assert.ok(isAppError(error), String(error));
      assert.is(error.code, 'INVALID_EVENT');
      assert.is(error.status, 422);
    }
    assert.is(await t.store.head(), 0);
    assert.is((await t.reads.summary()).event_count, 0);
  });

  Append('never lets recordedAt go backwards, even when the clock does', async () => {
    t.setNow(10_000);
    await t.store.append('connection:a', [created('a')]);
    t.setNow(5_000);
    await t.store.append('connection:a', [err('x')]);
    t.setNow(20_000);
    await t.store.append('connection:a', [err('y')]);
    assert.equal((await t.store.readStream('connection:a')).map((e) => e.recordedAt), [10_000, 10_000, 20_000]);
  });

  Append('refuses appends after close with SHUTTING_DOWN, having committed what was queued', async () => {
    const p = t.store.append('connection:a', [created('a')]);
    const closing = t.store.close();
    assert.ok((await p).ok);
    await closing;
    const error = await rejection(t.store.append('connection:a', [err('late')]));
    assert.ok(isAppError(error));
    assert.is(error.code, 'SHUTTING_DOWN');
  });

  Append.run();
}

// ---- reading -----------------------------------------------------------------

function reading(name: string, factory: StoreFactory) {
  let t: ContractStore;
  /** 30 events over 3 streams, one batch per event, the clock moving 10 ms each. */
  async function seed() {
    t = await factory();
    let now = 1_000;
    for (let i = 0; i < 30; i++) {
      t.setNow(now);
      const stream = ['connection:a', 'connection:a_%', 'operation:a'][i % 3];
      const event: NewEvent = stream.startsWith('operation')
        ? i === 2
          ? { type: 'operation.started', data: { operation_id: 'a', type: 't' } }
          : { type: 'task.started', data: {} }
        : err(`e${i}`, 'é "quoted"');
      await t.store.append(stream, [event]);
      now += 10;
    }
  }

  const ReadStream = suite(`${name}: readStream`);
  ReadStream.before.each(seed);
  ReadStream.after.each(() => t.cleanup());

  ReadStream('returns one stream in version order', async () => {
    const events = await t.store.readStream('connection:a');
    assert.is(events.length, 10);
    assert.equal(events.map((e) => e.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(events.every((e) => e.stream === 'connection:a'));
  });

  ReadStream('pages with afterVersion and limit', async () => {
    assert.equal((await t.store.readStream('connection:a', { afterVersion: 4, limit: 3 })).map((e) => e.version), [5, 6, 7]);
  });

  ReadStream('stops at a position or a time (time travel)', async () => {
    assert.equal((await t.store.readStream('connection:a', { untilPosition: 7 })).map((e) => e.position), [1, 4, 7]);
    // Event i was recorded at 1000 + 10 i; position = i + 1.
    assert.equal((await t.store.readStream('connection:a', { untilTime: 1_065 })).map((e) => e.position), [1, 4, 7]);
    assert.equal(await t.store.readStream('connection:a', { untilTime: 999 }), []);
  });

  ReadStream('answers an empty list for an unknown stream', async () => {
    assert.equal(await t.store.readStream('connection:nope'), []);
  });

  ReadStream('gives the same events as stored rows, data and meta as JSON text', async () => {
    const events = await t.store.readStream('connection:a');
    const rows = await t.store.readStreamRows('connection:a');
    assert.equal(rows.map((r) => [r.position, r.stream, r.version, r.type, r.recordedAt]), events.map((e) => [e.position, e.stream, e.version, e.type, e.recordedAt]));
    assert.equal(rows.map((r) => [JSON.parse(r.data), JSON.parse(r.meta)]), events.map((e) => [e.data, e.meta]));
  });

  ReadStream.run();

  const ReadLog = suite(`${name}: readLog`);
  ReadLog.before.each(seed);
  ReadLog.after.each(() => t.cleanup());

  ReadLog('reads the whole log from a position in pages, with no gap and no repeat', async () => {
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = await t.store.readLog({ after, limit: 7 });
      seen.push(...page.map((e) => e.position));
      if (page.length < 7) break;
      after = page[page.length - 1].position;
    }
    assert.equal(seen, Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal((await t.store.readLog({ after: 28, limit: 10 })).map((e) => e.position), [29, 30]);
    assert.equal(await t.store.readLog({ after: 30, limit: 10 }), []);
  });

  ReadLog('stops at `until`, however few events match', async () => {
    assert.equal((await t.store.readLog({ after: 10, until: 15, limit: 100 })).map((e) => e.position), [11, 12, 13, 14, 15]);
    assert.equal(await t.store.readLog({ after: 0, until: 20, limit: 100, types: ['connection.created'] }), []);
  });

  ReadLog('reads backwards when asked: the newest events at or before `until`, newest first, down to `after`', async () => {
    assert.equal((await t.store.readLog({ after: 10, until: 15, limit: 3, descending: true })).map((e) => e.position), [15, 14, 13]);
    assert.equal((await t.store.readLog({ after: 12, until: 15, limit: 100, descending: true })).map((e) => e.position), [15, 14, 13]);
    assert.equal((await t.store.readLogRows({ limit: 2, stream: 'operation:a', descending: true })).map((r) => r.stream), ['operation:a', 'operation:a']);
    const newest = await t.store.readLog({ limit: 2, stream: 'operation:a', descending: true });
    assert.ok(newest[0].position > newest[1].position);
    assert.is(newest[0].position, Math.max(...(await t.store.readLog({ limit: 100, stream: 'operation:a' })).map((e) => e.position)));
  });

  ReadLog('filters by stream prefix literally (ids with % and _ are not patterns)', async () => {
    const exact = await t.store.readLog({ limit: 100, streamPrefix: 'connection:a_' });
    assert.is(exact.length, 10);
    assert.ok(exact.every((e) => e.stream === 'connection:a_%'));
    assert.is((await t.store.readLog({ limit: 100, streamPrefix: 'connection:' })).length, 20);
    assert.is((await t.store.readLog({ limit: 100, streamPrefix: 'connection:%' })).length, 0);
  });

  ReadLog('filters by exact stream and by types', async () => {
    assert.is((await t.store.readLog({ limit: 100, stream: 'operation:a' })).length, 10);
    assert.equal((await t.store.readLog({ limit: 100, types: ['operation.started'] })).map((e) => e.position), [3]);
    assert.is((await t.store.readLog({ limit: 100, types: ['operation.started', 'task.started'] })).length, 10);
  });

  ReadLog('gives the same page as stored rows, byte for byte what was stored', async () => {
    const first = await t.store.readLogRows({ after: 0, limit: 5 });
    assert.equal(first.map((r) => r.position), [1, 2, 3, 4, 5]);
    assert.equal(JSON.parse(first[0].data), { code: 'e0', message: 'é "quoted"', fatal: false });
    assert.is(first[0].data, JSON.stringify(JSON.parse(first[0].data)), 'data is the compact JSON text that was stored');
    const events = await t.store.readLog({ after: 0, limit: 5 });
    assert.equal(first.map((r) => JSON.parse(r.meta)), events.map((e) => e.meta));
    assert.equal(await t.store.readLogRows({ after: 30, limit: 10 }), []);
  });

  ReadLog('knows the head, and the first event after a position', async () => {
    assert.is(await t.store.head(), 30);
    assert.equal(await t.store.firstAfter(0), { position: 1, recordedAt: 1_000 });
    assert.equal(await t.store.firstAfter(4), { position: 5, recordedAt: 1_040 });
    assert.is(await t.store.firstAfter(30), null);
  });

  ReadLog.run();

  const Empty = suite(`${name}: an empty log`);
  Empty.before.each(async () => {
    t = await factory();
  });
  Empty.after.each(() => t.cleanup());

  Empty('has head 0, no events, and a zero summary', async () => {
    assert.is(await t.store.head(), 0);
    assert.equal(await t.store.readLog({ limit: 10 }), []);
    assert.is(await t.store.firstAfter(0), null);
    assert.is((await t.reads.summary()).event_count, 0);
    assert.is(await t.store.prunedThrough(), null);
  });

  Empty('finds the streams opened and never closed, by kind', async () => {
    const server = (id: string) => ({ type: 'server.created', data: { server_id: id, content: 'a.webm', mode: 'media', quality: 'auto' } }) as const;
    t.setNow(5_000);
    await t.store.append('server:live', [server('live')]);
    await t.store.append('server:stopped', [server('stopped'), { type: 'server.stopped', data: { server_id: 'stopped', reason: 'stopped' } }]);
    await t.store.append('connection:server:x', [created('server:x')]);
    assert.equal(await t.store.openStreams('server', 'server.created', 'server.stopped'), [{ id: 'live', openedAt: 5_000 }]);
  });

  Empty.run();
}

// ---- checkpoints -------------------------------------------------------------

function checkpoints(name: string, factory: StoreFactory) {
  const Checkpoints = suite(`${name}: checkpoints`);
  let t: ContractStore;
  Checkpoints.before.each(async () => {
    t = await factory();
    await t.store.append('connection:a', Array.from({ length: 20 }, (_, i) => err(`e${i}`)));
  });
  Checkpoints.after.each(() => t.cleanup());

  Checkpoints('are opaque: made and read by the store, kept per consumer, none before the first write', async () => {
    const { store } = t;
    assert.is(await store.readCheckpoint('a'), null);
    const at12 = store.checkpointAt(12);
    assert.type(at12, 'string');
    assert.is.not(at12 as string, '12', 'not a bare position');
    assert.is(store.positionOf(at12), 12);
    assert.is(store.positionOf(store.checkpointAt(0)), 0);
    await store.writeCheckpoint('a', store.checkpointAt(10));
    await store.writeCheckpoint('b', store.checkpointAt(4));
    await store.writeCheckpoint('a', at12);
    assert.is(await store.readCheckpoint('a'), at12);
    assert.is(store.positionOf((await store.readCheckpoint('b'))!), 4);
  });

  Checkpoints('refuse what the store did not make', async () => {
    for (const forged of ['12', '', 'sqlite:-1', 'garbage', 'sqlite:1e3']) {
      let error: unknown = null;
      try {
        t.store.positionOf(forged as Checkpoint);
      } catch (e) {
        error = e;
      }
      assert.ok(isAppError(error) && error.status === 400, `${JSON.stringify(forged)} was accepted`);
    }
    const error = await rejection(t.store.writeCheckpoint('a', 'x' as Checkpoint));
    assert.ok(isAppError(error) && error.status === 400);
  });

  Checkpoints('let a consumer resume exactly after what it read: no gap, no repeat', async () => {
    const { store } = t;
    const read: number[] = [];
    for (let round = 0; round < 5; round++) {
      // As after a restart: only the stored checkpoint says where it was.
      const saved = await store.readCheckpoint('consumer');
      const after = saved === null ? 0 : store.positionOf(saved);
      const page = await store.readLog({ after, limit: 6 });
      read.push(...page.map((e) => e.position));
      if (page.length) await store.writeCheckpoint('consumer', store.checkpointAt(page[page.length - 1].position));
    }
    assert.equal(read, Array.from({ length: 20 }, (_, i) => i + 1));
  });

  Checkpoints('stored with their events commit together, with the state or none, and not at all when the append is refused', async () => {
    const { store } = t;
    const first = await store.appendWithCheckpoint([{ stream: 'connection:b', events: [err('x')] }], { consumer: 'webhook:k', checkpoint: store.checkpointAt(21) });
    assert.is(first.positions.length, 1);
    assert.is(store.positionOf((await store.readCheckpoint('webhook:k'))!), 21);
    assert.is((await store.readConsumerState('webhook:k'))!.state, null, 'no state given, none kept');
    const two = await store.appendWithCheckpoint(
      [{ stream: 'connection:b', events: [err('y')] }, { stream: 'connection:c', events: [err('z')] }],
      { consumer: 'detectors', checkpoint: store.checkpointAt(22), state: '{"n":1}' },
    );
    assert.is(two.positions.length, 2);
    assert.equal(await store.readConsumerState('detectors'), { checkpoint: store.checkpointAt(22), state: '{"n":1}' });
    const head = await store.head();
    await rejection(store.appendWithCheckpoint([{ stream: 'connection:b', events: [{ type: 'connection.error', data: {} } as never] }], { consumer: 'webhook:k', checkpoint: store.checkpointAt(98) }));
    assert.is(store.positionOf((await store.readCheckpoint('webhook:k'))!), 21, 'an invalid event moves no checkpoint');
    const forged = await rejection(store.appendWithCheckpoint([{ stream: 'connection:b', events: [err('z')] }], { consumer: 'webhook:k', checkpoint: 'x' as Checkpoint }));
    assert.ok(isAppError(forged) && forged.status === 400, 'a checkpoint the store did not make is refused before anything is written');
    assert.is(await store.head(), head);
    // A stream written both ways (a webhook's attempts) counts its versions on, with no repeat.
    assert.ok((await store.append('connection:d', [err('1')])).ok);
    await store.appendWithCheckpoint([{ stream: 'connection:d', events: [err('2')] }], { consumer: 'webhook:k', checkpoint: store.checkpointAt(head + 2) });
    const third = await store.append('connection:d', [err('3')]);
    assert.ok(third.ok && third.nextVersion === 3, JSON.stringify(third));
    assert.equal((await store.readStream('connection:d')).map((e) => e.version), [1, 2, 3]);
  });

  Checkpoints('are dropped by prefix, keeping the ones named, and only those', async () => {
    const { store } = t;
    for (const consumer of ['webhook:a', 'webhook:b', 'webhook_x', 'forwarder']) await store.writeCheckpoint(consumer, store.checkpointAt(1));
    assert.equal(await store.dropCheckpoints('webhook:', ['webhook:a']), ['webhook:b']);
    const left = await Promise.all(['webhook:a', 'webhook:b', 'webhook_x', 'forwarder'].map((c) => store.readCheckpoint(c)));
    assert.equal(left.map((c) => c !== null), [true, false, true, true]);
  });

  Checkpoints.run();
}

// ---- retention ---------------------------------------------------------------

function retention(name: string, factory: StoreFactory) {
  const Prune = suite(`${name}: prune`);
  let t: ContractStore;
  Prune.before.each(async () => {
    t = await factory();
    await t.store.append('connection:a', Array.from({ length: 30 }, (_, i) => err(`e${i}`)));
  });
  Prune.after.each(() => t.cleanup());

  Prune('deletes events through a position, archiving them first as JSON lines', async () => {
    const archive = join(t.dir, 'archive.jsonl');
    const report = await t.store.prune({ throughPosition: 12, archivePath: archive });
    assert.equal(report, { deleted: 12, throughPosition: 12, archived: archive });
    const lines = readFileSync(archive, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.map((e) => e.position), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.is((await t.store.readLog({ limit: 100 }))[0].position, 13);
    assert.is(await t.store.prunedThrough(), 12);
    assert.is(await t.store.head(), 30);
  });

  Prune('never deletes past the lowest consumer checkpoint', async () => {
    await t.store.writeCheckpoint('log-dir', t.store.checkpointAt(5));
    await t.store.writeCheckpoint('other', t.store.checkpointAt(20));
    const report = await t.store.prune({ throughPosition: 25 });
    assert.is(report.throughPosition, 5);
    assert.is(report.deleted, 5);
    assert.is((await t.store.readLog({ limit: 1 }))[0].position, 6);
  });

  Prune('refuses position 0, and never reuses a pruned position', async () => {
    const error = await rejection(t.store.prune({ throughPosition: 0 }));
    assert.ok(isAppError(error));
    assert.is(error.status, 400);
    await t.store.prune({ throughPosition: 30 });
    assert.is(await t.store.prunedThrough(), 30);
    const r = await t.store.append('connection:b', [created('b')]);
    assert.ok(r.ok);
    assert.is(r.firstPosition, 31);
  });

  Prune('says nothing was pruned on a log never pruned', async () => {
    assert.is(await t.store.prunedThrough(), null);
  });

  Prune('keeps counting the versions of a stream whose events were all pruned; no_stream does not hold for it', async () => {
    await t.store.prune({ throughPosition: 30 });
    const again = await t.store.append('connection:a', [err('late')], { expectedVersion: 'no_stream' });
    assert.equal(again.ok, false, 'the stream existed: no_stream must not hold');
    const next = await t.store.append('connection:a', [err('late')], { expectedVersion: 30 });
    assert.ok(next.ok && next.nextVersion === 31, JSON.stringify(next));
  });

  Prune.run();

  const Plan = suite(`${name}: planPrune and lastPositionBefore`);
  let u: ContractStore;
  Plan.before.each(async () => {
    u = await factory();
    // One append each, a second apart: events of one append share its time.
    for (let i = 0; i < 10; i++) {
      u.setNow(1_000 * (i + 2));
      await u.store.append(`connection:${i}`, [err(`e${i}`)]);
    }
  });
  Plan.after.each(() => u.cleanup());

  Plan('says what a prune would delete, held back by a checkpoint, and deletes nothing', async () => {
    await u.store.writeCheckpoint('log-dir', u.store.checkpointAt(4));
    const recorded = (await u.store.readLog({ limit: 10 })).map((e) => e.recordedAt);
    assert.equal(await u.store.planPrune(8), {
      requested: 8,
      throughPosition: 4,
      heldBy: 'log-dir',
      events: 4,
      firstRecordedAt: recorded[0],
      lastRecordedAt: recorded[3],
    });
    assert.is(await u.store.head(), 10);
    assert.is(await u.store.prunedThrough(), null);
    assert.equal((await u.store.planPrune(0)).events, 0);
  });

  Plan('finds the last position recorded before a time', async () => {
    const recorded = (await u.store.readLog({ limit: 10 })).map((e) => e.recordedAt);
    assert.is(await u.store.lastPositionBefore(recorded[0]), 0);
    assert.is(await u.store.lastPositionBefore(recorded[5]), 5);
    assert.is(await u.store.lastPositionBefore(recorded[9] + 1), 10);
  });

  Plan.run();
}

// ---- read models -------------------------------------------------------------

function readModels(name: string, factory: StoreFactory) {
  let t: ContractStore;
  async function seeded() {
    t = await factory();
    await appendSteps(t.store, realisticSteps(11, { minEvents: 1500 }), { seed: 11, maxBatch: 10, setNow: (ms) => t.setNow(ms) });
  }
  /** Every id of a kind that has a stream in the log. */
  async function idsOf(kind: 'connection' | 'operation' | 'task'): Promise<string[]> {
    const ids = new Set<string>();
    let after = 0;
    for (;;) {
      const page = await t.store.readLog({ after, limit: 1000, streamPrefix: `${kind}:` });
      for (const e of page) ids.add(parseStream(e.stream)!.id);
      if (page.length < 1000) return [...ids];
      after = page[page.length - 1].position;
    }
  }
  async function all<T>(list: (cursor: string | null) => Promise<Page<StoredRow>>, pageSize?: number): Promise<T[]> {
    void pageSize;
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(cursor);
      out.push(...parsed<T>(page).items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  const At = suite(`${name}: connectionAt (time travel)`);
  At.before(seeded);
  At.after(() => t.cleanup());

  At('equals the fold of the prefix of the stream, by position', async () => {
    const r = prng(5);
    let checked = 0;
    for (const id of await idsOf('connection')) {
      const events = await t.store.readStream(`connection:${id}`);
      for (let k = 0; k < 3; k++) {
        const cut = Math.floor(r() * (events.length + 1));
        // Any position between two of its events answers the earlier prefix.
        const position = cut === 0 ? events[0].position - 1 : events[cut - 1].position + (cut < events.length ? Math.floor(r() * (events[cut].position - events[cut - 1].position)) : 1000);
        assert.equal(await t.reads.connectionAt(id, { position }), foldConnection(id, events.slice(0, cut)), `${id} at ${position}`);
        checked++;
      }
    }
    assert.ok(checked > 100);
  });

  At('equals the fold of the prefix of the stream, by time', async () => {
    for (const id of (await idsOf('connection')).slice(0, 40)) {
      const events = await t.store.readStream(`connection:${id}`);
      for (const e of events) {
        const prefix = events.filter((x) => x.recordedAt <= e.recordedAt);
        assert.equal(await t.reads.connectionAt(id, { time: e.recordedAt }), foldConnection(id, prefix));
      }
      assert.is(await t.reads.connectionAt(id, { time: events[0].recordedAt - 1 }), null);
    }
  });

  At('equals the current read model at the head, as a model and as stored JSON', async () => {
    for (const id of await idsOf('connection')) {
      const current = await t.reads.connection(id);
      assert.equal(await t.reads.connectionAt(id, {}), current);
      assert.equal(JSON.parse((await t.reads.connectionJson(id))!), current);
    }
    assert.is(await t.reads.connection('no-such-connection'), null);
    assert.is(await t.reads.connectionJson('no-such-connection'), null);
  });

  At('gives a connection its timeline: its stream as stored rows, paged by version', async () => {
    const id = (await idsOf('connection'))[0];
    const events = await t.store.readStream(`connection:${id}`);
    const rows = await t.reads.connectionEvents(id, {});
    assert.equal(rows.map((r) => r.position), events.map((e) => e.position));
    const page = await t.reads.connectionEvents(id, { afterVersion: 1, limit: 2 });
    assert.equal(page.map((r) => r.version), events.slice(1, 3).map((e) => e.version));
  });

  At.run();

  const Lists = suite(`${name}: connection, operation and task lists`);
  Lists.before(seeded);
  Lists.after(() => t.cleanup());

  Lists('pages connections newest first with a cursor, with no gap and no repeat', async () => {
    const ids = await idsOf('connection');
    const seen = await all<ConnectionModel>((cursor) => t.reads.connectionRows({ includeClosed: true, limit: 7, cursor }));
    assert.equal(new Set(seen.map((c) => c.id)), new Set(ids));
    assert.is(seen.length, ids.length);
    const positions = seen.map((c) => c.created_position);
    assert.equal(positions, [...positions].sort((a, b) => b - a), 'newest first');
  });

  Lists('hides closed connections unless asked, and filters by category, outcome, stall and server', async () => {
    const open = parsed<ConnectionModel>(await t.reads.connectionRows({ limit: 1000 })).items;
    assert.ok(open.length > 0 && open.every((c) => c.category !== 'closed'));
    const closed = parsed<ConnectionModel>(await t.reads.connectionRows({ categories: ['closed'], limit: 1000 })).items;
    assert.ok(closed.length > 0 && closed.every((c) => c.category === 'closed'));
    assert.is(open.length + closed.length, (await t.reads.connectionRows({ includeClosed: true, limit: 1000 })).items.length);
    const server = closed.find((c) => c.server_id)?.server_id ?? open.find((c) => c.server_id)!.server_id!;
    const byServer = parsed<ConnectionModel>(await t.reads.connectionRows({ includeClosed: true, serverId: server, limit: 1000 })).items;
    assert.ok(byServer.length > 0 && byServer.every((c) => c.server_id === server));
    const everyone = [...open, ...closed];
    const failed = parsed<ConnectionModel>(await t.reads.connectionRows({ outcomes: ['failed'], limit: 1000 })).items;
    assert.equal(new Set(failed.map((c) => c.id)), new Set(everyone.filter((c) => c.outcome === 'failed').map((c) => c.id)));
    const stalled = parsed<ConnectionModel>(await t.reads.connectionRows({ stalled: true, includeClosed: true, limit: 1000 })).items;
    assert.equal(new Set(stalled.map((c) => c.id)), new Set(everyone.filter((c) => c.stalled).map((c) => c.id)));
  });

  Lists('refuses a cursor it did not issue with a 400', async () => {
    for (const cursor of ['not-ours', Buffer.from('p-1').toString('base64url')]) {
      const error = await rejection(t.reads.connectionRows({ limit: 5, cursor }));
      assert.ok(isAppError(error) && error.status === 400, `${cursor} was accepted`);
    }
  });

  Lists('filters operations by status and type and pages them', async () => {
    const running = parsed<OperationModel>(await t.reads.operationRows({ statuses: ['running'], limit: 1000 })).items;
    assert.ok(running.length > 0 && running.every((o) => o.status === 'running'));
    const every = parsed<OperationModel>(await t.reads.operationRows({ statuses: [], limit: 1000 })).items;
    assert.is(every.length, (await idsOf('operation')).length);
    const firstPage = await t.reads.operationRows({ statuses: [], limit: 5 });
    assert.equal(parsed<OperationModel>(firstPage).items.map((o) => o.id), every.slice(0, 5).map((o) => o.id));
    const second = await t.reads.operationRows({ statuses: [], limit: 5, cursor: firstPage.nextCursor });
    assert.equal(parsed<OperationModel>(second).items.map((o) => o.id), every.slice(5, 10).map((o) => o.id));
    const type = every[0].type;
    const ofType = parsed<OperationModel>(await t.reads.operationRows({ statuses: [], type, limit: 1000 })).items;
    assert.equal(ofType.map((o) => o.id), every.filter((o) => o.type === type).map((o) => o.id));
    assert.equal(await t.reads.operation(every[3].id), every[3]);
    assert.is(await t.reads.operation('no-such-operation'), null);
  });

  Lists('lists tasks by status, abandonment, connection and operation; a task lists itself on its operation', async () => {
    const pending = parsed<TaskModel>(await t.reads.taskRows({ statuses: ['created', 'running'], limit: 1000 })).items;
    assert.ok(pending.length > 0 && pending.every((x) => x.status === 'created' || x.status === 'running'));
    const every = await all<TaskModel>((cursor) => t.reads.taskRows({ statuses: [], limit: 50, cursor }));
    assert.is(every.length, (await idsOf('task')).length);
    const abandoned = parsed<TaskModel>(await t.reads.taskRows({ statuses: [], abandoned: true, limit: 1000 })).items;
    assert.equal(new Set(abandoned.map((x) => x.id)), new Set(every.filter((x) => x.abandoned).map((x) => x.id)));
    const holding = parsed<TaskModel>(await t.reads.taskRows({ statuses: ['created', 'running'], abandoned: true, limit: 1000 })).items;
    assert.is(holding.length, new Set([...pending, ...abandoned].map((x) => x.id)).size);
    const ops = parsed<OperationModel>(await t.reads.operationRows({ statuses: [], limit: 1000 })).items;
    const op = ops.find((o) => o.task_count > 1)!;
    const ofOp = parsed<TaskModel>(await t.reads.taskRows({ statuses: [], operationId: op.id, limit: 100 })).items;
    assert.equal(new Set(ofOp.map((x) => x.id)), new Set(op.task_ids));
    const withConnection = every.find((x) => x.connection_id)!;
    const ofConnection = parsed<TaskModel>(await t.reads.taskRows({ statuses: [], connectionId: withConnection.connection_id!, limit: 1000 })).items;
    assert.ok(ofConnection.some((x) => x.id === withConnection.id) && ofConnection.every((x) => x.connection_id === withConnection.connection_id));
  });

  Lists('walks every connection and operation oldest first for export, from a time on', async () => {
    const connections: ConnectionModel[] = [];
    for (let after = 0; ; ) {
      const page = await t.reads.connectionsForExport({ after, limit: 9, activeSince: 0 });
      connections.push(...page);
      if (page.length < 9) break;
      after = page[page.length - 1].created_position;
    }
    assert.equal(connections.map((c) => c.id).sort(), (await idsOf('connection')).sort());
    assert.equal(connections.map((c) => c.created_position), [...connections.map((c) => c.created_position)].sort((a, b) => a - b));
    const middle = Date.parse(connections[Math.floor(connections.length / 2)].updated_at);
    const recent = await t.reads.connectionsForExport({ after: 0, limit: 10_000, activeSince: middle });
    assert.equal(recent.map((c) => c.id), connections.filter((c) => Date.parse(c.updated_at) >= middle).map((c) => c.id));
    const operations = await t.reads.operationsForExport({ after: 0, limit: 10_000, activeSince: 0 });
    assert.is(operations.length, (await idsOf('operation')).length);
    const named = operations.find((o) => o.connection_id)!;
    const ofConnection = await t.reads.operationsForExport({ after: 0, limit: 10_000, activeSince: 0, connectionId: named.connection_id! });
    assert.ok(ofConnection.length > 0 && ofConnection.every((o) => o.connection_id === named.connection_id));
  });

  Lists('keeps a summary that adds up to the lists', async () => {
    const s = await t.reads.summary();
    assert.is(s.event_count, await t.store.head());
    assert.is(s.connections.total, (await idsOf('connection')).length);
    assert.is(s.connections.closed, parsed<ConnectionModel>(await t.reads.connectionRows({ categories: ['closed'], limit: 10_000 })).items.length);
    assert.is(s.operations.total, (await idsOf('operation')).length);
    assert.is(s.tasks.total, (await idsOf('task')).length);
  });

  Lists.run();
}
