// The SQLite implementation of the EventStore: one better-sqlite3 handle
// behind the interface. Its handle (`db`) is public for the SQL half of
// src/projections (the inline projector, the read-model queries, rebuild),
// which runs on the same handle and inside the same transactions; nothing
// else reaches it (test/architecture.test.ts checks that).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppError, isAppError } from '../errors.ts';
import type { NewEvent, StoredEvent, StreamKind } from './catalogue.ts';
import { GroupCommit, type InlineProjector } from './append.ts';
import { openDatabase, openReadOnly, type Db, type OpenOptions } from './open.ts';
import { firstAfter, headPosition, readLogRows, readStreamRows, rowToEvent } from './read.ts';
import { openStreams } from './openStreams.ts';
import { dropCheckpointsExcept, readCheckpoint, readConsumerState, writeCheckpoint } from './checkpoint.ts';
import { clientStreamsOf, connectionNegotiatedWith, type NegotiatedField } from './telemetry.ts';
import { lastPositionBefore, planPrune, prune, prunedThrough } from './prune.ts';
import { takeHold, type Hold, type HoldRole } from './hold.ts';
import type {
  AppendOptions,
  AppendResult,
  AppendStats,
  Checkpoint,
  CommitListener,
  EventRow,
  EventStore,
  OpenStream,
  PendingGap,
  PruneOptions,
  PruneReport,
  PrunePlan,
  ReadLogOptions,
  ReadStreamOptions,
} from './store.ts';

export type SqliteStoreOptions = OpenOptions & {
  /** Keeps read models in step inside each append transaction. */
  projector?: InlineProjector | null;
  clock?: () => number;
  /** Take the database's hold for this role; refused (CONFLICT) while another process has it. */
  hold?: HoldRole;
};

const CHECKPOINT = /^sqlite:(0|[1-9]\d{0,15})$/;

const NO_STATS: AppendStats = Object.freeze({
  batches: 0,
  events: 0,
  lastBatchSize: 0,
  lastBatchMs: 0,
  unrecordedEvents: 0,
  gapsRecorded: 0,
  gapEventsRecorded: 0,
});

export class SqliteEventStore implements EventStore {
  private readonly appender: GroupCommit | null;
  private closed = false;

  private constructor(
    /** The handle, for the SQL half of src/projections and for tests. */
    readonly db: Db,
    readonly path: string,
    options: SqliteStoreOptions & { readOnly?: boolean },
    private hold: Hold | null,
  ) {
    this.appender = options.readOnly ? null : new GroupCommit(db, options.projector ?? null, options.clock);
  }

  /**
   * Opens (creating and migrating if needed) the database at `path` for
   * writing. With `hold`, the hold is taken first: nothing (not even a
   * migration) touches a database another process holds.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteEventStore {
    const hold = options.hold && path !== ':memory:' ? holdFor(path, options.hold) : null;
    let db: Db | null = null;
    try {
      db = openDatabase(path, options);
      hold?.describe(db);
      return new SqliteEventStore(db, path, options, hold);
    } catch (err) {
      hold?.release();
      db?.close();
      throw err;
    }
  }

  /** Opens an existing database for reading only: appends are refused (READ_ONLY), and SQLite itself refuses writes. */
  static openReadOnly(path: string, options: OpenOptions = {}): SqliteEventStore {
    return new SqliteEventStore(openReadOnly(path, options), path, { readOnly: true }, null);
  }

  // ---- appending ------------------------------------------------------------

  append(stream: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    if (!this.appender) return Promise.reject(new AppError('READ_ONLY', 'this store was opened read-only'));
    return this.appender.append(stream, events, options);
  }

  onCommit(listener: CommitListener): () => void {
    return this.appender?.onCommit(listener) ?? (() => {});
  }

  get stats(): Readonly<AppendStats> {
    return this.appender?.stats ?? NO_STATS;
  }

  get pendingGap(): PendingGap | null {
    return this.appender?.pendingGap ?? null;
  }

  // ---- reading --------------------------------------------------------------

  async head(): Promise<number> {
    return headPosition(this.db);
  }

