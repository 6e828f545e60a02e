// The monitor, under /api/v0/mcp/monitor/webrtc: every answer is a read of the
// projections or a fold of the log. The add-on's response shapes are kept
// (connections as a map keyed by id, tasks grouped by connection) so its
// clients keep working; lists grow filters and cursors.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { HttpServices, Services } from '../app.ts';
import { NODE_ID_PATTERN } from '../../config.ts';
import type { MonitorReads } from '../../projections/reads.ts';
import { AppError, notFound, unavailable } from '../../errors.ts';
import type { EventRow } from '../../log/store.ts';
import { CONNECTION_OUTCOMES, TASK_STATUSES, type ConnectionOutcome, type TaskStatus } from '../../log/catalogue.ts';
import { parsed } from '../../projections/reads.ts';
import type { TaskModel } from '../../projections/task.ts';
import { CONNECTION_CATEGORIES, type ConnectionCategory, type ConnectionModel } from '../../projections/connection.ts';
import { bothEnds, viewerEventsBetween, viewersOf } from '../../projections/bothEnds.ts';
import { OPERATION_STATUSES, type OperationStatus } from '../../projections/operation.ts';
import { PENDING_TASK_STATUSES } from '../../projections/task.ts';
import { STREAM_STATES, type StreamState } from '../../projections/stream.ts';
import { boolParam, limitParam, parseBody, parseQuery } from '../validate.ts';
import { exportLogs } from '../../export/exporter.ts';
import { exportDirFor } from '../../export/paths.ts';
import { respondWithOutcome } from '../respond.ts';
import { ResponseCache } from '../responseCache.ts';
import { connectionIssues, issueSchema } from './issues.ts';
import { MONITOR_PREFIX } from '../paths.ts';
import { acceptedSchema, completed, isoTime as isoTimeOut } from '../openapi/components.ts';
import { asOfSchema, bothEndsSchema, connectionSchema, operationSchema, streamSchema, summarySchema, taskSchema, viewerSchema } from '../openapi/readModels.ts';
import { eventSchema } from '../openapi/events.ts';
import { PREFER_HEADER, type ApiSpec } from '../openapi/spec.ts';

export { MONITOR_PREFIX };

/** An export of a long log takes minutes; it is cancelled (between files) past this. */
const EXPORT_TIMEOUT_MS = 30 * 60_000;

const now = () => new Date().toISOString();

/** Sends JSON text built from stored read-model JSON (see StoredRow). */
function sendJson(ctx: Context, text: string) {
  ctx.type = 'application/json';
  ctx.body = text;
}

/** The closing fields every list shares but the time of the answer, which `sendCached` adds. */
const tail = (nextCursor: string | null) => `"next_cursor":${JSON.stringify(nextCursor)},`;

/** Lists show this many items unless asked for more (the dashboard's pages and a detail page's timeline). */
export const DEFAULT_PAGE = 20;

/** What a timeline leaves out unless `?include=stats`: one sample a second would bury the lifecycle. */
const SAMPLE_TYPES = ['connection.stats_sampled'] as const;

/** A comma-separated list of allowed words, e.g. `?status=failed,cancelled`. */
function listOf<T extends string>(allowed: readonly T[], extra: string[] = []) {
  return z
    .string()
    .meta({ description: `Comma-separated, any of: ${[...allowed, ...extra].join(', ')}` })
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum([...allowed, ...extra] as [string, ...string[]])).min(1));
}

/** Opaque: the `next_cursor` of the previous page (the read models refuse one they did not issue with a 400). */
const cursorParam = z
  .string()
  .max(100)
  .meta({ description: 'The `next_cursor` of the previous page.' })
  .optional();

const isoTime = z.iso.datetime({ offset: true });

/** `?at=`: an ISO-8601 time or a log position. */
const atParam = z
  .string()
  .meta({ description: 'Time travel: an ISO-8601 time (with its zone) or a log position; the answer as it was then.' })
  .optional()
  .transform((s, ctx) => {
    if (s === undefined) return undefined;
    if (/^\d+$/.test(s)) return { position: Number(s) };
    // A real calendar time with its zone: Date.parse alone takes 2026-02-30
    // for March 2nd and a zone-less time as the server's local time.
    const t = isoTime.safeParse(s).success ? Date.parse(s) : NaN;
    if (Number.isNaN(t)) {
      ctx.addIssue({ code: 'custom', message: 'use an ISO-8601 time (2026-01-31T12:00:00Z) or a log position' });
      return z.NEVER;
    }
    return { time: t };
  });

