// The live event feed: the log itself, paged (`GET events`) or followed as
// Server-Sent Events (`GET events/stream`) whose ids are log positions, so a
// client that reconnects with Last-Event-ID resumes with no gap and no
// duplicate. Each SSE client pulls pages from the log at its own pace: nothing
// is queued per client, so a client that stops reading costs one page and the
// socket's buffer, however much the log grows meanwhile.
//
// No reader may hold the event loop. A client catching up from position 0 on
// a long log would otherwise read page after page in one go (a fast reader
// never makes the socket push back), and `summary` waited seconds behind
// it. Every page of every client is a turn given by one scheduler per server:
// turns run for at most FEED_TURN_BUDGET_MS, then the loop handles I/O before
// the next batch, each client getting one page per batch. Each read scans a
// bounded window of positions, so a filter that rarely matches cannot turn
// one page into a scan of the whole log.
import Router from '@koa/router';
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app.ts';
import { AppError } from '../../errors.ts';
import { unavailable } from '../../errors.ts';
import type { ReadLogOptions } from '../../log/store.ts';
import { EVENT_TYPES, STREAM_KINDS, type StoredEvent } from '../../log/catalogue.ts';
import { limitParam, parseQuery } from '../validate.ts';
import { MONITOR_PREFIX, publicEvent, publicEventJson } from './monitor.ts';
import { isoTime } from '../openapi/components.ts';
import { eventSchema } from '../openapi/events.ts';
import type { ApiSpec } from '../openapi/spec.ts';

/** Events read from the log per query when following it. */
export const FEED_PAGE = 100;
/** Positions one read may scan, whatever the filter (a feed turn, and one GET events page). */
export const SCAN_WINDOW = 5_000;
export const PAGE_SCAN_WINDOW = 50_000;
/** Feed work done per event-loop iteration before requests get their turn. */
export const FEED_TURN_BUDGET_MS = 4;
/** A client whose socket has not drained for this long is dropped (it reconnects with Last-Event-ID). */
export const FEED_STALL_DROP_MS = 120_000;
/** Concurrent SSE clients per server; each holds a socket and a small loop. */
export const MAX_FEED_CLIENTS = 200;
const DEFAULT_HEARTBEAT_MS = 15_000;
/** Sent once per stream: how long EventSource waits before reconnecting. */
const RETRY_MS = 2_000;

const positionParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const typeList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(EVENT_TYPES as [string, ...string[]])).min(1).max(EVENT_TYPES.length));

const filterShape = {
  stream: z.string().min(1).max(300).optional().meta({ description: 'Only this stream, e.g. `connection:<id>`.' }),
  stream_prefix: z.string().min(1).max(300).optional().meta({ description: 'Only streams starting with this, e.g. `connection:`.' }),
  kind: z.enum(STREAM_KINDS).optional().meta({ description: 'Only streams of this kind (same as stream_prefix=`<kind>:`).' }),
  type: typeList.optional().meta({ description: 'Comma-separated event types, e.g. `connection.state_changed,connection.closed`.' }),
};

const pageQuery = z.object({
  after: positionParam.default(0).meta({ description: 'Events after this log position (with `before`: the oldest position a page goes down to, exclusive).' }),
  before: positionParam
    .optional()
    .meta({
      description:
        'Newest first instead: events before this log position (a timeline read backwards; a position past the head reads from the newest event). ' +
        'Pass `next_before` for the page before.',
    }),
  limit: limitParam(1000, 100),
  ...filterShape,
});

const streamQuery = z.object({
  after: positionParam.optional().meta({ description: 'Start after this log position (default: the head, live events only).' }),
  heartbeat_ms: z.coerce.number().int().min(1000).max(60_000).default(DEFAULT_HEARTBEAT_MS),
  ...filterShape,
});

type Filter = Omit<ReadLogOptions, 'after' | 'limit'>;

function toFilter(q: { stream?: string; stream_prefix?: string; kind?: string; type?: string[] }): Filter {
  const given = [q.stream, q.stream_prefix, q.kind].filter((x) => x !== undefined).length;
  if (given > 1) throw new AppError('BAD_REQUEST', 'use one of stream, stream_prefix and kind');
  return {
    stream: q.stream,
    streamPrefix: q.stream_prefix ?? (q.kind ? `${q.kind}:` : undefined),
    types: q.type,
  };
}

/**
 * What the feed is doing, per server; read by /metrics and by tests.
 * `waitingForDrain`: the client's socket is full and the feed holds nothing
 * more until the client reads.
 */
