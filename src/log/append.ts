// Appending to the log with group commit: every append made before the next
// turn of the event loop joins one SQLite transaction, and each caller's
// promise settles after that transaction commits. A version conflict is
// checked before anything is written, so it rejects that append alone. Any
// other failure (a projection that throws) rolls the batch back and the batch
// is retried one append per transaction, so only the append that fails is
// rejected. The fast path needs no savepoint per append.
//
// Transactions are BEGIN IMMEDIATE: each one reads (the stream's version)
// before it writes, and a deferred transaction that read first cannot wait
// for a lock another connection holds (a `prune`, say): SQLite refuses its
// upgrade at once and busy_timeout never applies.
//
// Storage that fails (full, busy past busy_timeout, read-only, I/O errors)
// rejects the appends with a 503 storage error, and what was lost is counted:
// the next commit that succeeds writes a `log.gap` event saying how many
// events of which types never made it, so the log has a marked hole, never
// silence.
import type { Db } from './open.ts';
import { AppError, unavailable } from '../errors.ts';
import { storageError } from './storage.ts';
import { writeConsumerState } from './checkpoint.ts';
import {
  EVENT_SCHEMA_VERSION,
  GAP_STREAM,
  GAP_STREAMS_SHOWN,
  isEventType,
  validateEvent,
  type EventData,
  type EventMeta,
  type NewEvent,
  type StoredEvent,
} from './catalogue.ts';
import { events, prunedStreams } from './schema.ts';
import { col, cols, tableName } from './names.ts';
import type { AppendOptions, AppendResult, AppendStats, CommitListener, ExpectedVersion, PendingGap } from './store.ts';

/** Streams whose current version is remembered between batches (least recently appended to go first). */
export const VERSION_CACHE_LIMIT = 10_000;

/** How long to wait before trying to record a gap when nothing else is appended. */
export const GAP_RETRY_MS = 2_000;

/** Events that could not be recorded since the last `log.gap` marker. */
type Gap = {
  events: number;
  appends: number;
  firstAt: number;
  lastAt: number;
  error: { code: string; message: string };
  types: Map<string, number>;
  streams: Set<string>;
  streamsTruncated: boolean;
};

function mergeGaps(a: Gap, b: Gap): Gap {
  const types = new Map(a.types);
  for (const [t, n] of b.types) types.set(t, (types.get(t) ?? 0) + n);
  const streams = new Set(a.streams);
  let truncated = a.streamsTruncated || b.streamsTruncated;
  for (const s of b.streams) {
    if (streams.size < GAP_STREAMS_SHOWN) streams.add(s);
    else if (!streams.has(s)) truncated = true;
  }
  return {
    events: a.events + b.events,
    appends: a.appends + b.appends,
    firstAt: Math.min(a.firstAt, b.firstAt),
    lastAt: Math.max(a.lastAt, b.lastAt),
    error: b.lastAt >= a.lastAt ? b.error : a.error,
    types,
    streams,
    streamsTruncated: truncated,
  };
}

/**
 * Keeps read models in step with the log inside the append transaction.
 * `apply` must be all-or-nothing: stage its changes, and keep them only if it
 * returns; `flush` writes what was staged; `discard` forgets it after a
 * failed transaction.
 */
export interface InlineProjector {
  apply(db: Db, events: StoredEvent[]): void;
  flush(db: Db): void;
  discard(): void;
}

type Pending = {
  stream: string;
  events: { type: string; data: string; value: unknown }[];
  expectedVersion: ExpectedVersion;
  meta: string;
  metaObject: EventMeta;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
  /** Set on the log's own gap marker: its failure is not itself a gap. */
  internal?: boolean;
};

