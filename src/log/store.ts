// The one door to the event log. Everything outside src/log (HTTP, operations,
// WebRTC, export, the fleet forwarder, the CLI) appends and reads through this
// interface; only the implementation behind it (src/log/sqliteStore.ts) knows
// SQLite. test/log/contract.ts holds any implementation to the same tests.
//
// Reads are async so that a store over a network database can implement them;
// the SQLite store answers from the calling turn. Appends queue synchronously
// in call order (producers rely on it) and settle after commit.
import type { EventMeta, EventType, NewEvent, StoredEvent, StreamKind } from './catalogue.ts';
import type { events } from './schema.ts';
import type { NegotiatedField } from './telemetry.ts';

/** What the stream must look like for an append to go ahead. */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

/** An expected outcome is a value: a conflict does not throw. */
export type AppendResult =
  | { ok: true; firstPosition: number; lastPosition: number; nextVersion: number; recordedAt: number }
  | { ok: false; reason: 'conflict'; expected: ExpectedVersion; current: number };

export type AppendOptions = {
  expectedVersion?: ExpectedVersion;
  /** Correlation ids (operation, request) stored with every event of this append. */
  meta?: Omit<EventMeta, 'schema'>;
  /**
   * The events were built by this process from typed values (TrustedEvent:
   * the catalogue's output types), so the catalogue's run-time check is
   * skipped. Input from outside (HTTP, telemetry, imports) is never trusted.
   */
  trusted?: boolean;
};

/** Told after each committed batch that appended something. */
export type CommitInfo = { lastPosition: number; size: number; durationMs: number };
export type CommitListener = (info: CommitInfo) => void;

/** This process's appends, for /metrics. */
export type AppendStats = {
  batches: number;
  events: number;
  lastBatchSize: number;
  lastBatchMs: number;
  /** Events whose append failed for a reason other than validation or a version conflict. */
  unrecordedEvents: number;
  /** `log.gap` markers written, and the events they account for. */
  gapsRecorded: number;
  gapEventsRecorded: number;
};

/** Events lost since the last `log.gap` marker: what the next marker will say. */
export type PendingGap = { events: number; appends: number; error: { code: string; message: string } };

/**
 * One event as stored, `data` and `meta` still JSON text: what the SSE feed,
 * the paged log and the forwarder send on without parsing.
 */
export type EventRow = typeof events.$inferSelect;

export type ReadStreamOptions = {
  /** Only events after this stream version (default 0: from the start). */
  afterVersion?: number;
  /** Only events at or before this log position (time travel). */
  untilPosition?: number;
  /** Only events recorded at or before this epoch ms (time travel). */
  untilTime?: number;
  limit?: number;
  /** Leave out events of these types (a timeline without its stats samples). */
  excludeTypes?: readonly string[];
  /** The last `limit` matching events instead of the first (still returned in version order). */
  newest?: boolean;
};

export type ReadLogOptions = {
  /** Events after this log position (exclusive). */
  after?: number;
  /**
   * Only events at or before this position. With a filter that matches
   * rarely, this bounds how many rows one read scans: a reader that must not
   * hold the event loop reads a window at a time.
   */
  until?: number;
  limit: number;
  /** Only streams with this prefix, e.g. `connection:`. */
  streamPrefix?: string;
  /** Only this exact stream. */
  stream?: string;
  types?: readonly string[];
  /**
   * Newest first: the last `limit` matching events at or before `until` (and
   * after `after`), in descending position order (a timeline read backwards).
   */
  descending?: boolean;
};

declare const checkpointBrand: unique symbol;
/**
 * A consumer's place in the log. Opaque: the store makes it (checkpointAt)
 * and reads it (positionOf); consumers keep it and hand it back, and never
 * compute with it. A store over a database whose commits land out of
 * position order can carry more in it than a position.
 */
export type Checkpoint = string & { readonly [checkpointBrand]: true };

export type PruneOptions = {
  /** Delete events at or before this position (clamped to the lowest checkpoint). */
  throughPosition: number;
  /** Write the deleted events as JSON lines to this new file first. */
  archivePath?: string;
};
export type PruneReport = { deleted: number; throughPosition: number; archived: string | null };
export type PrunePlan = {
  /** The position asked for. */
  requested: number;
  /** What would be deleted through: `requested`, held back by the lowest consumer checkpoint. */
  throughPosition: number;
  /** The consumer whose checkpoint held it back, if one did. */
  heldBy: string | null;
  /** Events at or before `throughPosition` still in the log. */
  events: number;
  /** When the first and last of them were recorded (epoch ms), null when there are none. */
  firstRecordedAt: number | null;
  lastRecordedAt: number | null;
};

/** A stream of one kind that was opened and never closed (start-up recovery). */
export type OpenStream = { id: string; openedAt: number };

