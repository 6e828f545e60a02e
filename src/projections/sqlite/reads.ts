// MonitorReads over the node's SQLite read models, on the store's handle.
// Each answer is one prepared statement (cached per handle) or a fold of the
// connection's stream through the store (time travel).
import type { SqliteEventStore } from '../../log/sqliteStore.ts';
import type { EventRow, ReadStreamOptions } from '../../log/store.ts';
import { streamName } from '../../log/catalogue.ts';
import { cachedStatement } from '../../log/statements.ts';
import { foldConnection, type ConnectionModel } from '../connection.ts';
import type { OperationModel } from '../operation.ts';
import type { SummaryModel } from '../summary.ts';
import type {
  AsOf,
  ConnectionListOptions,
  ExportPageOptions,
  MonitorReads,
  IssueReads,
  OperationListOptions,
  Page,
  StoredRow,
  StreamListOptions,
  TaskListOptions,
} from '../reads.ts';
import { connectionJsonById, connectionRows, connectionsCreatedBy, connectionsForExport } from '../models/connections.ts';
import { connectionsAt, summaryAt, type ConnectionsAtOptions } from '../timeTravel.ts';
import { decodeCursor, encodeCursor } from './lists.ts';
import { operationRows, operationsForExport, operationsModel } from '../models/operations.ts';
import { taskRows } from '../models/tasks.ts';
import { issueCounts, issueJson, issueRows, type IssueListOptions } from '../models/issues.ts';
import { readSummary } from '../models/summary.ts';
import { streamJson, streamRows } from '../models/streams.ts';
import { loadSql } from './projector.ts';

const OPERATION_JSON = loadSql(operationsModel.table);

export class SqliteMonitorReads implements MonitorReads, IssueReads {
  constructor(private readonly store: SqliteEventStore) {}

  private get db() {
    return this.store.db;
  }

  async summary(): Promise<SummaryModel> {
    return readSummary(this.db);
  }

  async connection(id: string): Promise<ConnectionModel | null> {
    const json = connectionJsonById(this.db, id);
    return json === null ? null : (JSON.parse(json) as ConnectionModel);
  }

  async connectionJson(id: string): Promise<string | null> {
    return connectionJsonById(this.db, id);
  }

  async connectionAt(id: string, at: AsOf): Promise<ConnectionModel | null> {
    const events = await this.store.readStream(streamName('connection', id), { untilTime: at.time, untilPosition: at.position });
    return foldConnection(id, events);
  }

  summaryAt(at: AsOf, maxEvents: number): Promise<SummaryModel> {
    return summaryAt(this.store, at, maxEvents);
  }

  async connectionsAt(at: AsOf, options: ConnectionsAtOptions & { cursor?: string | null }): Promise<Page<ConnectionModel>> {
    const candidates = async (until: number, before: number | null, limit: number) => connectionsCreatedBy(this.db, until, before, limit);
    const page = await connectionsAt(this.store, candidates, at, decodeCursor(options.cursor), options);
    return { items: page.items, nextCursor: page.nextBefore === null ? null : encodeCursor(page.nextBefore) };
  }

  connectionEvents(id: string, options: ReadStreamOptions): Promise<EventRow[]> {
    return this.store.readStreamRows(streamName('connection', id), options);
  }

  async connectionRows(options: ConnectionListOptions): Promise<Page<StoredRow>> {
    return connectionRows(this.db, options);
  }

  async operation(id: string): Promise<OperationModel | null> {
    const json = this.json(OPERATION_JSON, id);
    return json === null ? null : (JSON.parse(json) as OperationModel);
  }

  async operationRows(options: OperationListOptions): Promise<Page<StoredRow>> {
    return operationRows(this.db, options);
  }

  async taskRows(options: TaskListOptions): Promise<Page<StoredRow>> {
    return taskRows(this.db, options);
  }

  async streamListRows(options: StreamListOptions): Promise<Page<StoredRow>> {
    return streamRows(this.db, options);
  }

  async streamJson(id: string): Promise<string | null> {
    return streamJson(this.db, id);
  }

  async issueRows(options: IssueListOptions): Promise<Page<StoredRow>> {
    return issueRows(this.db, options);
  }

  async issueJson(id: string): Promise<string | null> {
    return issueJson(this.db, id);
  }

  async issueCounts() {
    return issueCounts(this.db);
  }

  async connectionsForExport(options: ExportPageOptions): Promise<ConnectionModel[]> {
    return connectionsForExport(this.db, options);
  }

  async operationsForExport(options: ExportPageOptions & { connectionId?: string }): Promise<OperationModel[]> {
    return operationsForExport(this.db, options);
  }

  private json(sql: string, id: string): string | null {
    return (cachedStatement(this.db, sql).pluck().get(id) as string | undefined) ?? null;
  }
}
