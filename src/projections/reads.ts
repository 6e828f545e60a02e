// The read side's door: every question the monitor API, the exporter, the
// metrics, the --log-dir writer and start-up recovery ask of the read models
// (or of a connection's stream, for its timeline and time travel). The node
// answers it from SQLite (src/projections/sqlite/reads.ts); the fleet can
// answer the same interface from its PostgreSQL read models and serve the
// same monitor API. test/log/contract.ts holds implementations to it.
//
// Lists answer stored JSON text (StoredRow.json): routes splice it into their
// responses as it is, which halves the cost of a large page compared with a
// parse and a stringify of every item. Cursors are opaque: pass back the
// `nextCursor` a page gave; a cursor from elsewhere is a 400.
import type { ConnectionOutcome, TaskStatus } from '../log/catalogue.ts';
import type { EventRow, ReadStreamOptions } from '../log/store.ts';
import type { ConnectionCategory, ConnectionModel } from './connection.ts';
import type { OperationModel, OperationStatus } from './operation.ts';
import type { SummaryModel } from './summary.ts';
import type { IssueListOptions } from './models/issues.ts';
import type { StreamState } from './stream.ts';
import type { ConnectionsAtOptions } from './timeTravel.ts';

export type { ConnectionsAtOptions };

export type { IssueListOptions };

export type Page<T> = { items: T[]; nextCursor: string | null };

/** A read-model row as stored: its state as JSON text. */
export type StoredRow = { id: string; connectionId: string | null; json: string };

export type ConnectionListOptions = {
  categories?: ConnectionCategory[];
  /** Ended connections with one of these outcomes (implies closed ones are included). */
  outcomes?: ConnectionOutcome[];
  stalled?: boolean;
  includeClosed?: boolean;
  serverId?: string;
  limit: number;
  cursor?: string | null;
};

/** `statuses` empty means every status. */
export type OperationListOptions = { statuses: OperationStatus[]; type?: string; limit: number; cursor?: string | null };

/** `statuses` empty (and no `abandoned`) means every status. */
export type TaskListOptions = {
  statuses: TaskStatus[];
  /** Also tasks given up on whose work still runs (they hold work like running ones). */
  abandoned?: boolean;
  connectionId?: string;
  operationId?: string;
  limit: number;
  cursor?: string | null;
};

/** `states` empty or absent means every state. */
export type StreamListOptions = { states?: StreamState[]; limit: number; cursor?: string | null };

/** A point in a connection's history: an epoch ms, or a log position. */
export type AsOf = { time?: number; position?: number };

/** Export walks every model oldest first; `after` is the last one's `created_position`. */
export type ExportPageOptions = { after: number; limit: number; activeSince: number };

export interface MonitorReads {
  summary(): Promise<SummaryModel>;

  connection(id: string): Promise<ConnectionModel | null>;
  /** The connection's read model as stored JSON text. */
  connectionJson(id: string): Promise<string | null>;
  /** What a connection looked like at a time or log position: its stream folded up to there. */
  connectionAt(id: string, at: AsOf): Promise<ConnectionModel | null>;
  /**
   * Time travel over the whole log (the node's: the fleet refuses it with
   * NOT_ON_FLEET): the summary as it was at `at`, the log replayed up to
   * there; refused with TIME_TRAVEL_TOO_FAR past `maxEvents` or on a pruned
   * log, with POSITION_BEYOND_LOG for a position past the head.
   */
  summaryAt(at: AsOf, maxEvents: number): Promise<SummaryModel>;
  /**
   * The connections that existed at `at`, newest first, each folded up to
   * there and filtered by what it was then; a page may be short and still
   * have a cursor (a bounded replay per page).
   */
  connectionsAt(at: AsOf, options: ConnectionsAtOptions & { cursor?: string | null }): Promise<Page<ConnectionModel>>;
  /** A connection's events (its timeline), as stored rows. */
  connectionEvents(id: string, options: ReadStreamOptions): Promise<EventRow[]>;
  /** Newest first. Closed connections only when asked (includeClosed, categories or outcomes). */
  connectionRows(options: ConnectionListOptions): Promise<Page<StoredRow>>;

  operation(id: string): Promise<OperationModel | null>;
  /** Newest first. */
  operationRows(options: OperationListOptions): Promise<Page<StoredRow>>;

  /** Newest first. */
  taskRows(options: TaskListOptions): Promise<Page<StoredRow>>;

  /** Streams, newest first (the node's own model: the fleet refuses it with NOT_ON_FLEET). */
  streamListRows(options: StreamListOptions): Promise<Page<StoredRow>>;
  /** One stream's read model as stored JSON text. */
  streamJson(id: string): Promise<string | null>;

  /** Connections updated at or after `activeSince` (epoch ms), oldest first. */
  connectionsForExport(options: ExportPageOptions): Promise<ConnectionModel[]>;
  /** Operations running or ended at or after `activeSince`, oldest first; only those naming `connectionId` when given. */
  operationsForExport(options: ExportPageOptions & { connectionId?: string }): Promise<OperationModel[]>;
}

/**
 * The issues the node's detectors raised. A node's own read model: the fleet
 * does not project issues (its monitor has no issue routes), so these are
 * apart from MonitorReads.
 */
export interface IssueReads {
  /** Issues the detectors raised, newest first. */
  issueRows(options: IssueListOptions): Promise<Page<StoredRow>>;
  /** One issue's read model as stored JSON text. */
  issueJson(id: string): Promise<string | null>;
  /** Open issues by type and severity, and how many were ever raised (/metrics). */
  issueCounts(): Promise<{ open: { type: string; severity: string; count: number }[]; raised: number }>;
}

/** A page of stored rows as models. */
export function parsed<T>(page: Page<StoredRow>): Page<T> {
  return { items: page.items.map((r) => JSON.parse(r.json) as T), nextCursor: page.nextCursor };
}

/** Every item of a list, page after page (start-up recovery: what a crashed run left open is bounded by what one run can hold). */
export async function allOf<T>(list: (cursor: string | null) => Promise<Page<StoredRow>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const page = await list(cursor);
    for (const r of page.items) out.push(JSON.parse(r.json) as T);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}