export type FeedClient = { id: number; cursor: number; bufferedBytes: number; maxBufferedBytes: number; frames: number; turns: number; waitingForDrain: boolean };

/**
 * Runs turns (read a page, write it) for every feed client of a server, one
 * after the other, at most `budgetMs` of them per event-loop iteration:
 * between batches the loop polls I/O, so a request waits for one batch at
 * most. The SQLite store answers a read within the turn (its promise is
 * already settled), so a whole batch runs in one iteration, as it must for
 * the budget to mean anything.
 */
export class FeedScheduler {
  private queue: { turn: () => Promise<void>; fail: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly budgetMs = FEED_TURN_BUDGET_MS) {}

  /** Runs `turn` in a later batch; resolves with its result. A client queues its next turn only after this resolves. */
  run<T>(turn: () => Promise<T>): Promise<T> {
    return new Promise<T>((done, fail) => {
      this.queue.push({ turn: async () => done(await turn()), fail });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.batch);
      }
    });
  }

  private readonly batch = async () => {
    this.scheduled = false;
    const until = performance.now() + this.budgetMs;
    // Only the turns queued before this batch: their next ones come in the next batch.
    const now = this.queue;
    this.queue = [];
    let i = 0;
    for (; i < now.length; i++) {
      const t = now[i];
      try {
        await t.turn();
      } catch (err) {
        t.fail(err);
      }
      if (performance.now() >= until) break;
    }
    this.queue = [...now.slice(i + 1), ...this.queue];
    if (this.queue.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.batch);
    }
  };
}
const feeds = new WeakMap<Services, Set<FeedClient>>();
export function feedClients(services: Services): readonly FeedClient[] {
  return [...(feeds.get(services) ?? [])];
}