/** The append side of the SQLite store: validation, the group-commit queue, gap accounting. */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private lastRecordedAt = 0;
  private gap: Gap | null = null;
  private gapInFlight = false;
  private gapTimer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<CommitListener>();
  /**
   * Each stream's version after the last committed batch, so an append to a
   * stream seen lately skips the SELECT. Valid while no other connection has
   * written: `PRAGMA data_version` (which moves only for other connections'
   * commits) is checked at the start of each batch, and a failed batch
   * forgets everything.
   */
  private versions = new Map<string, number>();
  private dataVersion = -1;
  private readonly readDataVersion;
  private readonly insert;
  private readonly currentVersion;
  private readonly runBatch;
  private readonly runAlone;
  readonly stats: AppendStats = {
    batches: 0,
    events: 0,
    lastBatchSize: 0,
    lastBatchMs: 0,
    unrecordedEvents: 0,
    gapsRecorded: 0,
    gapEventsRecorded: 0,
  };

  constructor(
    readonly db: Db,
    private readonly projector: InlineProjector | null = null,
    private readonly clock: () => number = Date.now,
  ) {
    const e = events;
    const p = prunedStreams;
    this.insert = db.prepare(
      `INSERT INTO ${tableName(e)} (${cols(e.stream, e.version, e.type, e.data, e.meta, e.recordedAt)}) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    // A stream whose events were all pruned counts on from its last version.
    this.currentVersion = db
      .prepare(
        `SELECT coalesce((SELECT max(${col(e.version)}) FROM ${tableName(e)} WHERE ${col(e.stream)} = @s),
                         (SELECT ${col(p.version)} FROM ${tableName(p)} WHERE ${col(p.stream)} = @s), 0)`,
      )
      .pluck();
    this.readDataVersion = db.prepare('PRAGMA data_version').pluck();
    this.runBatch = db.transaction((batch: Pending[], recordedAt: number) => this.appendBatch(batch, recordedAt)).immediate;
    this.runAlone = db.transaction((p: Pending, recordedAt: number) => {
      const result = this.appendOne(p, new Map(), recordedAt);
      this.projector?.flush(this.db);
      return result;
    }).immediate;
    // Carry the floor across restarts: a clock set back while the server was
    // down must not make recorded_at decrease in log order (time travel by
    // time and by position must agree). The last row holds the maximum.
    this.lastRecordedAt =
      (db.prepare(`SELECT ${col(e.recordedAt)} FROM ${tableName(e)} ORDER BY ${col(e.position)} DESC LIMIT 1`).pluck().get() as number | undefined) ??
      0;
  }

  /**
   * Appends events to one stream. Resolves after commit with the positions, or
   * with `{ ok: false, reason: 'conflict' }` when the expected version does not
   * hold. Rejects (an AppError INVALID_EVENT) before touching the log when an
   * event does not match the catalogue.
   */
  append(
    stream: string,
    events: NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (this.closed) return Promise.reject(unavailable('SHUTTING_DOWN', 'the event log is closed', 10));
    if (!stream || events.length === 0) {
      return Promise.reject(new AppError('INTERNAL', 'append needs a stream and at least one event'));
    }
    const checked: Pending['events'] = [];
    for (const event of events) {
      const result = options.trusted && isEventType(event.type) ? { ok: true as const, type: event.type, data: event.data } : validateEvent(event);
      if (!result.ok) return Promise.reject(new AppError('INVALID_EVENT', result.problem));
      let data: string;
      try {
        data = JSON.stringify(result.data);
      } catch (err) {
        // A cycle or a BigInt in a payload: reject like any invalid event
        // rather than throw out of a function that promises to reject.
        return Promise.reject(new AppError('INVALID_EVENT', `${result.type}: payload is not JSON: ${(err as Error).message}`));
      }
      checked.push({ type: result.type, data, value: result.data });
    }
    const metaObject: EventMeta = { schema: EVENT_SCHEMA_VERSION, ...options.meta };
    return new Promise((resolve, reject) => {
      this.queue.push({
        stream,
        events: checked,
        expectedVersion: options.expectedVersion ?? 'any',
        meta: JSON.stringify(metaObject),
        metaObject,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    // setImmediate, not a microtask: producers that append again as soon
    // as they are resolved must not starve I/O.
    setImmediate(() => this.flush());
  }

  /** Events lost since the last gap marker (null when none): what the next `log.gap` will say. */
  get pendingGap(): PendingGap | null {
    return this.gap ? { events: this.gap.events, appends: this.gap.appends, error: this.gap.error } : null;
  }

  /** Commits everything queued now. Called by the scheduler; also on close. */
  flush(): void {
    this.scheduled = false;
    const gapMarker = this.closed ? null : this.takeGap();
    const batch = gapMarker ? [gapMarker, ...this.queue] : this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const started = performance.now();
    // recorded_at never goes backwards in log order, even if the wall clock does,
    // so "as of time T" and "as of position P" agree.
    const recordedAt = Math.max(this.clock(), this.lastRecordedAt);
    this.lastRecordedAt = recordedAt;
    let results: (AppendResult | Error)[];
    try {
      results = this.runBatch(batch, recordedAt);
    } catch (batchErr) {
      this.versions.clear();
      this.projector?.discard();
      const storage = storageError(batchErr);
      if (storage) {
        // Full, busy past busy_timeout, or gone: every append would fail the
        // same way, and retrying each would wait out busy_timeout again and
        // again on the event loop.
        results = batch.map(() => storage);
      } else {
        // Something else failed (a projection that throws) and the whole
        // batch rolled back: retry each append in its own transaction so
        // that only the append that fails is rejected.
        results = batch.map((p) => {
          try {
            return this.runAlone(p, recordedAt);
          } catch (err) {
            this.versions.clear();
            this.projector?.discard();
            return storageError(err) ?? (err instanceof Error ? err : new Error(String(err)));
          }
        });
      }
    }
    const durationMs = performance.now() - started;
    let size = 0;
    let lastPosition = 0;
    batch.forEach((p, i) => {
      const r = results[i];
      if (r instanceof Error) {
        if (!p.internal) this.noteLost(p, r);
        return p.reject(r);
      }
      if (r.ok) {
        size += p.events.length;
        lastPosition = Math.max(lastPosition, r.lastPosition);
      }
      p.resolve(r);
    });
    if (this.gap && !this.gapTimer && !this.closed) {
      // Nothing else may be appended for a while: try the marker on its own.
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        this.schedule();
      }, GAP_RETRY_MS);
      this.gapTimer.unref();
    }
    this.stats.batches++;
    this.stats.events += size;
    this.stats.lastBatchSize = size;
    this.stats.lastBatchMs = durationMs;
    if (size > 0) for (const listener of this.listeners) listener({ lastPosition, size, durationMs });
  }

  /**
   * Appends to several streams and moves a consumer's checkpoint (with its
   * state, or none) in one transaction: a consumer that writes its output
   * back to the log (the detectors, webhooks) neither loses nor repeats it
   * across a crash. The only way a checkpoint commits with events. Runs at
   * once, after committing whatever is queued, so log order stays call
   * order; returns after the commit, or throws (a storage error, counted
   * for the next `log.gap`). `entries` may be empty (only the checkpoint moves).
   */
  appendWithCheckpoint(
    entries: { stream: string; events: NewEvent[] }[],
    checkpoint: { consumer: string; position: number; state: string | null },
  ): { positions: number[] } {
    if (this.closed) throw unavailable('SHUTTING_DOWN', 'the event log is closed', 10);
    const pending: Pending[] = [];
    const metaObject: EventMeta = { schema: EVENT_SCHEMA_VERSION };
    for (const entry of entries) {
      const checked: Pending['events'] = [];
      for (const event of entry.events) {
        const result = validateEvent(event);
        if (!result.ok) throw new AppError('INVALID_EVENT', result.problem);
        checked.push({ type: result.type, data: JSON.stringify(result.data), value: result.data });
      }
      pending.push({ stream: entry.stream, events: checked, expectedVersion: 'any', meta: JSON.stringify(metaObject), metaObject, resolve: () => {}, reject: () => {} });
    }
    this.flush();
    const recordedAt = Math.max(this.clock(), this.lastRecordedAt);
    const started = performance.now();
    let results: AppendResult[];
    try {
      results = this.runWithCheckpoint(pending, checkpoint, recordedAt);
    } catch (err) {
      this.versions.clear();
      this.projector?.discard();
      const storage = storageError(err);
      for (const p of pending) this.noteLost(p, storage ?? (err as Error));
      throw storage ?? err;
    }
    this.lastRecordedAt = recordedAt;
    const positions = results.flatMap((r) => (r.ok ? [r.lastPosition] : []));
    const size = pending.reduce((n, p) => n + p.events.length, 0);
    if (size > 0) {
      const durationMs = performance.now() - started;
      this.stats.batches++;
      this.stats.events += size;
      this.stats.lastBatchSize = size;
      this.stats.lastBatchMs = durationMs;
      for (const listener of this.listeners) listener({ lastPosition: Math.max(...positions), size, durationMs });
    }
    return { positions };
  }

  private runWithCheckpoint(pending: Pending[], checkpoint: { consumer: string; position: number; state: string | null }, recordedAt: number): AppendResult[] {
    return this.db.transaction(() => {
      // As a group-commit batch (so the cache of stream versions learns these
      // appends: a stream written both ways must not be given a version twice).
      const results = this.appendBatch(pending, recordedAt);
      writeConsumerState(this.db, checkpoint.consumer, checkpoint.position, checkpoint.state);
      return results;
    }).immediate();
  }

  /** Called after every committed batch that appended something. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Commits what is queued and refuses further appends. */
  close(): void {
    this.flush();
    this.closed = true;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }

  /** Counts an append that failed to commit, for the next `log.gap` marker. */
  private noteLost(p: Pending, err: Error) {
    const now = Date.now();
    const code = (err as { code?: unknown }).code;
    const lost: Gap = {
      events: p.events.length,
      appends: 1,
      firstAt: now,
      lastAt: now,
      error: { code: typeof code === 'string' && !code.startsWith('SQLITE_') ? code : 'INTERNAL', message: err.message.slice(0, 500) },
      types: new Map(),
      streams: new Set([p.stream]),
      streamsTruncated: false,
    };
    for (const e of p.events) lost.types.set(e.type, (lost.types.get(e.type) ?? 0) + 1);
    this.stats.unrecordedEvents += p.events.length;
    this.gap = this.gap ? mergeGaps(this.gap, lost) : lost;
  }

  /** The pending gap as an append of its own, or null. Put back if it fails. */
  private takeGap(): Pending | null {
    if (!this.gap || this.gapInFlight) return null;
    const gap = this.gap;
    this.gap = null;
    this.gapInFlight = true;
    const data: EventData<'log.gap'> = {
      events: gap.events,
      appends: gap.appends,
      first_failed_at: gap.firstAt,
      last_failed_at: gap.lastAt,
      error: gap.error,
      types: Object.fromEntries(gap.types),
      streams: [...gap.streams],
      streams_truncated: gap.streamsTruncated,
    };
    const metaObject: EventMeta = { schema: EVENT_SCHEMA_VERSION };
    return {
      stream: GAP_STREAM,
      events: [{ type: 'log.gap', data: JSON.stringify(data), value: data }],
      expectedVersion: 'any',
      meta: JSON.stringify(metaObject),
      metaObject,
      internal: true,
      resolve: () => {
        this.gapInFlight = false;
        this.stats.gapsRecorded++;
        this.stats.gapEventsRecorded += gap.events;
      },
      reject: () => {
        this.gapInFlight = false;
        this.gap = this.gap ? mergeGaps(gap, this.gap) : gap;
      },
    };
  }

  private appendBatch(batch: Pending[], recordedAt: number): AppendResult[] {
    const dataVersion = this.readDataVersion.get() as number;
    if (dataVersion !== this.dataVersion) {
      // Another connection committed (or this is the first batch): what was remembered may be stale.
      this.versions.clear();
      if (this.dataVersion !== -1) this.projector?.discard();
      this.dataVersion = dataVersion;
    }
    const versions = new Map<string, number>();
    const results = batch.map((p) => this.appendOne(p, versions, recordedAt));
    this.projector?.flush(this.db);
    // Kept only once the batch is written; a throw above rolls back and clears the cache.
    for (const [stream, version] of versions) {
      this.versions.delete(stream);
      this.versions.set(stream, version);
    }
    for (const stream of this.versions.keys()) {
      if (this.versions.size <= VERSION_CACHE_LIMIT) break;
      this.versions.delete(stream);
    }
    return results;
  }

  private appendOne(p: Pending, versions: Map<string, number>, recordedAt: number): AppendResult {
    const current = versions.get(p.stream) ?? this.versions.get(p.stream) ?? (this.currentVersion.get({ s: p.stream }) as number);
    if (!versionHolds(p.expectedVersion, current)) {
      return { ok: false, reason: 'conflict', expected: p.expectedVersion, current };
    }
    const stored: StoredEvent[] = [];
    let version = current;
    let firstPosition = 0;
    let lastPosition = 0;
    for (const e of p.events) {
      version++;
      lastPosition = Number(this.insert.run(p.stream, version, e.type, e.data, p.meta, recordedAt).lastInsertRowid);
      if (firstPosition === 0) firstPosition = lastPosition;
      if (this.projector) {
        const event = { position: lastPosition, stream: p.stream, version, type: e.type, data: e.value };
        stored.push({ ...event, meta: p.metaObject, recordedAt } as StoredEvent);
      }
    }
    // A throw here rolls back the transaction; the projector is told to discard.
    if (this.projector) this.projector.apply(this.db, stored);
    versions.set(p.stream, version);
    return {
      ok: true,
      firstPosition,
      lastPosition,
      nextVersion: version,
      recordedAt,
    };
  }
}

function versionHolds(expected: ExpectedVersion, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === 0;
    case 'stream_exists':
      return current > 0;
    default:
      return current === expected;
  }
}
