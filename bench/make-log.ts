// A deterministic generator of a realistic event log for the read-side
// benchmarks: viewers that connect through a `stream` operation, send a stats
// sample every second for a while and then leave (closed by an operator, lost
// to an ICE consent timeout, or failed during set-up), interleaved in time with
// the occasional export and benchmark operation. The same seed and N always
// give the same log, byte for byte.
//
// Two writers share the generator: `writeViaAppend` goes through the real
// EventStore.append path (slow, one event per commit), `writeFast` inserts the
// same rows and applies the same Projector in large transactions (what
// rebuild does). test/bench/make-log.test.ts checks that both produce
// identical databases, so the fast one can build the 1,000,000-event log.
//
//   npx tsx bench/make-log.ts <N> <file>      writes a log of N events
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Db } from '../src/log/open.ts';
import type { EventStore } from '../src/log/store.ts';
import { EVENT_SCHEMA_VERSION, streamName, validateEvent, type NewEvent, type StoredEvent } from '../src/log/catalogue.ts';
import { Projector } from '../src/projections/sqlite/projector.ts';
import { recordVersions } from '../src/projections/sqlite/rebuild.ts';
import { prng } from '../test/helpers/events.ts';

/** Bump when the generated log changes shape: it is part of the cache key. */
export const GENERATOR_VERSION = 1;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE_DIR = join(ROOT, 'bench', '.cache');
const EPOCH = Date.UTC(2026, 0, 1);

/** One event as a producer would append it. */
export type Intent = {
  stream: string;
  version: number;
  event: NewEvent;
  meta: { operation_id?: string; request_id?: string };
  at: number;
};


type Rand = ReturnType<typeof prng>;
const pick = <T>(r: Rand, xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
const between = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** Deterministic UUID-shaped ids (v4 layout), so ids look like the server's. */
function uuid(r: Rand): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(r() * 4)];
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Builds one session's events with times relative to its start; versions are per stream. */
class SessionBuilder {
  readonly out: Intent[] = [];
  private readonly versions = new Map<string, number>();
  t = 0;
  constructor(private readonly start: number) {}

  add(stream: string, event: NewEvent, meta: Intent['meta'] = {}, dt = 1) {
    this.t += dt;
    const version = (this.versions.get(stream) ?? 0) + 1;
    this.versions.set(stream, version);
    this.out.push({ stream, version, event, meta, at: this.start + this.t });
  }
}

/** Fixed events of a media session apart from its stats samples and ending. */
const SESSION_MIN_EVENTS = 40;

type Ending = 'operator' | 'consent' | 'setup_failed';