export interface EventStore {
  // ---- appending ------------------------------------------------------------
  /**
   * Appends events to one stream. Appends made in the same turn share one
   * transaction (group commit); each settles after it commits: with the
   * positions, or `{ ok: false, reason: 'conflict' }` when the expected
   * version does not hold (that append alone). Rejects with INVALID_EVENT
   * before touching the log when an event does not match the catalogue, with
   * a 503 storage error when storage fails (counted for the next `log.gap`),
   * and with SHUTTING_DOWN once closed. Queues synchronously, in call order.
   */
  append(stream: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  /** Called after every committed batch that appended something, before any appender resumes. Returns an unsubscribe. */
  onCommit(listener: CommitListener): () => void;
  readonly stats: Readonly<AppendStats>;
  readonly pendingGap: PendingGap | null;

  // ---- reading --------------------------------------------------------------
  /** The last position in the log (0 when empty). */
  head(): Promise<number>;
  /** Events of one stream in version order. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /** readStream as stored rows. */
  readStreamRows(stream: string, options?: ReadStreamOptions): Promise<EventRow[]>;
  /** A page of the whole log in position order. */
  readLog(options: ReadLogOptions): Promise<StoredEvent[]>;
  /** readLog as stored rows. */
  readLogRows(options: ReadLogOptions): Promise<EventRow[]>;
  /** The position and time of the first event after `position`, or null when there is none. */
  firstAfter(position: number): Promise<{ position: number; recordedAt: number } | null>;
  /** Streams of `kind` with an `opened` event and no `closed` event (costs the number of such streams, not the log). */
  openStreams(kind: StreamKind, opened: EventType, closed: EventType): Promise<OpenStream[]>;
  /** Viewer telemetry: the newest connection whose `connection.negotiated` has `key` in `field` (an ICE ufrag or DTLS fingerprint), or null. */
  connectionNegotiatedWith(field: NegotiatedField, key: string): Promise<string | null>;
  /** Viewer telemetry: the client streams joined to a connection (`client.correlated`) up to a position, oldest first. */
  clientStreamsOf(connectionId: string, untilPosition?: number): Promise<{ stream: string; position: number }[]>;

  // ---- consumers ------------------------------------------------------------
  /** The checkpoint that covers every event up to and including `position` (0: none yet). */
  checkpointAt(position: number): Checkpoint;
  /** The last position a checkpoint this store made covers. Rejects (throws BAD_REQUEST) what it did not make. */
  positionOf(checkpoint: Checkpoint): number;
  /** A consumer's saved checkpoint, or null before its first write. */
  readCheckpoint(consumer: string): Promise<Checkpoint | null>;
  /** A consumer's checkpoint with the state it saved beside it (appendWithCheckpoint), or null before its first write. */
  readConsumerState(consumer: string): Promise<{ checkpoint: Checkpoint; state: string | null } | null>;
  /**
   * The one way a consumer records what it did together with its place in
   * the log: appends to several streams and moves its checkpoint, with the
   * state it keeps beside it (`state`, the detectors'; null or left out:
   * none, as for webhooks), in one transaction, so the record and the
   * checkpoint commit together or not at all and the consumer neither loses
   * nor repeats its output across a crash. Commits whatever is queued first,
   * so log order stays call order. `entries` may be empty (only the
   * checkpoint moves). Rejects like append (an invalid event or a checkpoint
   * the store did not make before anything is written; a storage error is
   * counted for the next `log.gap`).
   */
  appendWithCheckpoint(
    entries: { stream: string; events: NewEvent[] }[],
    checkpoint: { consumer: string; checkpoint: Checkpoint; state?: string | null },
  ): Promise<{ positions: number[] }>;
  writeCheckpoint(consumer: string, checkpoint: Checkpoint): Promise<void>;
  /**
   * Deletes the checkpoints of consumers whose names start with `prefix`,
   * except those in `keep` (consumers no longer configured must not hold
   * retention back). Resolves with the consumers it deleted.
   */
  dropCheckpoints(prefix: string, keep: readonly string[]): Promise<string[]>;

  // ---- retention ------------------------------------------------------------
  /**
   * Deletes the oldest events, never past the lowest consumer checkpoint,
   * archiving them first when asked. Refused (CONFLICT) while another
   * process holds the database to serve it.
   */
  prune(options: PruneOptions): Promise<PruneReport>;
  /** What `prune` through `throughPosition` would delete, deleting nothing. */
  planPrune(throughPosition: number): Promise<PrunePlan>;
  /** The last position recorded before `time` (epoch ms), 0 when none was: what `--older-than` prunes through. */
  lastPositionBefore(time: number): Promise<number>;
  /** The last position pruned away, or null when nothing was. */
  prunedThrough(): Promise<number | null>;

  /** Commits what is queued, refuses further appends, and lets go of the storage. */
  close(): Promise<void>;
}
