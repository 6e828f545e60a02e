// The read side: every monitor answer comes from these queries over the read
// models, or from folding a stream of the log (time travel).
import type { Db } from '../log/open.ts';
import { readStream } from '../log/read.ts';
import { cachedStatement } from '../log/statements.ts';
import { streamName } from '../log/catalogue.ts';
import { foldConnection, type ConnectionCategory, type ConnectionModel } from './connection.ts';
import type { OperationModel, OperationStatus } from './operation.ts';
import type { TaskModel } from './task.ts';
import type { ConnectionOutcome, TaskStatus } from '../log/catalogue.ts';
import { completeSummary, type SummaryModel } from './summary.ts';
import type { IssueModel, IssueStatus } from './issue.ts';
import type { IssueSeverity, IssueType } from '../log/catalogue.ts';

export type Page<T> = { items: T[]; nextCursor: string | null };

/**
 * A read-model row as stored: its state as JSON text. List routes splice these
 * into the response as they are, which halves the cost of a large page
 * compared with a parse and a stringify of every item.
 */
export type StoredRow = { id: string; connectionId: string | null; json: string; createdPosition: number };

const stmt = cachedStatement;

/** Cursors are the created_position of the last item shown; lists run newest first. */
export const encodeCursor = (position: number) => Buffer.from(`p${position}`).toString('base64url');
export function decodeCursor(cursor: string | undefined): number | null {
  if (!cursor) return null;
  const text = Buffer.from(cursor, 'base64url').toString();
  const n = /^p(\d+)$/.exec(text);
  return n ? Number(n[1]) : NaN;
}

type Filter = { where: string[]; args: unknown[] };

function newestFirst(before: number | null | undefined): Filter {
  return { where: ['created_position < ?'], args: [before ?? Number.MAX_SAFE_INTEGER] };
}

function anyOf(filter: Filter, column: string, values: readonly string[] | undefined) {
  if (!values?.length) return;
  filter.where.push(`${column} IN (${values.map(() => '?').join(', ')})`);
  filter.args.push(...values);
}

function equals(filter: Filter, column: string, value: string | undefined) {
  if (value === undefined) return;
  filter.where.push(`${column} = ?`);
  filter.args.push(value);
}

function storedPage(db: Db, table: string, connectionColumn: string, filter: Filter, limit: number) {
  const sql = `SELECT id, ${connectionColumn} AS connectionId, state AS json, created_position AS createdPosition
    FROM ${table} WHERE ${filter.where.join(' AND ')} ORDER BY created_position DESC LIMIT ?`;
  const rows = stmt(db, sql).all([...filter.args, limit + 1]) as StoredRow[];
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].createdPosition) : null };
}

const parsed = <T>(page: Page<StoredRow>): Page<T> => ({
  items: page.items.map((r) => JSON.parse(r.json) as T),
  nextCursor: page.nextCursor,
});

export function getSummary(db: Db): SummaryModel {
  const row = stmt(db, 'SELECT state FROM summary WHERE id = 1').pluck().get() as string | undefined;
  return completeSummary(row ? JSON.parse(row) : null);
}

export function getConnection(db: Db, id: string): ConnectionModel | null {
  const row = stmt(db, 'SELECT state FROM connections WHERE id = ?').pluck().get(id) as string | undefined;
  return row ? JSON.parse(row) : null;
}

export type ConnectionListOptions = {
  categories?: ConnectionCategory[];
  /** Ended connections with one of these outcomes (implies closed ones are included). */
  outcomes?: ConnectionOutcome[];
  stalled?: boolean;
  includeClosed?: boolean;
  serverId?: string;
  limit: number;
  before?: number | null;
};

export function listConnectionRows(db: Db, options: ConnectionListOptions): Page<StoredRow> {
  const filter = newestFirst(options.before);
  if (options.categories?.length) anyOf(filter, 'category', options.categories);
  else if (!options.includeClosed && !options.outcomes?.length) filter.where.push(`category <> 'closed'`);
  anyOf(filter, 'outcome', options.outcomes);
  if (options.stalled !== undefined) {
    filter.where.push('stalled = ?');
    filter.args.push(options.stalled ? 1 : 0);
  }
  equals(filter, 'server_id', options.serverId);
  return storedPage(db, 'connections', 'id', filter, options.limit);
}