function mediaSession(r: Rand, start: number, statsSamples: number, ending: Ending): Intent[] {
  const b = new SessionBuilder(start);
  const serverId = `srv-${Math.floor(r() * 8)}`;
  const opId = uuid(r);
  const taskId = uuid(r);
  const connId = uuid(r);
  const requestId = uuid(r);
  const op = streamName('operation', opId);
  const task = streamName('task', taskId);
  const conn = streamName('connection', connId);
  const meta = { operation_id: opId, request_id: requestId };
  const quality = pick(r, ['low', 'medium', 'high'] as const);
  const port = between(r, 40000, 60000);

  b.add(op, {
    type: 'operation.started',
    data: { operation_id: opId, type: 'stream', params: { content: 'clip.webm', mode: 'media', quality }, server_id: serverId, timeout_ms: 10000 },
  }, meta, 0);
  b.add(task, { type: 'task.created', data: { task_id: taskId, name: 'run', operation_id: opId, connection_id: connId, timeout_ms: null } }, meta);
  b.add(task, { type: 'task.started', data: {} }, meta, 0);
  b.add(conn, {
    type: 'connection.created',
    data: {
      connection_id: connId,
      server_id: serverId,
      role: 'server',
      mode: 'media',
      content: 'clip.webm',
      quality,
      remote: `127.0.0.1:${port}`,
      user_agent: pick(r, ['Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0', 'aiortc/1.4.0', 'werift/0.24.4']),
    },
  }, meta, 2);
  const state = (kind: 'connection' | 'ice' | 'signaling' | 'gathering', from: string, to: string, dt = between(r, 1, 8)) =>
    b.add(conn, { type: 'connection.state_changed', data: { kind, from, to } }, meta, dt);
  state('signaling', 'stable', 'have-remote-offer');
  const tracks = { video: uuid(r), audio: uuid(r) };
  b.add(conn, { type: 'connection.track_added', data: { track_id: tracks.video, kind: 'video', codec: 'VP8', direction: 'sendonly' } }, meta);
  b.add(conn, { type: 'connection.track_added', data: { track_id: tracks.audio, kind: 'audio', codec: 'opus', direction: 'sendonly' } }, meta);
  state('gathering', 'new', 'gathering');
  for (const [i, address] of ['127.0.0.1', '10.0.0.12'].entries()) {
    const p = between(r, 30000, 65000);
    b.add(conn, {
      type: 'connection.candidate',
      data: {
        origin: 'local',
        candidate: `candidate:${i + 1} 1 udp ${2130706431 - i} ${address} ${p} typ host`,
        type: 'host',
        protocol: 'udp',
        address,
        port: p,
      },
    }, meta, between(r, 1, 3));
  }
  state('gathering', 'gathering', 'complete');
  state('signaling', 'have-remote-offer', 'stable');
  for (let i = 0; i < 2; i++) {
    const p = between(r, 30000, 65000);
    b.add(conn, {
      type: 'connection.candidate',
      data: { origin: 'remote', candidate: `candidate:${i + 7} 1 udp 1694498815 127.0.0.1 ${p} typ host`, type: 'host', protocol: 'udp', address: '127.0.0.1', port: p },
    }, meta, between(r, 1, 3));
  }
  state('ice', 'new', 'checking', between(r, 5, 20));
  state('connection', 'new', 'connecting');

  const end = (status: 'completed' | 'failed', extra: number) => {
    const duration = b.t + extra;
    if (status === 'completed') {
      b.add(task, { type: 'task.completed', data: { result: { connection_id: connId }, duration_ms: duration } }, meta);
      b.add(op, {
        type: 'operation.completed',
        data: { result: { connection_id: connId, server_id: serverId, location: `/api/v0/mcp/webrtc/whep/${serverId}/${connId}` }, duration_ms: duration + 1 },
      }, meta, 0);
    } else {
      const error = { code: 'ICE_FAILED', message: 'ICE connectivity checks failed' };
      b.add(task, { type: 'task.failed', data: { error, duration_ms: duration } }, meta);
      b.add(op, { type: 'operation.failed', data: { error, duration_ms: duration + 1 } }, meta, 0);
    }
  };

  if (ending === 'setup_failed') {
    state('ice', 'checking', 'failed', between(r, 2000, 5000));
    state('connection', 'connecting', 'failed');
    b.add(conn, { type: 'connection.error', data: { code: 'ICE_FAILED', message: 'ICE connectivity checks failed', fatal: true } }, meta);
    b.add(conn, { type: 'connection.closed', data: { reason: 'ice failed during set-up', initiator: 'ice' } }, meta);
    end('failed', 0);
    return b.out;
  }

  state('ice', 'checking', 'connected', between(r, 15, 40));
  b.add(conn, { type: 'connection.candidate_pair_selected', data: { local: '127.0.0.1:51000 udp host', remote: `127.0.0.1:${port} udp host` } }, meta);
  state('connection', 'connecting', 'connected', between(r, 60, 200));
  b.add(conn, { type: 'connection.datachannel_opened', data: { label: 'control', channel_id: 1, protocol: '' } }, meta, 3);
  end('completed', 0);

  let sent = 0;
  let received = 0;
  let packetsOut = 0;
  const kbps = { low: 300, medium: 800, high: 2000 }[quality];
  const errorAt = r() < 0.1 && statsSamples > 0 ? between(r, 0, Math.max(0, statsSamples - 1)) : -1;
  for (let i = 0; i < statsSamples; i++) {
    const interval = between(r, 995, 1010);
    const bitrate = Math.round(kbps * 1000 * (0.85 + r() * 0.3));
    sent += Math.round((bitrate * interval) / 8000);
    received += between(r, 200, 400);
    packetsOut += between(r, 80, 200);
    b.add(conn, {
      type: 'connection.stats_sampled',
      data: {
        bytes_sent: sent,
        bytes_received: received,
        packets_sent: packetsOut,
        packets_received: Math.floor(packetsOut / 20),
        packets_lost: Math.floor(r() * 3),
        rtt_ms: Math.round(r() * 200) / 100,
        jitter_ms: Math.round(r() * 500) / 100,
        frames_sent: (i + 1) * 30,
        frames_received: null,
        bitrate_out_bps: bitrate,
        bitrate_in_bps: between(r, 1000, 4000),
        interval_ms: interval,
      },
    }, {}, interval);
    if (i === errorAt) {
      b.add(conn, { type: 'connection.error', data: { code: 'RTCP_TIMEOUT', message: 'no RTCP receiver report for 5 s', fatal: false } }, {}, 7);
    }
  }
  if (errorAt < 0) {
    // Keep the event count independent of whether the error happened.
    b.add(conn, { type: 'connection.quality_changed', data: { from: quality, to: quality === 'high' ? 'medium' : 'high' } }, {}, 11);
  }

  if (ending === 'consent') {
    state('connection', 'connected', 'failed', between(r, 24000, 28000));
    state('ice', 'connected', 'failed', 1);
    b.add(conn, { type: 'connection.closed', data: { reason: 'ICE consent expired', initiator: 'ice' } }, {});
    b.add(conn, { type: 'connection.track_removed', data: { track_id: tracks.video, kind: 'video' } }, {});
    b.add(conn, { type: 'connection.track_removed', data: { track_id: tracks.audio, kind: 'audio' } }, {});
    b.add(conn, { type: 'connection.datachannel_closed', data: { label: 'control', channel_id: 1, bytes_sent: between(r, 100, 5000) } }, {});
    return b.out;
  }
  const closeOp = uuid(r);
  const closeTask = uuid(r);
  const closeMeta = { operation_id: closeOp, request_id: uuid(r) };
  const cop = streamName('operation', closeOp);
  const ctask = streamName('task', closeTask);
  b.add(cop, { type: 'operation.started', data: { operation_id: closeOp, type: 'close', params: { connection_id: connId }, connection_id: connId, timeout_ms: 10000 } }, closeMeta, 500);
  b.add(ctask, { type: 'task.created', data: { task_id: closeTask, name: 'run', operation_id: closeOp, connection_id: connId, timeout_ms: null } }, closeMeta);
  b.add(ctask, { type: 'task.started', data: {} }, closeMeta, 0);
  b.add(conn, { type: 'connection.datachannel_closed', data: { label: 'control', channel_id: 1, bytes_sent: between(r, 100, 5000) } }, closeMeta);
  state('connection', 'connected', 'closed', 1);
  b.add(conn, { type: 'connection.closed', data: { reason: 'closed by request', initiator: 'local' } }, closeMeta);
  b.add(ctask, { type: 'task.completed', data: { result: { closed: true }, duration_ms: 3 } }, closeMeta);
  b.add(cop, { type: 'operation.completed', data: { result: { connection_id: connId, closed: true }, duration_ms: 4 } }, closeMeta, 0);
  return b.out;
}

