// The fleet monitor's event log: every node's events as the projector has
// applied them, paged (`GET events`) or followed (`GET events/stream`), each
// with its `node` and its `position` in that node's log.
//
// Cursors are per node (src/fleet/feed.ts): `after` and the SSE ids are
// `node:position` pairs, the next_after a page gave or the id of the last
// frame received, so Last-Event-ID resumes with no gap and no duplicate.
// Why not the centre's own `position`: PostgreSQL commits concurrent
// inserts out of position order, so a reader paging by it skips rows. Each
// node's positions are written in order and read only up to the projector's
// cursor for that node, which moves after they committed.
//
// Reads are bounded as on a node: a page per node per turn, a window of
// positions per read, a cap on clients; PostgreSQL answers asynchronously,
// so a client never holds the event loop between its reads.
import Router from '@koa/router';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { HttpServices } from '../app.ts';
import { AppError, unavailable } from '../../errors.ts';
import { EVENT_TYPES, STREAM_KINDS } from '../../log/catalogue.ts';
import { decodeNodeCursor, encodeNodeCursor, type NodeCursor } from '../../fleet/feed.ts';
import { readNodeEvents, type FleetEventRow } from '../../fleet/reads.ts';
import type { FleetSource } from '../../fleet/source.ts';
import { limitParam, parseQuery } from '../validate.ts';
import { MONITOR_PREFIX, nodeQuery, publicEventJson } from './monitor.ts';
import { FEED_PAGE, MAX_FEED_CLIENTS, FEED_STALL_DROP_MS, PAGE_SCAN_WINDOW, SCAN_WINDOW, openEventStream } from './events.ts';
import { isoTime, named } from '../openapi/components.ts';
import { eventSchema } from '../openapi/events.ts';
import type { ApiSpec } from '../openapi/spec.ts';
import type pg from 'pg';

const DEFAULT_HEARTBEAT_MS = 15_000;
const RETRY_MS = 2_000;

const cursorText = z.string().max(20_000).meta({ description: '`node:position` pairs separated by commas: the `next_after` of the previous page.' });

const filterShape = {
  ...nodeQuery.shape,
  stream: z.string().min(1).max(300).optional().meta({ description: 'Only this stream, e.g. `connection:<id>`.' }),
  stream_prefix: z.string().min(1).max(300).optional().meta({ description: 'Only streams starting with this, e.g. `connection:`.' }),
  kind: z.enum(STREAM_KINDS).optional().meta({ description: 'Only streams of this kind (same as stream_prefix=`<kind>:`).' }),
  type: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(EVENT_TYPES as [string, ...string[]])).min(1).max(EVENT_TYPES.length))
    .optional()
    .meta({ description: 'Comma-separated event types.' }),
};

const pageQuery = z.object({
  after: cursorText.optional().meta({ description: 'Events after these node positions (a node not named: from its start).' }),
  limit: limitParam(1000, 100),
  ...filterShape,
});

const streamQuery = z.object({
  after: cursorText.optional().meta({ description: 'Start after these node positions (default: what the fleet shows now, live events only).' }),
  heartbeat_ms: z.coerce.number().int().min(1000).max(60_000).default(DEFAULT_HEARTBEAT_MS),
  ...filterShape,
});

type Filter = { node?: string; stream?: string; streamPrefix?: string; types?: string[] };

function toFilter(q: { node?: string; stream?: string; stream_prefix?: string; kind?: string; type?: string[] }): Filter {
  const given = [q.stream, q.stream_prefix, q.kind].filter((x) => x !== undefined).length;
  if (given > 1) throw new AppError('BAD_REQUEST', 'use one of stream, stream_prefix and kind');
  return { node: q.node, stream: q.stream, streamPrefix: q.stream_prefix ?? (q.kind ? `${q.kind}:` : undefined), types: q.type };
}

/** Reads up to `limit` events after `cursor`, node after node (by name), up to each node's projected position; moves `cursor`. */
async function readAcross(
  pool: pg.Pool,
  heads: Map<string, number>,
  cursor: NodeCursor,
  filter: Filter,
  limit: number,
  window: number,
): Promise<FleetEventRow[]> {
  const out: FleetEventRow[] = [];
  for (const [node, head] of heads) {
    if (out.length >= limit) break;
    const after = cursor.get(node) ?? 0;
    if (after >= head) continue;
    const until = Math.min(head, after + window);
    const want = limit - out.length;
    const rows = await readNodeEvents(pool, { node, after, until, limit: want, stream: filter.stream, streamPrefix: filter.streamPrefix, types: filter.types });
    out.push(...rows);
    // A short page matched everything up to the end of its window.
    cursor.set(node, rows.length < want ? until : rows[rows.length - 1].position);
  }
  return out;
}