export function eventsRouter(services: Services): Router {
  const { store } = services;
  const router = new Router({ prefix: MONITOR_PREFIX });
  const clients = new Set<FeedClient>();
  feeds.set(services, clients);
  const scheduler = new FeedScheduler();
  let nextClientId = 1;

  router.get('/events', async (ctx) => {
    const q = parseQuery(ctx, pageQuery);
    const filter = toFilter(q);
    // Head first: everything up to it has been searched, even when no event matched.
    const head = await store.head();
    // One request scans a bounded window; a filter that matched nothing in it says so with has_more.
    if (q.after > head) throw beyondLog(q.after, head);
    if (q.before !== undefined) {
      // Backwards: the newest matching events below `before`, in a bounded
      // window under it (a timeline shown newest first, paging to older events).
      const top = Math.min(q.before - 1, head);
      const floor = Math.max(top - PAGE_SCAN_WINDOW, q.after, 0);
      const rows = top <= floor ? [] : await store.readLogRows({ ...filter, after: floor, until: top, limit: q.limit, descending: true });
      const full = rows.length === q.limit;
      // Where the page before starts: below the last shown, or below the
      // whole window when it was not full (nothing else in it matched).
      const nextBefore = full ? rows[rows.length - 1].position : floor + 1;
      ctx.type = 'application/json';
      ctx.body =
        `{"events":[${rows.map(publicEventJson).join(',')}],"count":${rows.length},"next_before":${nextBefore},` +
        `"has_more":${nextBefore - 1 > q.after},"head_position":${head},"timestamp":"${new Date().toISOString()}"}`;
      return;
    }
    const scannedTo = Math.min(head, q.after + PAGE_SCAN_WINDOW);
    const rows = await store.readLogRows({ ...filter, after: q.after, until: scannedTo, limit: q.limit });
    const full = rows.length === q.limit;
    const last = rows.length ? rows[rows.length - 1].position : q.after;
    // Where the next page starts. When this page was not full, nothing up to
    // the end of the scanned window matched beyond it.
    const nextAfter = full ? last : Math.max(last, scannedTo);
    ctx.type = 'application/json';
    ctx.body =
      `{"events":[${rows.map(publicEventJson).join(',')}],"count":${rows.length},"next_after":${nextAfter},` +
      `"has_more":${full || nextAfter < head},"head_position":${head},"timestamp":"${new Date().toISOString()}"}`;
  });

  router.get('/events/stream', async (ctx) => {
    const q = parseQuery(ctx, streamQuery);
    const filter = toFilter(q);
    const header = ctx.get('last-event-id').trim();
    let after: number;
    if (header !== '') {
      // EventSource resends the original URL (with its ?after=) and adds this
      // header when it reconnects, so the header wins.
      const parsed = positionParam.safeParse(header);
      if (!parsed.success || !/^\d+$/.test(header)) {
        throw new AppError('BAD_REQUEST', 'Last-Event-ID must be a log position (a non-negative integer)');
      }
      after = parsed.data;
    } else {
      after = q.after ?? (await store.head());
    }
    // A position past the head cannot be waited for: it comes from another
    // database (or one restored from an older copy), and positions there mean
    // other events. Refused before the stream starts: EventSource does not
    // reconnect after a 4xx, which is what its owner needs to notice.
    const head = await store.head();
    if (after > head) throw beyondLog(after, head);
    if (clients.size >= MAX_FEED_CLIENTS) {
      throw unavailable('UNAVAILABLE', `too many live feed clients (at most ${MAX_FEED_CLIENTS})`, 5);
    }

    if (ctx.method === 'HEAD') {
      // Headers only: a HEAD response has no body to follow the log into.
      ctx.status = 200;
      ctx.type = 'text/event-stream';
      return;
    }
    const client: FeedClient = { id: nextClientId++, cursor: after, bufferedBytes: 0, maxBufferedBytes: 0, frames: 0, turns: 0, waitingForDrain: false };
    clients.add(client);
    const res = openEventStream(ctx);
    try {
      await follow(res, client, filter, q.heartbeat_ms);
    } catch (err) {
      services.logger.error({ err, client: client.id }, 'live feed stopped on an error');
    } finally {
      clients.delete(client);
      if (!res.writableEnded) res.end();
    }
  });

  /** Streams the log from the client's cursor until the client goes away. */
  async function follow(res: ServerResponse, client: FeedClient, filter: Filter, heartbeatMs: number) {
    let gone = res.destroyed;
    // One wake-up for whatever the loop is waiting on: a commit, drain, close or heartbeat.
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const onClose = () => {
      gone = true;
      poke();
    };
    res.on('close', onClose);
    res.on('drain', poke);
    const unsubscribe = store.onCommit(poke);
    let idleSince = Date.now();
    const heartbeat = setInterval(() => {
      if (Date.now() - idleSince >= heartbeatMs) poke();
    }, Math.min(heartbeatMs, 5_000));
    heartbeat.unref();
    const sleep = () => new Promise<void>((resolve) => (wake = resolve));

    const write = (frame: string) => {
      const ok = res.write(frame);
      client.bufferedBytes = res.writableLength;
      client.maxBufferedBytes = Math.max(client.maxBufferedBytes, client.bufferedBytes);
      return ok;
    };

    /** One turn: a bounded read and its frames. Returns whether to take another at once. */
    const turn = async (): Promise<'more' | 'wait'> => {
      client.turns++;
      // Head first: every position up to it is committed, so a read bounded by it sees all of them.
      const head = await store.head();
      if (client.cursor >= head) return 'wait';
      const scanTo = Math.min(head, client.cursor + SCAN_WINDOW);
      const rows = await store.readLogRows({ ...filter, after: client.cursor, until: scanTo, limit: FEED_PAGE });
      let stoppedEarly = false;
      for (const row of rows) {
        if (gone) return 'wait';
        client.cursor = row.position;
        client.frames++;
        // Stop at the first full write: the rest of this page is read again later.
        if (!write(`id: ${row.position}\nevent: ${row.type}\ndata: ${publicEventJson(row)}\n\n`)) {
          stoppedEarly = true;
          break;
        }
      }
      // A page that was not full matched everything up to the end of its window.
      if (!stoppedEarly && rows.length < FEED_PAGE) client.cursor = Math.max(client.cursor, scanTo);
      if (rows.length) idleSince = Date.now();
      return client.cursor < head ? 'more' : 'wait';
    };

    try {
      write(`retry: ${RETRY_MS}\n: following the log after position ${client.cursor}\n\n`);
      while (!gone) {
        if (res.writableNeedDrain) {
          // The socket is full: wait for the client to read, holding nothing
          // more. One that never reads again is dropped (it can resume with
          // Last-Event-ID), so it does not keep a feed slot for ever.
          const stall = setTimeout(() => res.destroy(), FEED_STALL_DROP_MS);
          stall.unref();
          client.waitingForDrain = true;
          await sleep();
          client.waitingForDrain = false;
          clearTimeout(stall);
          client.bufferedBytes = res.writableLength;
          continue;
        }
        if ((await scheduler.run(turn)) === 'more') continue;
        if (Date.now() - idleSince >= heartbeatMs) {
          write(`: heartbeat ${new Date().toISOString()}\n\n`);
          idleSince = Date.now();
        }
        // Caught up: wait for a commit (or drain, close, heartbeat). A commit
        // after the last read may have poked nobody, so look once more, with
        // the wake-up already in place.
        const asleep = sleep();
        if ((await store.head()) > client.cursor) {
          wake = null;
          continue;
        }
        await asleep;
      }
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
      res.off('close', onClose);
      res.off('drain', poke);
    }
  }

  return router;
}