/** An operation with no connection: an export, or a benchmark with several viewer tasks. */
function sideOperation(r: Rand, start: number, kind: 'export' | 'benchmark'): Intent[] {
  const b = new SessionBuilder(start);
  const opId = uuid(r);
  const op = streamName('operation', opId);
  const meta = { operation_id: opId, request_id: uuid(r) };
  const taskCount = kind === 'export' ? 1 : 5;
  b.add(op, { type: 'operation.started', data: { operation_id: opId, type: kind, params: kind === 'export' ? { out: 'exports' } : { viewers: 5, duration_s: 10 }, timeout_ms: 30000 } }, meta, 0);
  const tasks = Array.from({ length: taskCount }, () => uuid(r));
  for (const [i, id] of tasks.entries()) {
    b.add(streamName('task', id), { type: 'task.created', data: { task_id: id, name: kind === 'export' ? 'run' : `viewer-${i}`, operation_id: opId, timeout_ms: 20000 } }, meta);
    b.add(streamName('task', id), { type: 'task.started', data: {} }, meta, 0);
  }
  for (const [i, id] of tasks.entries()) {
    const d = between(r, 50, 12000);
    if (kind === 'benchmark' && i === 4) {
      b.add(streamName('task', id), { type: 'task.timed_out', data: { timeout_ms: 20000, duration_ms: 20000 } }, meta, 200);
    } else {
      b.add(streamName('task', id), { type: 'task.completed', data: { result: { ok: true }, duration_ms: d }, }, meta, between(r, 5, 500));
    }
  }
  const failed = kind === 'benchmark';
  b.add(op, failed
    ? { type: 'operation.failed', data: { error: { code: 'TIMEOUT', message: '1 of 5 viewers timed out' }, duration_ms: b.t } }
    : { type: 'operation.completed', data: { result: { files: between(r, 1, 400) }, duration_ms: b.t } }, meta);
  return b.out;
}