export function fleetEventsRouter(services: HttpServices & { fleet: FleetSource }, pool: pg.Pool): Router {
  const { fleet } = services;
  const router = new Router({ prefix: MONITOR_PREFIX });
  let clients = 0;

  router.get('/events', async (ctx) => {
    const q = parseQuery(ctx, pageQuery);
    const filter = toFilter(q);
    const heads = await fleet.reads.scoped(filter.node).projectedPositions();
    const cursor = decodeNodeCursor(q.after ?? '');
    const rows = await readAcross(pool, heads, cursor, filter, q.limit, PAGE_SCAN_WINDOW);
    // Every node in scope is named in next_after, so the next page starts where this one ended.
    for (const node of heads.keys()) if (!cursor.has(node)) cursor.set(node, 0);
    const hasMore = [...heads].some(([node, head]) => (cursor.get(node) ?? 0) < head);
    ctx.type = 'application/json';
    ctx.body =
      `{"events":[${rows.map(publicEventJson).join(',')}],"count":${rows.length},"next_after":${JSON.stringify(encodeNodeCursor(cursor))},` +
      `"has_more":${hasMore},"head_positions":${JSON.stringify(Object.fromEntries(heads))},"timestamp":"${new Date().toISOString()}"}`;
  });

  router.get('/events/stream', async (ctx) => {
    const q = parseQuery(ctx, streamQuery);
    const filter = toFilter(q);
    const header = ctx.get('last-event-id').trim();
    const given = header !== '' ? header : q.after;
    // Without a cursor: live events only (everything the fleet shows now is skipped); a node that joins later is read from its start.
    const cursor = given !== undefined ? decodeNodeCursor(given) : new Map(await fleet.reads.scoped(filter.node).projectedPositions());
    if (clients >= MAX_FEED_CLIENTS) throw unavailable('UNAVAILABLE', `too many live feed clients (at most ${MAX_FEED_CLIENTS})`, 5);
    if (ctx.method === 'HEAD') {
      ctx.status = 200;
      ctx.type = 'text/event-stream';
      return;
    }
    clients++;
    const res = openEventStream(ctx);
    try {
      await follow(res, cursor, filter, q.heartbeat_ms);
    } catch (err) {
      services.logger.error({ err }, 'fleet live feed stopped on an error');
    } finally {
      clients--;
      if (!res.writableEnded) res.end();
    }
  });

  async function follow(res: ServerResponse, cursor: NodeCursor, filter: Filter, heartbeatMs: number) {
    let gone = res.destroyed;
    let wake: (() => void) | null = null;
    // A notification while a read is in flight: look again at once instead of sleeping.
    let poked = false;
    const poke = () => {
      const w = wake;
      wake = null;
      if (w) w();
      else poked = true;
    };
    const onClose = () => {
      gone = true;
      poke();
    };
    res.on('close', onClose);
    res.on('drain', poke);
    const unsubscribe = fleet.feed.onProjected(poke);
    let idleSince = Date.now();
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (poked) {
          poked = false;
          return resolve();
        }
        const timer = setTimeout(poke, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    const scope = fleet.reads.scoped(filter.node);
    try {
      res.write(`retry: ${RETRY_MS}\n: following the fleet after ${encodeNodeCursor(cursor) || 'the start'}\n\n`);
      while (!gone) {
        if (res.writableNeedDrain) {
          const stall = setTimeout(() => res.destroy(), FEED_STALL_DROP_MS);
          stall.unref();
          await sleep(FEED_STALL_DROP_MS);
          clearTimeout(stall);
          continue;
        }
        poked = false;
        const heads = await scope.projectedPositions();
        // Each frame's id is the cursor as it stands after that event (a
        // node the cursor does not name is read from its start): resuming
        // from any frame skips nothing and repeats nothing.
        const sent = new Map(cursor);
        const rows = await readAcross(pool, heads, cursor, filter, FEED_PAGE, SCAN_WINDOW);
        for (const r of rows) {
          if (gone) break;
          sent.set(r.node, r.position);
          res.write(`id: ${encodeNodeCursor(sent)}\nevent: ${r.type}\ndata: ${publicEventJson(r)}\n\n`);
        }
        if (rows.length) {
          idleSince = Date.now();
          continue;
        }
        if (Date.now() - idleSince >= heartbeatMs) {
          res.write(`: heartbeat ${new Date().toISOString()}\n\n`);
          idleSince = Date.now();
        }
        await sleep(Math.min(fleet.feed.pollMs, heartbeatMs));
      }
    } finally {
      unsubscribe();
      res.off('close', onClose);
      res.off('drain', poke);
    }
  }

  return router;
}

// ---- OpenAPI ----------------------------------------------------------------

const fleetEventSchema = named(
  'FleetEvent',
  z
    .intersection(z.object({ node: z.string().meta({ description: 'The node that recorded it.' }) }), eventSchema)
    .meta({ description: "An event as a node recorded it, with the node; `position` is its position in that node's log." }),
);

export const fleetEventsApi: ApiSpec = {
  [`GET ${MONITOR_PREFIX}/events`]: {
    operationId: 'listEvents',
    tag: 'events',
    summary: "A page of the nodes' events, node by node in each node's position order",
    query: pageQuery,
    responses: {
      200: {
        description: 'A page of events',
        json: z.object({
          events: z.array(fleetEventSchema),
          count: z.number().int().nonnegative(),
          next_after: z.string().meta({ description: 'Pass as `after` for the next page.' }),
          has_more: z.boolean(),
          head_positions: z.record(z.string(), z.number().int().nonnegative()).meta({ description: 'The last position the fleet shows, per node.' }),
          timestamp: isoTime,
        }),
      },
    },
    errors: ['BAD_REQUEST'],
  },
  [`GET ${MONITOR_PREFIX}/events/stream`]: {
    operationId: 'streamEvents',
    tag: 'events',
    summary: "The nodes' events as Server-Sent Events, live",
    description:
      'Each event is one `data:` line of JSON (a FleetEvent) with `id:` = the per-node cursor after it (`node:position,…`) and `event:` = its type. ' +
      'Reconnect with `Last-Event-ID` to resume with no gap and no duplicate.',
    query: streamQuery,
    headers: [{ name: 'Last-Event-ID', description: 'Resume after these node positions; wins over `after`.', schema: z.string().max(20_000) }],
    responses: { 200: { description: 'An endless text/event-stream', media: { type: 'text/event-stream' } } },
    errors: ['BAD_REQUEST', 'UNAVAILABLE'],
  },
};