/**
 * One SSE frame: the id is the log position, the event name its type, the
 * data one line of JSON (the feed builds the same from stored rows). Type
 * names come from the catalogue, so they never hold a line break.
 */
export function frame(event: StoredEvent): string {
  // JSON.stringify escapes newlines inside strings, so the data is one line.
  return `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(publicEvent(event))}\n\n`;
}

/** A position this log has not reached: refused with the head to start again from. */
function beyondLog(after: number, head: number): AppError {
  return new AppError(
    'POSITION_BEYOND_LOG',
    `position ${after} is past the end of this log (its head is ${head}): it belongs to another database; start again from a position of this one (or none, for live events)`,
    { head_position: head },
  );
}

// ---- OpenAPI ----------------------------------------------------------------

export const eventsApi: ApiSpec = {
  [`GET ${MONITOR_PREFIX}/events`]: {
    operationId: 'listEvents',
    tag: 'events',
    summary: 'A page of the event log in position order, or newest first with `before`',
    description:
      'Forwards (default): events after `after`, oldest first; pass `next_after` as `after` for the next page. ' +
      'Backwards (`before` given): events before `before` (and after `after`), newest first; pass `next_before` as `before` for the page before. ' +
      'Either way one request scans a bounded window of positions, so a page may be short (even empty) with `has_more` true.',
    query: pageQuery,
    responses: {
      200: {
        description: 'A page of events',
        json: z.object({
          events: z.array(eventSchema),
          count: z.number().int().nonnegative(),
          next_after: z.number().int().nonnegative().optional().meta({ description: 'Reading forwards: pass as `after` for the next page.' }),
          next_before: z.number().int().nonnegative().optional().meta({ description: 'Reading backwards (`before` given): pass as `before` for the page before.' }),
          has_more: z
            .boolean()
            .meta({ description: 'Whether the log goes on past `next_after` (or below `next_before`, down to `after`): a rarely matching filter may have found nothing in this window.' }),
          head_position: z.number().int().nonnegative(),
          timestamp: isoTime,
        }),
      },
    },
    errors: ['BAD_REQUEST', 'POSITION_BEYOND_LOG'],
  },
  [`GET ${MONITOR_PREFIX}/events/stream`]: {
    operationId: 'streamEvents',
    tag: 'events',
    summary: 'The event log as Server-Sent Events, live',
    description:
      'Each event is one `data:` line of JSON (an Event) with `id:` = its log position and `event:` = its type ' +
      "(EventSource clients listen with `addEventListener('connection.state_changed', …)`; `onmessage` sees only unnamed events, so none). Reconnect with " +
      '`Last-Event-ID` (EventSource does) to resume with no gap and no duplicate. Without it, the feed starts ' +
      'at `after`, or at the head of the log. A position past the head of this log (one from another database) ' +
      'is refused with 400 `POSITION_BEYOND_LOG` (its `errors.head_position` says where the log ends) before the stream starts, ' +
      'which stops EventSource from reconnecting. Idle streams get a comment line as heartbeat.',
    query: streamQuery,
    headers: [
      { name: 'Last-Event-ID', description: 'Resume after this position; wins over `after`.', schema: z.string().regex(/^\d+$/) },
    ],
    responses: {
      200: { description: 'An endless text/event-stream; each data line is an Event', media: { type: 'text/event-stream' } },
    },
    errors: ['BAD_REQUEST', 'POSITION_BEYOND_LOG', 'UNAVAILABLE'],
  },
};

/** Takes the response over from Koa and starts an event stream on it (the node's feed and the fleet's). */
export function openEventStream(ctx: Context) {
  // Koa must not write a body; the response is ours from here.
  ctx.status = 200;
  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // Proxies such as nginx would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  ctx.req.socket.setNoDelay(true);
  return res;
}