/** A binary min-heap of intents by (time, sequence). */
class Heap {
  private items: { at: number; seq: number; intent: Intent }[] = [];
  get size() {
    return this.items.length;
  }
  peek() {
    return this.items[0];
  }
  push(item: { at: number; seq: number; intent: Intent }) {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p], a[i])) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop() {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const rr = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (rr < a.length && less(a[rr], a[m])) m = rr;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: { at: number; seq: number }, y: { at: number; seq: number }) => x.at < y.at || (x.at === y.at && x.seq < y.seq);

/**
 * Exactly `n` events (n >= SESSION_MIN_EVENTS), in time order, every entity
 * finished: the log a server leaves after a clean shutdown. About 60 viewers
 * are live at any moment; memory holds only their pending events.
 */
export function* generateLog(n: number, seed = 1): Generator<Intent> {
  if (n < SESSION_MIN_EVENTS) throw new Error(`generateLog needs at least ${SESSION_MIN_EVENTS} events`);
  const r = prng(seed);
  const heap = new Heap();
  let seq = 0;
  let planned = 0;
  let nextStart = EPOCH;
  let sessions = 0;
  const schedule = (intents: Intent[]) => {
    for (const intent of intents) heap.push({ at: intent.at, seq: seq++, intent });
    planned += intents.length;
  };
  const spawn = () => {
    const start = nextStart;
    nextStart += between(r, 200, 1800);
    sessions++;
    const left = n - planned;
    if (sessions % 40 === 0 && left - 5 >= SESSION_MIN_EVENTS) return schedule(sideOperation(r, start, 'export'));
    if (sessions % 150 === 0 && left - 17 >= SESSION_MIN_EVENTS) return schedule(sideOperation(r, start, 'benchmark'));
    const roll = r();
    let ending: Ending = roll < 0.08 ? 'setup_failed' : roll < 0.28 ? 'consent' : 'operator';
    let samples = between(r, 5, 120);
    // The last session absorbs whatever would be too few events for another:
    // a viewer that stayed a little longer (stats samples are the elastic part).
    const size = (e: Ending, s: number) => mediaSession(prng(0), 0, s, e).length;
    if (left - size(ending, samples) < SESSION_MIN_EVENTS + 20) {
      ending = 'operator';
      samples = left - size(ending, 0);
    }
    schedule(mediaSession(r, start, samples, ending));
  };
  let emitted = 0;
  while (emitted < n) {
    while (planned < n && (heap.size === 0 || nextStart <= heap.peek().at)) spawn();
    const { intent } = heap.pop();
    emitted++;
    yield intent;
  }
}

