// MonitorReads over the fleet's read models in PostgreSQL, so the node's
// monitor routers serve the fleet too (src/http/fleetServe.ts). Every answer
// carries the node it came from: read-model JSON gains a leading `node` field,
// event rows a `node` property (the API shows it beside `position`, which is
// that node's own log position).
//
// A `FleetReads` is scoped to one node (`?node=`) or to all of them. What it
// shows is what the projector has applied: events are read up to each node's
// projector cursor (fleet_cursors), which only moves in the same transaction
// as the read models, so a timeline never shows an event the connection's
// state does not include yet, and nothing past a position some other
// node's concurrent insert has not committed yet is ever read (PostgreSQL
// commits out of order; DESIGN.md section 11).
import type pg from 'pg';
import { AppError, unavailable } from '../errors.ts';
import { describeError } from './pg.ts';
import { streamName, type StoredEvent } from '../log/catalogue.ts';
import type { EventRow, ReadStreamOptions } from '../log/store.ts';
import { foldConnection, type ConnectionModel } from '../projections/connection.ts';
import type { OperationModel } from '../projections/operation.ts';
import { emptySummary, type SummaryModel } from '../projections/summary.ts';
import type {
  AsOf,
  ConnectionListOptions,
  ConnectionsAtOptions,
  ExportPageOptions,
  MonitorReads,
  OperationListOptions,
  Page,
  StoredRow,
  StreamListOptions,
  TaskListOptions,
} from '../projections/reads.ts';
import { completeConnection, completeSummary, HOT_SELECT } from './readModels.ts';
import { connectionsModel } from '../projections/models/index.ts';

/**
 * Connections with their hot row (connection_stats) beside them, under the
 * table's own name, so the filters and the ordering read as on the table: a
 * connection's JSON is its state with the hot fields spliced in, as on the node.
 */
const CONNECTIONS_WITH_STATS = `(SELECT c.*, ${HOT_SELECT} FROM connections c JOIN connection_stats h ON h.node = c.node AND h.id = c.id) connections`;
const source = (table: string) => (table === 'connections' ? CONNECTIONS_WITH_STATS : table);
/** A row's model JSON: a connection's is put together from its two rows. */
const stateOf = (table: string, row: { state: string } & Record<string, unknown>) =>
  table === 'connections' ? connectionsModel.hot.json(row.state, row) : row.state;

/** An event row as the fleet stores it: the node's row, and the node it came from. */
export type FleetEventRow = EventRow & { node: string };

/** A node's place in the fleet and how far behind the fleet monitor shows it. */
export type NodeStatus = {
  node: string;
  /** The last position of this node the fleet monitor shows (its projector cursor). */
  projected_position: number;
  /** The last position of this node the centre holds. */
  centre_position: number;
  /** The node's own head, as its forwarder last reported (null before its first report). */
  reported_head_position: number | null;
  /** Events the node had recorded (as last reported) that the fleet monitor does not show yet. */
  lag_events: number;
  /** Age of the oldest of them: waiting on the node (as last reported) or in the centre not yet projected. */
  lag_seconds: number;
  /** Of lag_events: still on the node (its forwarder's lag, as last reported). */
  forwarder_lag_events: number;
  /** Of lag_events: in the centre, not yet projected. */
  projection_lag_events: number;
  /** When the node's forwarder last shipped a batch (null: before this field existed). */
  last_report_at: string | null;
};

const iso = (ms: number) => new Date(ms).toISOString();

/** Stored read-model JSON with the node in front: `{"node":"edge-1","id":…}`. */
export function withNode(node: string, json: string): string {
  const rest = json.trimStart().slice(1).trimStart();
  return `{"node":${JSON.stringify(node)}${rest.startsWith('}') ? '' : ','}${rest}`;
}

// Fleet list cursors: the last item's sort key (created time, node, position), opaque to clients.
function encodeCursor(at: number, node: string, position: number): string {
  return Buffer.from(JSON.stringify(['f', at, node, position])).toString('base64url');
}
function decodeCursor(cursor: string | null | undefined): [number, string, number] | null {
  if (!cursor) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(v) && v.length === 4 && v[0] === 'f' && Number.isSafeInteger(v[1]) && typeof v[2] === 'string' && Number.isSafeInteger(v[3])) {
      return [v[1], v[2], v[3]];
    }
  } catch {
    // not JSON: refused below
  }
  throw new AppError('BAD_REQUEST', 'cursor: not a cursor this server issued');
}

