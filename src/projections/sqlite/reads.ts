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
  OperationListOptions,
  Page,
  StoredRow,
  TaskListOptions,
} from '../reads.ts';
import { connectionRows, connectionsForExport, connectionsModel } from '../models/connections.ts';
import { operationRows, operationsForExport, operationsModel } from '../models/operations.ts';
import { taskRows } from '../models/tasks.ts';
import { readSummary } from '../models/summary.ts';
import { loadSql } from './projector.ts';

const CONNECTION_JSON = loadSql(connectionsModel.table);
const OPERATION_JSON = loadSql(operationsModel.table);

export class SqliteMonitorReads implements MonitorReads {
  constructor(private readonly store: SqliteEventStore) {}

  private get db() {
    return this.store.db;
  }

  async summary(): Promise<SummaryModel> {
    return readSummary(this.db);
  }

  async connection(id: string): Promise<ConnectionModel | null> {
    const json = this.json(CONNECTION_JSON, id);
    return json === null ? null : (JSON.parse(json) as ConnectionModel);
  }

  async connectionJson(id: string): Promise<string | null> {
    return this.json(CONNECTION_JSON, id);
  }

  async connectionAt(id: string, at: AsOf): Promise<ConnectionModel | null> {
    const events = await this.store.readStream(streamName('connection', id), { untilTime: at.time, untilPosition: at.position });
    return foldConnection(id, events);
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