  async readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    return readStreamRows(this.db, stream, options).map(rowToEvent);
  }

  async readStreamRows(stream: string, options?: ReadStreamOptions): Promise<EventRow[]> {
    return readStreamRows(this.db, stream, options);
  }

  async readLog(options: ReadLogOptions): Promise<StoredEvent[]> {
    return readLogRows(this.db, options).map(rowToEvent);
  }

  async readLogRows(options: ReadLogOptions): Promise<EventRow[]> {
    return readLogRows(this.db, options);
  }

  async firstAfter(position: number): Promise<{ position: number; recordedAt: number } | null> {
    return firstAfter(this.db, position);
  }

  async openStreams(kind: StreamKind, opened: string, closed: string): Promise<OpenStream[]> {
    return openStreams(this.db, kind, opened, closed);
  }

  async connectionNegotiatedWith(field: NegotiatedField, key: string): Promise<string | null> {
    return connectionNegotiatedWith(this.db, field, key);
  }

  async clientStreamsOf(connectionId: string, untilPosition?: number): Promise<{ stream: string; position: number }[]> {
    return clientStreamsOf(this.db, connectionId, untilPosition);
  }

  // ---- consumers ------------------------------------------------------------

  checkpointAt(position: number): Checkpoint {
    if (!Number.isSafeInteger(position) || position < 0) throw new AppError('BAD_REQUEST', `not a log position: ${position}`);
    return `sqlite:${position}` as Checkpoint;
  }

  positionOf(checkpoint: Checkpoint): number {
    const m = CHECKPOINT.exec(checkpoint);
    if (!m) throw new AppError('BAD_REQUEST', `not a checkpoint of this store: ${JSON.stringify(String(checkpoint).slice(0, 100))}`);
    return Number(m[1]);
  }

  async readCheckpoint(consumer: string): Promise<Checkpoint | null> {
    const position = readCheckpoint(this.db, consumer);
    return position === null ? null : this.checkpointAt(position);
  }

  async readConsumerState(consumer: string): Promise<{ checkpoint: Checkpoint; state: string | null } | null> {
    const saved = readConsumerState(this.db, consumer);
    return saved ? { checkpoint: this.checkpointAt(saved.position), state: saved.state } : null;
  }

  async appendWithCheckpoint(
    entries: { stream: string; events: NewEvent[] }[],
    checkpoint: { consumer: string; checkpoint: Checkpoint; state?: string | null },
  ): Promise<{ positions: number[] }> {
    if (!this.appender) throw new AppError('READ_ONLY', 'this store was opened read-only');
    return this.appender.appendWithCheckpoint(entries, { consumer: checkpoint.consumer, position: this.positionOf(checkpoint.checkpoint), state: checkpoint.state ?? null });
  }

  async writeCheckpoint(consumer: string, checkpoint: Checkpoint): Promise<void> {
    writeCheckpoint(this.db, consumer, this.positionOf(checkpoint));
  }

  async dropCheckpoints(prefix: string, keep: readonly string[]): Promise<string[]> {
    return dropCheckpointsExcept(this.db, prefix, keep);
  }

  // ---- retention ------------------------------------------------------------

  prune(options: PruneOptions): Promise<PruneReport> {
    return this.whileHeld('maintenance', () => prune(this.db, options));
  }

  async planPrune(throughPosition: number): Promise<PrunePlan> {
    return planPrune(this.db, throughPosition);
  }

  async lastPositionBefore(time: number): Promise<number> {
    return lastPositionBefore(this.db, time);
  }

  async prunedThrough(): Promise<number | null> {
    return prunedThrough(this.db);
  }

  /**
   * Runs `work` with the database held: this store's own hold if it has one,
   * else one taken for `role` for the duration (refused while another
   * process holds it).
   */
  async whileHeld<T>(role: HoldRole, work: () => Promise<T> | T): Promise<T> {
    if (this.hold || this.path === ':memory:') return work();
    const hold = holdFor(this.path, role);
    try {
      hold.describe(this.db);
      return await work();
    } finally {
      hold.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.appender?.close();
    this.hold?.release();
    this.hold = null;
    this.db.close();
  }
}

/** takeHold, with a file that cannot be written said as storage that cannot be written. */
function holdFor(path: string, role: HoldRole): Hold {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    return takeHold(path, role);
  } catch (err) {
    if (isAppError(err)) throw err;
    const code = (err as { code?: string }).code;
    throw new AppError(
      'STORAGE_UNAVAILABLE',
      `the database ${resolve(path)} cannot be opened for writing: its hold file cannot be written: ${(err as Error).message}${code ? ` (${code})` : ''}; ` +
        'check that the directory is writable and that the disk has space',
    );
  }
}