const summaryQuery = z.object({
  at: atParam,
});

const connectionsQuery = z.object({
  at: atParam,
  state: listOf(CONNECTION_CATEGORIES).optional(),
  /** How it ended (clean, failed, shutdown, process_restart): ended connections only. */
  outcome: listOf(CONNECTION_OUTCOMES).optional(),
  /** true: only connections the liveness watchdog says are stalled now; false: only the others. */
  stalled: boolParam.optional().meta({ description: 'true: only connections stalled now; false: only the others.' }),
  include_closed: boolParam.default(false).meta({ description: 'Include closed connections when no state is given.' }),
  server_id: z.string().max(200).optional().meta({ description: 'Only connections of this stream.' }),
  limit: limitParam(1000, DEFAULT_PAGE),
  cursor: cursorParam,
});

const connectionQuery = z.object({
  at: atParam,
  events_after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Timeline events after this stream version, oldest first (`0`: from the start). Without it, the newest events.' }),
  events_limit: limitParam(1000, DEFAULT_PAGE),
  include: listOf(['stats'])
    .optional()
    .meta({ description: '`stats`: the timeline includes the stats samples (left out by default).' }),
});

const operationsQuery = z.object({
  status: listOf(OPERATION_STATUSES, ['active', 'all', 'started', 'canceled']).optional(),
  type: z.string().max(100).optional(),
  limit: limitParam(1000, DEFAULT_PAGE),
  cursor: cursorParam,
});

const tasksQuery = z.object({
  status: listOf(TASK_STATUSES, ['pending', 'abandoned', 'all']).optional(),
  connection_id: z.string().max(200).optional(),
  operation_id: z.string().max(200).optional(),
  limit: limitParam(1000, DEFAULT_PAGE),
  cursor: cursorParam,
});

const streamsQuery = z.object({
  state: listOf(STREAM_STATES).optional().meta({ description: 'Comma-separated, any of: live, stopped, unknown (default: every state).' }),
  limit: limitParam(1000, DEFAULT_PAGE),
  cursor: cursorParam,
});

const exportBody = z
  .object({
    since: z.iso.datetime({ offset: true }).optional(),
    connection_id: z.string().min(1).max(200).optional(),
  })
  .strict();

/** Words the add-on used, mapped to ours. */
function operationStatuses(words: string[] | undefined): OperationStatus[] {
  if (!words || words.includes('active')) return words && words.length > 1 ? expand(words) : ['running'];
  return expand(words);
  function expand(ws: string[]): OperationStatus[] {
    if (ws.includes('all')) return [];
    const map: Record<string, OperationStatus> = { started: 'running', active: 'running', canceled: 'cancelled' };
    return [...new Set(ws.map((w) => map[w] ?? (w as OperationStatus)))];
  }
}

/**
 * `pending` (the default) is what still holds work: created, running, and
 * abandoned (given up on while its work runs); `abandoned` is those alone.
 */
function taskStatuses(words: string[] | undefined): { statuses: TaskStatus[]; abandoned: boolean } {
  if (!words) return { statuses: [...PENDING_TASK_STATUSES], abandoned: true };
  if (words.includes('all')) return { statuses: [], abandoned: false };
  const abandoned = words.includes('pending') || words.includes('abandoned');
  const statuses = [...new Set(words.flatMap((w) => (w === 'pending' ? PENDING_TASK_STATUSES : w === 'abandoned' ? [] : [w as TaskStatus])))];
  return { statuses, abandoned };
}

/** `?node=`: on the fleet monitor, only that node's rows (a node's own server ignores it). */
export const nodeQuery = z.object({
  node: z.string().regex(NODE_ID_PATTERN, 'a node name').optional().meta({ description: 'Only this node (the fleet monitor).' }),
});

/** The node's server (store and runner: it also exports), or the fleet monitor (reads only). */
export type MonitorServices = HttpServices & Partial<Pick<Services, 'store' | 'runner'>>;