/** WHERE clauses with numbered parameters. */
class Where {
  readonly clauses: string[] = [];
  readonly args: unknown[] = [];
  arg(value: unknown): string {
    this.args.push(value);
    return `$${this.args.length}`;
  }
  add(clause: string): this {
    this.clauses.push(clause);
    return this;
  }
  anyOf(column: string, values: readonly string[] | undefined): this {
    if (values?.length) this.add(`${column} = ANY(${this.arg(values)}::text[])`);
    return this;
  }
  equals(column: string, value: string | number | undefined | null): this {
    if (value !== undefined && value !== null) this.add(`${column} = ${this.arg(value)}`);
    return this;
  }
  get sql(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

type ListRow = { node: string; id: string; connection_id: string | null; state: string; at: number; created_position: number };

const LISTS = {
  connections: { at: 'created_at', connectionId: 'id' },
  operations: { at: 'started_at', connectionId: 'connection_id' },
  tasks: { at: 'created_at', connectionId: 'connection_id' },
} as const;

export class FleetReads implements MonitorReads {
  constructor(
    private readonly pool: pg.Pool,
    /** Only this node's rows; null: every node's. */
    readonly node: string | null = null,
  ) {}

  /** The same reads limited to one node (or, with null, over all). */
  scoped(node: string | null | undefined): FleetReads {
    return (node ?? null) === this.node ? this : new FleetReads(this.pool, node ?? null);
  }

  private query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    return centreQuery<R>(this.pool, text, values);
  }

  /** The summary reducer's counters, added up over the nodes in scope. */
  async summary(): Promise<SummaryModel> {
    return sumSummaries((await this.nodeSummaries()).map((s) => s.summary));
  }

  /** Each node's own summary, by node name. */
  async nodeSummaries(): Promise<{ node: string; summary: SummaryModel }[]> {
    const w = new Where().equals('node', this.node);
    const rows = await this.query<{ node: string; state: string }>(`SELECT node, state FROM summary ${w.sql} ORDER BY node`, w.args);
    return rows.map((r) => ({ node: r.node, summary: completeSummary(JSON.parse(r.state) as Partial<SummaryModel>) }));
  }

  /** Every node the centre has heard from (in scope), with its lag. */
  async nodeStatuses(now = Date.now()): Promise<NodeStatus[]> {
    const w = new Where().equals('n.node', this.node);
    const rows = await this.query<{
      node: string;
      head_position: number;
      local_head_position: number | null;
      waiting_since: number | null;
      reported_at: number | null;
      projected: number;
      oldest_unprojected: number | null;
    }>(
      `SELECT n.node, n.head_position, n.local_head_position, n.waiting_since, n.reported_at, coalesce(c.position, 0) AS projected,
         (SELECT e.recorded_at FROM events e WHERE e.node = n.node AND e.node_position > coalesce(c.position, 0)
          ORDER BY e.node_position LIMIT 1) AS oldest_unprojected
       FROM nodes n LEFT JOIN fleet_cursors c ON c.node = n.node ${w.sql} ORDER BY n.node`,
      w.args,
    );
    return rows.map((r) => {
      const nodeHead = Math.max(r.local_head_position ?? 0, r.head_position);
      const oldest = [r.oldest_unprojected, r.waiting_since].filter((t): t is number => t !== null);
      return {
        node: r.node,
        projected_position: r.projected,
        centre_position: r.head_position,
        reported_head_position: r.local_head_position,
        lag_events: Math.max(0, nodeHead - r.projected),
        lag_seconds: oldest.length ? Math.max(0, now - Math.min(...oldest)) / 1000 : 0,
        forwarder_lag_events: Math.max(0, nodeHead - r.head_position),
        projection_lag_events: Math.max(0, r.head_position - r.projected),
        last_report_at: r.reported_at === null ? null : iso(r.reported_at),
      };
    });
  }

  /** Each node's projector cursor (in scope): how far the fleet shows it. */
  async projectedPositions(): Promise<Map<string, number>> {
    const w = new Where().equals('node', this.node);
    const rows = await this.query<{ node: string; position: number }>(`SELECT node, position FROM fleet_cursors ${w.sql} ORDER BY node`, w.args);
    return new Map(rows.map((r) => [r.node, r.position]));
  }

  /** The node a connection belongs to (the first by name, should two nodes have used one id). */
  private async nodeOf(table: 'connections' | 'operations', id: string): Promise<{ node: string; state: string } | null> {
    const w = new Where().equals('id', id).equals('node', this.node);
    const rows = await this.query<{ node: string; state: string }>(`SELECT * FROM ${source(table)} ${w.sql} ORDER BY node LIMIT 1`, w.args);
    return rows[0] ? { node: rows[0].node, state: stateOf(table, rows[0]) } : null;
  }

  async connection(id: string): Promise<ConnectionModel | null> {
    const json = await this.connectionJson(id);
    return json === null ? null : (JSON.parse(json) as ConnectionModel);
  }

  async connectionJson(id: string): Promise<string | null> {
    const row = await this.nodeOf('connections', id);
    return row ? withNode(row.node, row.state) : null;
  }

  async connectionAt(id: string, at: AsOf): Promise<ConnectionModel | null> {
    const row = await this.nodeOf('connections', id);
    if (!row) return null;
    const events = (await this.streamRows(row.node, streamName('connection', id), { untilPosition: at.position, untilTime: at.time })).map(
      (r): StoredEvent => ({ ...r, data: JSON.parse(r.data), meta: JSON.parse(r.meta) }) as StoredEvent,
    );
    const model = foldConnection(id, events);
    return model ? ({ node: row.node, ...completeConnection(model) } as ConnectionModel) : null;
  }

  async connectionEvents(id: string, options: ReadStreamOptions): Promise<FleetEventRow[]> {
    const row = await this.nodeOf('connections', id);
    return row ? this.streamRows(row.node, streamName('connection', id), options) : [];
  }

  /** A stream of one node in version order, up to what the projector applied. */
  private async streamRows(node: string, stream: string, options: ReadStreamOptions): Promise<FleetEventRow[]> {
    const w = new Where().equals('e.node', node).equals('e.stream', stream);
    w.add(`e.node_position <= coalesce((SELECT position FROM fleet_cursors WHERE node = ${w.arg(node)}), 0)`);
    if (options.afterVersion) w.add(`e.version > ${w.arg(options.afterVersion)}`);
    if (options.untilPosition !== undefined) w.add(`e.node_position <= ${w.arg(options.untilPosition)}`);
    if (options.untilTime !== undefined) w.add(`e.recorded_at <= ${w.arg(options.untilTime)}`);
    if (options.excludeTypes?.length) w.add(`NOT (e.type = ANY(${w.arg([...options.excludeTypes])}::text[]))`);
    const limit = options.limit === undefined ? '' : `LIMIT ${w.arg(options.limit)}`;
    // `newest`: the last `limit` events, handed back oldest first, as the node's store does.
    const rows = await this.query<EventRecord>(
      `SELECT e.node, e.node_position, e.stream, e.version, e.type, e.data, e.meta, e.recorded_at FROM events e ${w.sql} ORDER BY e.version${options.newest ? ' DESC' : ''} ${limit}`,
      w.args,
    );
    if (options.newest) rows.reverse();
    return rows.map(eventRow);
  }

  async connectionRows(options: ConnectionListOptions): Promise<Page<StoredRow>> {
    const w = new Where();
    if (options.categories?.length) w.anyOf('category', options.categories);
    else if (!options.includeClosed && !options.outcomes?.length) w.add(`category <> 'closed'`);
    w.anyOf('outcome', options.outcomes);
    if (options.stalled !== undefined) w.equals('stalled', options.stalled ? 1 : 0);
    w.equals('server_id', options.serverId);
    return this.page('connections', w, options.limit, options.cursor);
  }

  async operation(id: string): Promise<OperationModel | null> {
    const row = await this.nodeOf('operations', id);
    return row ? (JSON.parse(withNode(row.node, row.state)) as OperationModel) : null;
  }

  async operationRows(options: OperationListOptions): Promise<Page<StoredRow>> {
    const w = new Where().anyOf('status', options.statuses).equals('type', options.type);
    return this.page('operations', w, options.limit, options.cursor);
  }

  async taskRows(options: TaskListOptions): Promise<Page<StoredRow>> {
    const w = new Where();
    if (options.abandoned && options.statuses.length) w.add(`(status = ANY(${w.arg(options.statuses)}::text[]) OR abandoned = 1)`);
    else if (options.abandoned) w.equals('abandoned', 1);
    else w.anyOf('status', options.statuses);
    w.equals('connection_id', options.connectionId).equals('operation_id', options.operationId);
    return this.page('tasks', w, options.limit, options.cursor);
  }

  /** Newest first over every node in scope: by created (started) time, then node, then the node's position. */
  private async page(table: keyof typeof LISTS, w: Where, limit: number, cursor: string | null | undefined): Promise<Page<StoredRow>> {
    const { at, connectionId } = LISTS[table];
    w.equals('node', this.node);
    const before = decodeCursor(cursor);
    if (before) w.add(`(${at}, node, created_position) < (${w.arg(before[0])}, ${w.arg(before[1])}, ${w.arg(before[2])})`);
    const rows = await this.query<ListRow>(
      `SELECT *, ${connectionId} AS connection_id, ${at} AS at FROM ${source(table)} ${w.sql}
       ORDER BY ${at} DESC, node DESC, created_position DESC LIMIT ${w.arg(limit + 1)}`,
      w.args,
    );
    const more = rows.length > limit;
    const shown = more ? rows.slice(0, limit) : rows;
    const last = shown[shown.length - 1];
    return {
      items: shown.map((r) => ({ id: r.id, connectionId: r.connection_id, json: withNode(r.node, stateOf(table, r)) })),
      nextCursor: more ? encodeCursor(last.at, last.node, last.created_position) : null,
    };
  }

  // Time travel over the whole log replays one log from its start: the
  // fleet's is many logs interleaved, so it says so (connections/:id?at=,
  // one connection's own stream, it answers).
  async summaryAt(_at: AsOf, _maxEvents: number): Promise<SummaryModel> {
    throw notOnFleet('time travel over the whole log (summary?at=, connections?at=)');
  }

  async connectionsAt(_at: AsOf, _options: ConnectionsAtOptions): Promise<Page<ConnectionModel>> {
    throw notOnFleet('time travel over the whole log (summary?at=, connections?at=)');
  }

  // Streams are the node's own read model: the fleet does not project them
  // (a stream's viewers would have to be folded across a node's pages in
  // order), so the fleet's streams routes say so rather than answer empty.
  async streamListRows(_options: StreamListOptions): Promise<Page<StoredRow>> {
    throw notOnFleet('streams');
  }

  async streamJson(_id: string): Promise<string | null> {
    throw notOnFleet('streams');
  }

  // The fleet monitor serves no export (a node exports its own log), so
  // these are never reached from its routes; asked anyway, they say so.
  async connectionsForExport(_options: ExportPageOptions): Promise<ConnectionModel[]> {
    throw new AppError('BAD_REQUEST', 'the fleet monitor does not export: run export-logs on the node');
  }

  async operationsForExport(_options: ExportPageOptions & { connectionId?: string }): Promise<OperationModel[]> {
    throw new AppError('BAD_REQUEST', 'the fleet monitor does not export: run export-logs on the node');
  }
}

/** A read the fleet monitor does not serve: 400 NOT_ON_FLEET, naming where to ask instead. */
export function notOnFleet(what: string): AppError {
  return new AppError('NOT_ON_FLEET', `the fleet monitor does not serve ${what}: ask the node's own monitor (its --port) for them`);
}

type EventRecord = { node: string; node_position: number; stream: string; version: number; type: string; data: string; meta: string; recorded_at: number };

function eventRow(r: EventRecord): FleetEventRow {
  return { node: r.node, position: r.node_position, stream: r.stream, version: r.version, type: r.type, data: r.data, meta: r.meta, recordedAt: r.recorded_at };
}

/** Adds up every number of the summaries, field by field (operation types by name). */
export function sumSummaries(summaries: SummaryModel[]): SummaryModel {
  const add = (a: unknown, b: unknown): unknown => {
    if (typeof a === 'number' || typeof b === 'number') return ((a as number) ?? 0) + ((b as number) ?? 0);
    if (a && typeof a === 'object' || b && typeof b === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) {
        out[k] = add((a as Record<string, unknown> | undefined)?.[k], (b as Record<string, unknown> | undefined)?.[k]);
      }
      return out;
    }
    return a ?? b;
  };
  return summaries.reduce((total, s) => add(total, s) as SummaryModel, emptySummary());
}