export const listConnections = (db: Db, options: ConnectionListOptions) =>
  parsed<ConnectionModel>(listConnectionRows(db, options));

export function getConnectionJson(db: Db, id: string): string | null {
  return (stmt(db, 'SELECT state FROM connections WHERE id = ?').pluck().get(id) as string | undefined) ?? null;
}

/** What a connection looked like at a time (epoch ms) or log position. */
export function connectionAt(db: Db, id: string, at: { time?: number; position?: number }): ConnectionModel | null {
  const events = readStream(db, streamName('connection', id), { untilTime: at.time, untilPosition: at.position });
  return foldConnection(id, events);
}

export function getOperation(db: Db, id: string): OperationModel | null {
  const row = stmt(db, 'SELECT state FROM operations WHERE id = ?').pluck().get(id) as string | undefined;
  return row ? JSON.parse(row) : null;
}

export type OperationListOptions = { statuses: OperationStatus[]; type?: string; limit: number; before?: number | null };

/** `statuses` empty means every status. */
export function listOperationRows(db: Db, options: OperationListOptions): Page<StoredRow> {
  const filter = newestFirst(options.before);
  anyOf(filter, 'status', options.statuses);
  equals(filter, 'type', options.type);
  return storedPage(db, 'operations', 'connection_id', filter, options.limit);
}

export const listOperations = (db: Db, options: OperationListOptions) =>
  parsed<OperationModel>(listOperationRows(db, options));

export type TaskListOptions = {
  statuses: TaskStatus[];
  /** Also tasks given up on whose work still runs (they hold work like running ones). */
  abandoned?: boolean;
  connectionId?: string;
  operationId?: string;
  limit: number;
  before?: number | null;
};

/** `statuses` empty (and no `abandoned`) means every status. */
export function listTaskRows(db: Db, options: TaskListOptions): Page<StoredRow> {
  const filter = newestFirst(options.before);
  if (options.abandoned && options.statuses.length) {
    filter.where.push(`(status IN (${options.statuses.map(() => '?').join(', ')}) OR abandoned = 1)`);
    filter.args.push(...options.statuses);
  } else if (options.abandoned) filter.where.push('abandoned = 1');
  else anyOf(filter, 'status', options.statuses);
  equals(filter, 'connection_id', options.connectionId);
  equals(filter, 'operation_id', options.operationId);
  return storedPage(db, 'tasks', 'connection_id', filter, options.limit);
}

export const listTasks = (db: Db, options: TaskListOptions) => parsed<TaskModel>(listTaskRows(db, options));

/** Tasks given up on whose work was never recorded as settled (for start-up recovery). */
export function listAbandonedTasks(db: Db, limit = 1_000_000): TaskModel[] {
  return listTasks(db, { statuses: [], abandoned: true, limit }).items;
}

// ---- issues (src/projections/issue.ts) ----------------------------------------

export type IssueListOptions = {
  statuses: IssueStatus[];
  severities?: IssueSeverity[];
  types?: IssueType[];
  connectionId?: string;
  limit: number;
  before?: number | null;
};

/** Issues newest first; `statuses` empty means every status. */
export function listIssueRows(db: Db, options: IssueListOptions): Page<StoredRow> {
  const filter = newestFirst(options.before);
  anyOf(filter, 'status', options.statuses);
  anyOf(filter, 'severity', options.severities);
  anyOf(filter, 'type', options.types);
  equals(filter, 'connection_id', options.connectionId);
  return storedPage(db, 'issues', 'connection_id', filter, options.limit);
}

export const listIssues = (db: Db, options: IssueListOptions) => parsed<IssueModel>(listIssueRows(db, options));

export function getIssueJson(db: Db, id: string): string | null {
  return (stmt(db, 'SELECT state FROM issues WHERE id = ?').pluck().get(id) as string | undefined) ?? null;
}

/** Open issues counted by type and severity, and every issue ever raised (what /metrics shows). */
export function issueCounts(db: Db): { open: { type: string; severity: string; count: number }[]; raised: number } {
  const open = stmt(db, `SELECT type, severity, count(*) AS count FROM issues WHERE status = 'open' GROUP BY type, severity`).all([]) as {
    type: string;
    severity: string;
    count: number;
  }[];
  const raised = stmt(db, 'SELECT count(*) FROM issues').pluck().get([]) as number;
  return { open, raised };
}