export function monitorRouter(services: MonitorServices): Router {
  const { config } = services;
  const fleet = services.fleet ?? null;
  const router = new Router({ prefix: MONITOR_PREFIX });
  const cache = services.responseCache ?? new ResponseCache();

  /**
   * Answers from the cache when the log has not moved since the same path and
   * query were answered, else builds the text (everything but the closing
   * `"timestamp"`) and keeps it. A build that throws (a 400, a 404) keeps nothing.
   */
  async function sendCached(ctx: Context, build: () => Promise<string>) {
    // The fleet monitor reads what other processes project: it has no log position of its own to key by.
    if (!('store' in services) || !services.store) return sendJson(ctx, `${await build()}"timestamp":"${now()}"}`);
    const position = await services.store.head();
    const key = `${ctx.path}?${ctx.querystring}`;
    let body = cache.get(key, position);
    if (body === undefined) {
      body = Buffer.from(await build());
      cache.set(key, position, body);
    }
    ctx.type = 'application/json';
    ctx.body = Buffer.concat([body, Buffer.from(`"timestamp":"${now()}"}`)]);
  }

  /** The reads a request asks for: on the fleet, scoped to `?node=`. */
  const readsFor = (ctx: Context): MonitorReads => (fleet ? fleet.reads.scoped(parseQuery(ctx, nodeQuery).node) : services.reads);

  router.get('/summary', async (ctx) => {
    const reads = readsFor(ctx);
    const q = parseQuery(ctx, summaryQuery);
    // ?at=: the log replayed up to there (bounded; refused past the bound), never the current counters.
    const s = q.at ? await reads.summaryAt(q.at, config.timeTravelMaxEvents) : await reads.summary();
    ctx.body = {
      uptime_seconds: Math.round((Date.now() - services.startedAt) / 1000),
      timestamp: now(),
      debug_mode: config.debug,
      logging_enabled: config.logDir !== null,
      connection_states: {
        total: s.connections.total,
        connected: s.connections.connected,
        disconnected: s.connections.disconnected,
        new: s.connections.new,
        connecting: s.connections.connecting,
        closed: s.connections.closed,
        failed: s.connections.failed,
      },
      // How ended connections ended: a failure followed by a close counts here
      // as failed, though its state (above) is closed.
      connection_outcomes: { ...s.connection_outcomes },
      stalled_connections: s.connections.stalled,
      connection_stalls: s.stalls,
      operation_stats: {
        total: s.operations.total,
        started: s.operations.running,
        completed: s.operations.completed,
        failed: s.operations.failed,
        canceled: s.operations.cancelled,
      },
      // Running tasks plus abandoned ones (timed out or cancelled, work still running).
      pending_tasks: s.tasks.pending,
      abandoned_tasks: s.tasks.abandoned,
      task_count: s.tasks.total,
      event_count: s.event_count,
      log_position: s.log_position,
      // The fleet forwarder's state and lag, or null when this node does not forward (or for a past summary).
      forwarder: services.forwarder && !q.at ? await services.forwarder.status() : null,
      as_of: asOfJson(q.at),
      // On the fleet monitor: each node, its counts and how far behind the fleet shows it.
      ...(fleet ? { nodes: await nodesOf(fleet.reads.scoped(parseQuery(ctx, nodeQuery).node)), projector: fleet.projectorRole() } : {}),
    };
  });

  router.get('/connections', (ctx) =>
    sendCached(ctx, async () => {
      const q = parseQuery(ctx, connectionsQuery);
      const filter = {
        categories: q.state as ConnectionCategory[] | undefined,
        outcomes: q.outcome as ConnectionOutcome[] | undefined,
        stalled: q.stalled,
        includeClosed: q.include_closed,
        serverId: q.server_id,
        limit: q.limit,
        cursor: q.cursor,
      };
      if (q.at) {
        // Each connection that existed then, folded from its stream up to
        // then and filtered by what it was then; a bounded replay per page.
        const past = await readsFor(ctx).connectionsAt(q.at, { ...filter, maxEvents: config.timeTravelMaxEvents });
        const entries = past.items.map((m) => `${JSON.stringify(m.id)}:${JSON.stringify(m)}`).join(',');
        return `{"connections":{${entries}},"count":${past.items.length},"as_of":${JSON.stringify(asOfJson(q.at))},${tail(past.nextCursor)}`;
      }
      const page = await readsFor(ctx).connectionRows(filter);
      // The add-on's shape: a map keyed by connection id.
      const entries = page.items.map((r) => `${JSON.stringify(r.id)}:${r.json}`).join(',');
      return `{"connections":{${entries}},"count":${page.items.length},${tail(page.nextCursor)}`;
    }),
  );

  router.get('/connections/:id', (ctx) =>
    sendCached(ctx, async () => {
      const id = ctx.params.id;
      const q = parseQuery(ctx, connectionQuery);
      const reads = readsFor(ctx);
      const currentJson = await reads.connectionJson(id);
      if (currentJson === null) throw notFound('connection', id);
      let connectionJson = currentJson;
      if (q.at?.position !== undefined && services.store) {
        // A position this log has not reached is refused, never answered as now.
        const head = await services.store.head();
        if (q.at.position > head) {
          throw new AppError('POSITION_BEYOND_LOG', `position ${q.at.position} is past the end of this log (its head is ${head})`, { head_position: head });
        }
      }
      if (q.at) {
        const then = await reads.connectionAt(id, q.at);
        if (!then) throw new AppError('NOT_FOUND', `connection "${id}" did not exist yet at ${JSON.stringify(q.at)}`);
        connectionJson = JSON.stringify(then);
      }
      // Without events_after: the newest events (next_after is null, nothing is newer);
      // with it: oldest first from there, paged by next_after as before.
      const newest = q.events_after === undefined;
      const rows = await reads.connectionEvents(id, {
        afterVersion: q.events_after ?? 0,
        untilPosition: q.at?.position,
        untilTime: q.at?.time,
        limit: newest ? q.events_limit : q.events_limit + 1,
        excludeTypes: q.include?.includes('stats') ? [] : SAMPLE_TYPES,
        newest,
      });
      const more = !newest && rows.length > q.events_limit;
      const shown = more ? rows.slice(0, q.events_limit) : rows;
      const tasks = await reads.taskRows({ statuses: [], connectionId: id, limit: 100 });
      // The fleet does not project issues: its detail has no issue fields rather than empty ones.
      const issues = fleet ? null : await connectionIssues(services as Services, id);
      const asOf = asOfJson(q.at);
      // The viewer's end, folded to the same point of the log (a node's own
      // traces: the fleet does not carry them, and its detail leaves them out).
      let viewerParts = '';
      let bothEndsTimeline = '';
      if (services.store) {
        const store = services.store;
        const at: { time?: number; position?: number } = q.at ?? {};
        const viewers = await viewersOf(store, id, at);
        const ends = bothEnds(JSON.parse(connectionJson) as ConnectionModel, viewers);
        // One timeline of both ends: the server's page, and the viewers' events
        // over the same span, merged by position. A page that holds the
        // connection's first event starts at the viewer's beginning (its page
        // loads before it offers).
        const positions = shown.map((e) => e.position);
        const fromStart = q.events_after === 0 || !shown.length || (newest && rows.length < q.events_limit);
        const from = fromStart ? 0 : Math.min(...positions) - 1;
        const to = more ? Math.max(...positions) : at.position;
        const viewerRows = viewers.length
          ? await viewerEventsBetween(store, viewers.map((v) => v.stream), from, { position: to, time: at.time }, q.events_limit)
          : [];
        const joined = [...shown, ...viewerRows].sort((a, b) => a.position - b.position);
        viewerParts = `"viewers":${JSON.stringify(viewers)},"both_ends":${JSON.stringify(ends)},`;
        bothEndsTimeline = `"both_ends":[${joined.map(publicEventJson).join(',')}],`;
      }
      return (
        `{"connection":${connectionJson},"as_of":${JSON.stringify(asOf)},` +
        `"tasks":[${tasks.items.map((t) => t.json).join(',')}],${issues ? `"issues":[${issues.issues.join(',')}],` : ''}` +
        viewerParts +
        `"timeline":{"events":[${shown.map(publicEventJson).join(',')}],${issues ? `"issue_events":[${issues.events.join(',')}],` : ''}` +
        bothEndsTimeline +
        `"next_after":${more ? shown[shown.length - 1].version : null}},`
      );
    }),
  );

  router.get('/streams', (ctx) =>
    sendCached(ctx, async () => {
      const q = parseQuery(ctx, streamsQuery);
      const page = await readsFor(ctx).streamListRows({ states: q.state as StreamState[] | undefined, limit: q.limit, cursor: q.cursor });
      return `{"streams":[${page.items.map((r) => r.json).join(',')}],"count":${page.items.length},${tail(page.nextCursor)}`;
    }),
  );

  router.get('/streams/:id', (ctx) =>
    sendCached(ctx, async () => {
      const json = await readsFor(ctx).streamJson(ctx.params.id);
      if (json === null) throw notFound('stream', ctx.params.id);
      return `{"stream":${json},`;
    }),
  );

  router.get('/operations', (ctx) =>
    sendCached(ctx, async () => {
      const q = parseQuery(ctx, operationsQuery);
      const page = await readsFor(ctx).operationRows({ statuses: operationStatuses(q.status), type: q.type, limit: q.limit, cursor: q.cursor });
      const items = page.items.map((r) => r.json).join(',');
      return `{"operations":[${items}],"count":${page.items.length},${tail(page.nextCursor)}`;
    }),
  );

  router.get('/operations/:id', async (ctx) => {
    const reads = readsFor(ctx);
    const op = await reads.operation(ctx.params.id);
    if (!op) throw notFound('operation', ctx.params.id);
    // On the fleet, the operation's own node (an id is unique within a node).
    const own = fleet ? fleet.reads.scoped((op as { node?: string }).node) : reads;
    const tasks = parsed<TaskModel>(await own.taskRows({ statuses: [], operationId: op.id, limit: 1000 }));
    ctx.body = { operation: op, tasks: tasks.items, timestamp: now() };
  });

  router.get('/tasks', (ctx) =>
    sendCached(ctx, async () => {
      const q = parseQuery(ctx, tasksQuery);
      const { statuses, abandoned } = taskStatuses(q.status);
      const page = await readsFor(ctx).taskRows({
        statuses,
        abandoned,
        connectionId: q.connection_id,
        operationId: q.operation_id,
        limit: q.limit,
        cursor: q.cursor,
      });
      // The add-on's shape: tasks grouped by the connection they belong to.
      const grouped = new Map<string, string[]>();
      for (const r of page.items) {
        const key = r.connectionId ?? 'none';
        const list = grouped.get(key);
        if (list) list.push(r.json);
        else grouped.set(key, [r.json]);
      }
      const groups = `{${[...grouped].map(([k, items]) => `${JSON.stringify(k)}:[${items.join(',')}]`).join(',')}}`;
      const pending = q.status ? '' : `"pending_tasks":${groups},`;
      const shown = JSON.stringify(statuses.length || abandoned ? [...statuses, ...(abandoned ? ['abandoned'] : [])] : 'all');
      return `{${pending}"tasks":${groups},"count":${page.items.length},"statuses":${shown},${tail(page.nextCursor)}`;
    }),
  );

  // The fleet monitor only reads: it has no export (a node exports its own log).
  const { store, runner } = services;
  if (!store || !runner || fleet) return router;
  const reads = services.reads;
  let exportsRunning = 0;
  router.post('/export', async (ctx) => {
    const body = parseBody(ctx, exportBody);
    // An export reads the whole log and writes a file per connection and
    // operation: a few at once, not as many as clients ask for.
    if (exportsRunning >= config.maxConcurrentExports) {
      throw unavailable('UNAVAILABLE', `${exportsRunning} exports are running (at most ${config.maxConcurrentExports}); retry when one has finished`, 30);
    }
    const out = exportDirFor(config);
    const since = body.since ? Date.parse(body.since) : undefined;
    exportsRunning++;
    let started;
    try {
      started = await runner.start(
        'export',
        { out, since: body.since ?? null, connection_id: body.connection_id ?? null },
        (op) => exportLogs(store, reads, { out, since, connectionId: body.connection_id, signal: op.signal }),
        { requestId: ctx.state.requestId, connectionId: body.connection_id ?? null, timeoutMs: EXPORT_TIMEOUT_MS },
      );
    } catch (err) {
      exportsRunning--;
      throw err;
    }
    void started.outcome.then(() => exportsRunning--);
    // A large export outlives the request: past --operation-timeout this
    // answers 202 with the operation to poll, like every other operation.
    await respondWithOutcome(ctx, started, config.operationTimeoutMs, (result) => ({ ...result }));
  });

  return router;
}