/** A page of one node's central events in its position order, up to `until`, with the feed's filters. */
export async function readNodeEvents(
  pool: pg.Pool,
  options: { node: string; after: number; until: number; limit: number; stream?: string; streamPrefix?: string; types?: readonly string[] },
): Promise<FleetEventRow[]> {
  const w = new Where().equals('node', options.node);
  w.add(`node_position > ${w.arg(options.after)}`).add(`node_position <= ${w.arg(options.until)}`);
  w.equals('stream', options.stream);
  // starts_with is not indexed; the window bounds (after, until] are.
  if (options.streamPrefix !== undefined) w.add(`starts_with(stream, ${w.arg(options.streamPrefix)})`);
  w.anyOf('type', options.types);
  const rows = await centreQuery<EventRecord>(
    pool,
    `SELECT node, node_position, stream, version, type, data, meta, recorded_at FROM events ${w.sql} ORDER BY node_position LIMIT ${w.arg(options.limit)}`,
    w.args,
  );
  return rows.map(eventRow);
}

/**
 * One read of the centre. The database being unreachable, restarting or too
 * slow is the fleet monitor's storage being unavailable (503 with
 * Retry-After), not a fault of the request; anything else is a bug and stays
 * one.
 */
async function centreQuery<R extends pg.QueryResultRow>(pool: pg.Pool, text: string, values: unknown[]): Promise<R[]> {
  try {
    return (await pool.query<R>(text, values)).rows;
  } catch (err) {
    const { code, message } = describeError(err);
    // Class 08 (connection), 57 (operator intervention: shutdown, statement timeout), 53 (resources), and node's own socket errors.
    if (/^(08|57|53)/.test(code) || /^E[A-Z]+$/.test(code) || /Connection terminated|timeout/i.test(message)) {
      throw unavailable('STORAGE_UNAVAILABLE', `the central database did not answer: ${message}`, 2);
    }
    throw err;
  }
}