/** The stored row the append path would write for an intent. */
function normalise(intent: Intent): { type: StoredEvent['type']; value: unknown; data: string; meta: string; metaObject: StoredEvent['meta'] } {
  const checked = validateEvent(intent.event);
  if (!checked.ok) throw new Error(`generator produced an invalid event: ${checked.problem}`);
  const metaObject = { schema: EVENT_SCHEMA_VERSION, ...intent.meta };
  return { type: checked.type, value: checked.data, data: JSON.stringify(checked.data), meta: JSON.stringify(metaObject), metaObject };
}

/** Writes the log through EventStore.append, one event per commit, with the log's clock at each event's time. */
export async function writeViaAppend(log: EventStore, setClock: (ms: number) => void, intents: Iterable<Intent>): Promise<number> {
  let count = 0;
  for (const intent of intents) {
    setClock(intent.at);
    const result = await log.append(intent.stream, [intent.event], { meta: intent.meta });
    if (!result.ok) throw new Error(`append conflicted at ${intent.stream}`);
    count++;
  }
  return count;
}

/** Inserts the same rows and applies the same Projector, `chunk` events per transaction. */
export function writeFast(db: Db, intents: Iterable<Intent>, chunk = 20_000): number {
  const insert = db.prepare('INSERT INTO events (stream, version, type, data, meta, recorded_at) VALUES (?, ?, ?, ?, ?, ?)');
  const projector = new Projector();
  const commit = db.transaction((batch: Intent[]) => {
    const stored: StoredEvent[] = [];
    for (const intent of batch) {
      const row = normalise(intent);
      const position = Number(insert.run(intent.stream, intent.version, row.type, row.data, row.meta, intent.at).lastInsertRowid);
      stored.push({ position, stream: intent.stream, version: intent.version, type: row.type, data: row.value, meta: row.metaObject, recordedAt: intent.at } as StoredEvent);
    }
    projector.apply(db, stored);
    projector.flush(db);
  });
  let batch: Intent[] = [];
  let count = 0;
  for (const intent of intents) {
    batch.push(intent);
    if (batch.length === chunk) {
      commit(batch);
      count += batch.length;
      batch = [];
    }
  }
  if (batch.length) commit(batch);
  // Every event went through the current projector: the read models are this version's.
  recordVersions(db);
  return count + batch.length;
}

/** What the cached log depends on: generator version, N, and the code that shapes rows and read models. */
function cacheKey(n: number): string {
  const hash = createHash('sha256');
  const files = [
    join(ROOT, 'bench/make-log.ts'),
    join(ROOT, 'src/log/catalogue.ts'),
    ...readdirSync(join(ROOT, 'src/projections'), { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name)),
    ...readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).map((f) => join(ROOT, 'migrations', f)),
  ].sort();
  for (const f of files) hash.update(readFileSync(f));
  return `log-v${GENERATOR_VERSION}-${n}-${hash.digest('hex').slice(0, 10)}.db`;
}

/** Writes a fresh log of `n` events to `path` (replacing it). Returns events/s of the fast writer. */
export function makeLog(n: number, path: string): { events: number; durationMs: number } {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  const db = openDatabase(path);
  const t0 = performance.now();
  const events = writeFast(db, generateLog(n));
  const durationMs = performance.now() - t0;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { events, durationMs };
}

/** The path of a cached log of `n` events, generating it first if needed. */
export function cachedLog(n: number, onGenerate?: (n: number) => void): { path: string; generated: boolean } {
  mkdirSync(CACHE_DIR, { recursive: true });
  const path = join(CACHE_DIR, cacheKey(n));
  if (existsSync(path)) return { path, generated: false };
  onGenerate?.(n);
  const tmp = `${path}.tmp`;
  makeLog(n, tmp);
  renameSync(tmp, path);
  return { path, generated: true };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2]);
  const out = process.argv[3];
  if (!Number.isInteger(n) || n < SESSION_MIN_EVENTS || !out) {
    process.stderr.write(`usage: tsx bench/make-log.ts <N >= ${SESSION_MIN_EVENTS}> <file>\n`);
    process.exit(2);
  }
  const { events, durationMs } = makeLog(n, out);
  process.stdout.write(`wrote ${events} events to ${out} in ${Math.round(durationMs)} ms\n`);
}