/** The `?at=` answered, as a response shows it: an ISO time, a position, or null for now. */
function asOfJson(at: { time?: number; position?: number } | undefined) {
  return at ? (at.time !== undefined ? new Date(at.time).toISOString() : { position: at.position! }) : null;
}

/** publicEvent's JSON text, built from a stored row without parsing its data and meta; a fleet row names its node first. */
export function publicEventJson(r: EventRow & { node?: string }): string {
  return (
    `{${r.node === undefined ? '' : `"node":${JSON.stringify(r.node)},`}"position":${r.position},"stream":${JSON.stringify(r.stream)},"version":${r.version},"type":${JSON.stringify(r.type)},` +
    `"recorded_at":"${new Date(r.recordedAt).toISOString()}","data":${r.data},"meta":${r.meta}}`
  );
}

/** An event as the API shows it: ISO time, snake_case. */
export function publicEvent(e: { position: number; stream: string; version: number; type: string; data: unknown; meta: unknown; recordedAt: number }) {
  return {
    position: e.position,
    stream: e.stream,
    version: e.version,
    type: e.type,
    recorded_at: new Date(e.recordedAt).toISOString(),
    data: e.data,
    meta: e.meta,
  };
}

// ---- OpenAPI ----------------------------------------------------------------

const count = z.number().int().nonnegative();
const nextCursor = z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last.' });
const tasksByConnection = z.record(z.string(), z.array(taskSchema)).meta({ description: 'Tasks by connection id (`none`: tasks of no connection).' });

export const monitorApi: ApiSpec = {
  [`GET ${MONITOR_PREFIX}/summary`]: {
    operationId: 'getSummary',
    tag: 'monitor',
    summary: 'Counts of connections by state and outcome, operations by status, tasks, and the log position; `?at=` as they were then',
    description:
      'With `?at=` the log is replayed from its start up to that time or position through the same reducers as the read models (in memory, nothing stored is read); ' +
      'a replay longer than --time-travel-max-events, or one over a pruned log, is refused with 400 `TIME_TRAVEL_TOO_FAR`, a position past the head with 400 `POSITION_BEYOND_LOG`. ' +
      'The fleet monitor refuses `?at=` here with 400 `NOT_ON_FLEET`.',
    query: summaryQuery,
    responses: { 200: { description: 'The summary read model', json: summarySchema } },
    errors: ['BAD_REQUEST', 'TIME_TRAVEL_TOO_FAR', 'POSITION_BEYOND_LOG', 'NOT_ON_FLEET'],
  },
  [`GET ${MONITOR_PREFIX}/connections`]: {
    operationId: 'listConnections',
    tag: 'monitor',
    summary: 'Connections, newest first, keyed by id; `?at=` as they were then',
    description:
      'With `?at=` each connection created by then is folded from its own events up to then, and the filters apply to what it was then. ' +
      'A page looks at `limit` connections and replays at most about --time-travel-max-events events, so it may hold fewer items and still have a `next_cursor`. ' +
      'The fleet monitor refuses `?at=` here with 400 `NOT_ON_FLEET`.',
    query: connectionsQuery,
    responses: {
      200: {
        description: 'A page of connections',
        json: z.object({
          connections: z.record(z.string(), connectionSchema),
          count,
          as_of: asOfSchema.optional().meta({ description: 'The `?at=` answered, when one was given.' }),
          next_cursor: nextCursor,
          timestamp: isoTimeOut,
        }),
      },
    },
    errors: ['BAD_REQUEST', 'POSITION_BEYOND_LOG', 'NOT_ON_FLEET'],
  },
  [`GET ${MONITOR_PREFIX}/connections/:id`]: {
    operationId: 'getConnection',
    tag: 'monitor',
    summary: 'One connection with its tasks and a page of its timeline; `?at=` shows it as it was',
    params: { id: 'The connection id' },
    query: connectionQuery,
    responses: {
      200: {
        description: 'The connection',
        json: z.object({
          connection: connectionSchema,
          as_of: asOfSchema,
          tasks: z.array(taskSchema),
          issues: z.array(issueSchema).optional().meta({ description: 'Issues raised about this connection, newest first (at most 50); absent on the fleet monitor, which does not project issues.' }),
          viewers: z
            .array(viewerSchema)
            .optional()
            .meta({ description: 'The viewer-side traces joined to this connection (rtcstats telemetry), folded to the same point of the log; absent on the fleet monitor.' }),
          both_ends: bothEndsSchema.optional(),
          timeline: z.object({
            events: z.array(eventSchema),
            both_ends: z
              .array(eventSchema)
              .optional()
              .meta({ description: "This page of the server's events merged by log position with the viewers' events of the same span." }),
            issue_events: z.array(eventSchema).optional().meta({ description: 'The events of those issues (raised, updated, resolved), in log order.' }),
            next_after: z.number().int().nullable().meta({ description: 'Pass as `events_after` for the next page; null on the last.' }),
          }),
          timestamp: isoTimeOut,
        }),
      },
    },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'POSITION_BEYOND_LOG'],
  },
  [`GET ${MONITOR_PREFIX}/streams`]: {
    operationId: 'listStreams',
    tag: 'monitor',
    summary: 'Streams, newest first, with their viewers (now and ever), how those ended and their traffic',
    description: 'A projection of the log (server.created / server.stopped and every viewer connection change). The fleet monitor does not project streams and answers 400 `NOT_ON_FLEET`.',
    query: streamsQuery,
    responses: {
      200: { description: 'A page of streams', json: z.object({ streams: z.array(streamSchema), count, next_cursor: nextCursor, timestamp: isoTimeOut }) },
    },
    errors: ['BAD_REQUEST', 'NOT_ON_FLEET'],
  },
  [`GET ${MONITOR_PREFIX}/streams/:id`]: {
    operationId: 'getStream',
    tag: 'monitor',
    summary: 'One stream (its viewers: `connections?server_id=<id>&include_closed=true`)',
    params: { id: 'The stream (server) id' },
    responses: { 200: { description: 'The stream', json: z.object({ stream: streamSchema, timestamp: isoTimeOut }) } },
    errors: ['NOT_FOUND', 'NOT_ON_FLEET'],
  },
  [`GET ${MONITOR_PREFIX}/operations`]: {
    operationId: 'listOperations',
    tag: 'monitor',
    summary: 'Operations, newest first (running ones unless a status is given)',
    query: operationsQuery,
    responses: {
      200: { description: 'A page of operations', json: z.object({ operations: z.array(operationSchema), count, next_cursor: nextCursor, timestamp: isoTimeOut }) },
    },
    errors: ['BAD_REQUEST'],
  },
  [`GET ${MONITOR_PREFIX}/operations/:id`]: {
    operationId: 'getOperation',
    tag: 'monitor',
    summary: 'One operation and its tasks',
    params: { id: 'The operation id' },
    responses: { 200: { description: 'The operation', json: z.object({ operation: operationSchema, tasks: z.array(taskSchema), timestamp: isoTimeOut }) } },
    errors: ['NOT_FOUND'],
  },
  [`GET ${MONITOR_PREFIX}/tasks`]: {
    operationId: 'listTasks',
    tag: 'monitor',
    summary: 'Tracked tasks grouped by connection (pending ones unless a status is given)',
    query: tasksQuery,
    responses: {
      200: {
        description: 'Tasks grouped by connection id',
        json: z.object({
          pending_tasks: tasksByConnection.optional().meta({ description: 'The same groups, under the add-on\'s name, when no status is given.' }),
          tasks: tasksByConnection,
          count,
          statuses: z.union([z.array(z.string()), z.literal('all')]),
          next_cursor: nextCursor,
          timestamp: isoTimeOut,
        }),
      },
    },
    errors: ['BAD_REQUEST'],
  },
  [`POST ${MONITOR_PREFIX}/export`]: {
    operationId: 'exportLogs',
    tag: 'monitor',
    summary: 'Export JSON logs (connections/ and operations/) to --log-dir, or exports/ beside the database',
    headers: [PREFER_HEADER],
    body: { json: exportBody },
    responses: {
      200: {
        description: 'What was written, with the export operation id',
        json: completed({ out: z.string(), files: count, connections: count, operations: count, events: count }),
      },
      202: { description: 'The export is still running; poll Location.', json: acceptedSchema, headers: { Location: 'The operation' } },
    },
    errors: ['INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED', 'INTERNAL', 'UNAVAILABLE'],
  },
};

/** The fleet summary's `nodes`: each node's lag and its own counts. */
async function nodesOf(reads: import('../../fleet/reads.ts').FleetReads) {
  const [statuses, summaries] = await Promise.all([reads.nodeStatuses(), reads.nodeSummaries()]);
  const byNode = new Map(summaries.map((s) => [s.node, s.summary]));
  return statuses.map((st) => {
    const s = byNode.get(st.node);
    return {
      ...st,
      connections: s ? { ...s.connections } : null,
      operations: s ? { ...s.operations } : null,
      event_count: s?.event_count ?? 0,
    };
  });
}
