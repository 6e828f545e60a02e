import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pino from 'pino';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bulkEvents, dbOf } from '../helpers/db.ts';
import { waitFor } from '../helpers/webrtc.ts';
import { within } from '../helpers/wait.ts';
import { headPosition } from '../../src/log/read.ts';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { openSse, parseFrame } from '../helpers/sse.ts';
import { feedClients, MAX_FEED_CLIENTS } from '../../src/http/routes/events.ts';
import type { NewEvent } from '../../src/log/catalogue.ts';

const EVENTS = '/api/v0/mcp/monitor/webrtc/events';

const created = (id: string): NewEvent => ({ type: 'connection.created', data: { connection_id: id } });
const changed = (from: string, to: string): NewEvent => ({ type: 'connection.state_changed', data: { kind: 'connection', from, to } });
const failed = (message: string): NewEvent => ({ type: 'connection.error', data: { code: 'TEST', message } });

// A real collection before each heap reading, so the numbers compare live objects, not garbage.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const liveHeap = () => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

async function appendMany(server: TestServer, stream: string, count: number, make: (i: number) => NewEvent) {
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => make(i + j));
    await server.services.store.append(stream, batch);
  }
}

// ---------------------------------------------------------------------------
const page = suite('GET /events');

page('pages through the log by position with no gap and no repeat', async () => {
  const server = await startTestServer();
  try {
    await appendMany(server, 'connection:a', 25, (i) => (i === 0 ? created('a') : failed(`e${i}`)));
    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; pages < 5; pages++) {
      const body = await (await server.api(`${EVENTS}?after=${after}&limit=10`)).json();
      seen.push(...body.events.map((e: { position: number }) => e.position));
      assert.is(body.head_position, 25);
      after = body.next_after;
      if (!body.has_more) break;
    }
    assert.equal(seen, Array.from({ length: 25 }, (_, i) => i + 1));
    assert.is(after, 25);
    const empty = await (await server.api(`${EVENTS}?after=25`)).json();
    assert.is(empty.count, 0);
    assert.is(empty.next_after, 25);
  } finally {
    await server.stop();
  }
});

page('reads a timeline backwards with before: newest first, page by page, with no gap and no repeat', async () => {
  const server = await startTestServer();
  try {
    await appendMany(server, 'connection:a', 30, (i) => (i === 0 ? created('a') : i % 3 === 0 ? failed(`e${i}`) : changed('new', `s${i}`)));
    await appendMany(server, 'connection:b', 5, () => failed('other'));
    const want = dbOf(server.services)
      .prepare("SELECT position FROM events WHERE stream = 'connection:a' AND type = 'connection.error' ORDER BY position DESC")
      .pluck()
      .all() as number[];
    assert.is(want.length, 9);
    const seen: number[] = [];
    let before = 1_000_000;
    for (let pages = 0; pages < 10; pages++) {
      const body = await (await server.api(`${EVENTS}?stream=connection:a&type=connection.error&before=${before}&limit=4`)).json();
      assert.ok(body.count <= 4 && body.next_after === undefined);
      seen.push(...body.events.map((e: { position: number }) => e.position));
      before = body.next_before;
      if (!body.has_more) break;
    }
    assert.equal(seen, want);
    // The whole log backwards from a position, down to `after` (exclusive).
    const slice = await (await server.api(`${EVENTS}?before=21&after=15&limit=100`)).json();
    assert.equal(slice.events.map((e: { position: number }) => e.position), [20, 19, 18, 17, 16]);
    assert.equal([slice.next_before, slice.has_more, slice.head_position], [16, false, 35]);
    const none = await (await server.api(`${EVENTS}?before=1`)).json();
    assert.equal([none.count, none.has_more], [0, false]);
    const bad = await server.api(`${EVENTS}?before=-1`);
    assert.is(bad.status, 400);
  } finally {
    await server.stop();
  }
});

page('filters by stream, by kind and by type', async () => {
  const server = await startTestServer();
  try {
    await server.services.store.append('connection:a', [created('a'), changed('new', 'connecting')]);
    await server.services.store.append('connection:b', [created('b')]);
    await server.services.runner.run('probe', {}, async () => 1);
    const get = async (q: string) => (await (await server.api(`${EVENTS}?${q}`)).json()).events as { stream: string; type: string }[];

    const a = await get('stream=connection:a');
    assert.equal(a.map((e) => e.type), ['connection.created', 'connection.state_changed']);
    const connections = await get('kind=connection');
    assert.equal(new Set(connections.map((e) => e.stream)), new Set(['connection:a', 'connection:b']));
    const operations = await get('stream_prefix=operation:');
    assert.ok(operations.length >= 2);
    assert.ok(operations.every((e) => e.stream.startsWith('operation:')));
    const types = await get('type=connection.created,operation.completed');
    assert.equal(types.map((e) => e.type).sort(), ['connection.created', 'connection.created', 'operation.completed']);
  } finally {
    await server.stop();
  }
});

page('answers 400 problem+json for an unknown type, a bad position or two filters at once', async () => {
  const server = await startTestServer();
  try {
    for (const q of ['type=connection.nope', 'after=-1', 'after=abc', 'limit=0', 'stream=a&kind=task', 'kind=bogus']) {
      const res = await server.api(`${EVENTS}?${q}`);
      assert.is(res.status, 400, q);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.is((await res.json()).code, 'BAD_REQUEST');
    }
  } finally {
    await server.stop();
  }
});

page.run();

// ---------------------------------------------------------------------------
const stream = suite('GET /events/stream');

stream('delivers events as they are appended, with the log position as id', async () => {
  const server = await startTestServer();
  await server.services.store.append('connection:old', [created('old')]);
  const feed = await openSse(server.url + `${EVENTS}/stream`);
  try {
    assert.is(feed.status, 200);
    assert.match(feed.headers.get('content-type') ?? '', /^text\/event-stream/);
    // Without a position the feed starts at the head: live events only.
    await feed.waitFor((fs) => fs.some((f) => f.retry !== null));
    const result = await server.services.store.append('connection:new', [created('new'), changed('new', 'connecting')]);
    assert.ok(result.ok);
    // The feed is woken by the commit (no polling period to wait out); the timeout only bounds the wait.
    await feed.waitForEvents(2, 10_000);
    const frames = feed.frames.filter((f) => f.data !== null);
    assert.equal(frames.map((f) => Number(f.id)), [result.ok ? result.firstPosition : 0, result.ok ? result.lastPosition : 0]);
    assert.equal(feed.events().map((e) => e.type), ['connection.created', 'connection.state_changed']);
  } finally {
    feed.close();
    await server.stop();
  }
});

stream('resumes after Last-Event-ID with no gap and no duplicate', async () => {
  const server = await startTestServer();
  try {
    await appendMany(server, 'connection:r', 5, (i) => (i === 0 ? created('r') : failed(`first ${i}`)));
    const first = await openSse(server.url + `${EVENTS}/stream?after=0`);
    await first.waitForEvents(3);
    const lastSeen = first.frames.filter((f) => f.data !== null)[2].id!;
    first.close();
    await first.ended;

    // Appended while nobody is listening.
    await appendMany(server, 'connection:r', 5, (i) => failed(`second ${i}`));
    // `after` says 0, as EventSource would resend it; the header must win.
    const second = await openSse(server.url + `${EVENTS}/stream?after=0`, { 'Last-Event-ID': lastSeen });
    await second.waitForEvents(7);
    await server.services.store.append('connection:r', [failed('live')]);
    await second.waitForEvents(8);
    second.close();
    const ids = second.frames.filter((f) => f.data !== null).map((f) => Number(f.id));
    assert.equal(ids, [4, 5, 6, 7, 8, 9, 10, 11]);
  } finally {
    await server.stop();
  }
});

stream('names each frame by its event type, with the data line as before', async () => {
  const server = await startTestServer();
  const feed = await openSse(server.url + `${EVENTS}/stream?after=0`);
  try {
    await server.services.store.append('connection:n', [created('n'), changed('new', 'connecting'), failed('boom')]);
    await feed.waitForEvents(3);
    const frames = feed.frames.filter((f) => f.data !== null);
    assert.equal(frames.map((f) => f.event), ['connection.created', 'connection.state_changed', 'connection.error']);
    assert.equal(frames.map((f) => JSON.parse(f.data!).type), frames.map((f) => f.event));
    assert.equal(frames.map((f) => Number(f.id)), [1, 2, 3]);
    // Comments and the retry line are not events: they carry no name.
    assert.ok(feed.frames.filter((f) => f.data === null).every((f) => f.event === null));
  } finally {
    feed.close();
    await server.stop();
  }
});

stream('refuses a Last-Event-ID or an after past the end of the log with 400 before the stream starts', async () => {
  const server = await startTestServer();
  try {
    await server.services.store.append('connection:p', [created('p'), changed('new', 'connecting')]);
    for (const [path, headers] of [
      [`${EVENTS}/stream`, { 'Last-Event-ID': '3' }],
      [`${EVENTS}/stream?after=0`, { 'Last-Event-ID': '900' }],
      [`${EVENTS}/stream?after=3`, {}],
      [`${EVENTS}?after=3`, {}],
    ] as const) {
      const res = await server.api(path, { headers });
      assert.is(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = await res.json();
      assert.is(problem.code, 'POSITION_BEYOND_LOG');
      assert.equal(problem.errors, { head_position: 2 });
      assert.match(problem.detail, /past the end of this log \(its head is 2\)/);
    }
    assert.is(feedClients(server.services).length, 0);
    // The head itself is a position of this log: the page is empty, the feed waits there for what comes next.
    const atHead = await (await server.api(`${EVENTS}?after=2`)).json();
    assert.equal([atHead.count, atHead.head_position], [0, 2]);
    const feed = await openSse(server.url + `${EVENTS}/stream`, { 'Last-Event-ID': '2' });
    try {
      assert.is(feed.status, 200);
      await server.services.store.append('connection:p', [failed('next')]);
      await feed.waitForEvents(1);
      assert.equal(feed.events().map((e) => e.position), [3]);
    } finally {
      feed.close();
    }
  } finally {
    await server.stop();
  }
});

stream('follows only the events a filter selects', async () => {
  const server = await startTestServer();
  const feed = await openSse(server.url + `${EVENTS}/stream?after=0&stream=connection:x&type=connection.state_changed`);
  try {
    await server.services.store.append('connection:y', [created('y'), changed('new', 'connecting')]);
    const last = await server.services.store.append('connection:x', [created('x'), changed('new', 'connecting'), changed('connecting', 'connected')]);
    assert.ok(last.ok);
    // The feed is in log order: once the last event appended has arrived,
    // anything the filter wrongly let through (all of it earlier) has too.
    await feed.waitFor((fs) => fs.some((f) => Number(f.id) === (last.ok ? last.lastPosition : -1)));
    assert.equal(feed.events().map((e) => [e.stream, e.type, e.data.to]), [
      ['connection:x', 'connection.state_changed', 'connecting'],
      ['connection:x', 'connection.state_changed', 'connected'],
    ]);
  } finally {
    feed.close();
    await server.stop();
  }
});

stream('refuses a Last-Event-ID that is not a position', async () => {
  const server = await startTestServer();
  try {
    const res = await server.api(`${EVENTS}/stream`, { headers: { 'Last-Event-ID': 'abc' } });
    assert.is(res.status, 400);
    assert.is((await res.json()).code, 'BAD_REQUEST');
    assert.is(feedClients(server.services).length, 0);
  } finally {
    await server.stop();
  }
});

stream('sends a heartbeat comment while the log is idle', async () => {
  const server = await startTestServer();
  const feed = await openSse(server.url + `${EVENTS}/stream?heartbeat_ms=1000`);
  try {
    await feed.waitFor((fs) => fs.some((f) => f.comment?.startsWith('heartbeat')), 3000);
  } finally {
    feed.close();
    await server.stop();
  }
});

stream('holds a bounded buffer for a client that stops reading, then catches it up in order', async () => {
  const server = await startTestServer();
  const socket = connect({ host: '127.0.0.1', port: server.port });
  // Never read until told to: the kernel buffers fill and the server must wait.
  socket.pause();
  try {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // HTTP/1.0, so the body is the raw stream without chunked framing.
    socket.write(`GET ${EVENTS}/stream?after=0 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
    await waitFor(() => feedClients(server.services).length === 1, 10_000, 'the feed client');

    const total = 6000;
    const payload = 'x'.repeat(2000);
    const heapBefore = liveHeap();
    await appendMany(server, 'connection:slow', total, (i) => (i === 0 ? created('slow') : failed(`${i} ${payload}`)));
    // Everything is committed; the feed has read as far as it will: it waits for the socket to drain.
    const [client] = await waitFor(() => {
      const clients = feedClients(server.services);
      return clients[0]?.waitingForDrain ? clients : null;
    }, 10_000, 'the feed to wait for the client to read');
    const heapGrowth = liveHeap() - heapBefore;
    // ~12 MB went into the log; the server read only as far as the socket took.
    assert.ok(client.cursor < total, `server read ahead to ${client.cursor} of ${total}`);
    assert.ok(client.maxBufferedBytes < 256 * 1024, `buffered ${client.maxBufferedBytes} bytes for one client`);
    assert.ok(heapGrowth < 2 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);

    // Now read everything: every position once, in order.
    let text = '';
    const ids: number[] = [];
    socket.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`caught up to ${ids.at(-1)} only`)), 10_000);
      socket.on('data', (chunk: string) => {
        text += chunk;
        let at: number;
        while ((at = text.indexOf('\n\n')) >= 0) {
          const frame = parseFrame(text.slice(0, at));
          text = text.slice(at + 2);
          if (frame.data !== null) ids.push(Number(frame.id));
        }
        // The detectors may append after them (connection `slow` never connects: slow_setup).
        if (ids.at(-1)! >= total) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.resume();
    });
    assert.ok(ids.length >= total);
    assert.ok(ids.every((id, i) => id === i + 1));
  } finally {
    socket.destroy();
    await server.stop();
  }
});

stream('answers 503 with Retry-After past the client limit, and takes clients again when one leaves', async () => {
  const server = await startTestServer({ maxConnections: 1000 });
  const feeds = await Promise.all(Array.from({ length: MAX_FEED_CLIENTS }, () => openSse(server.url + `${EVENTS}/stream`)));
  try {
    assert.ok(feeds.every((f) => f.status === 200));
    const refused = await server.api(`${EVENTS}/stream`);
    assert.is(refused.status, 503);
    assert.is(refused.headers.get('retry-after'), '5');
    assert.is((await refused.json()).code, 'UNAVAILABLE');
    feeds.pop()!.close();
    await waitFor(() => feedClients(server.services).length < MAX_FEED_CLIENTS, 10_000, 'the server to see the client leave');
    const again = await openSse(server.url + `${EVENTS}/stream`);
    assert.is(again.status, 200);
    feeds.push(again);
  } finally {
    for (const f of feeds) f.close();
    await server.stop();
  }
});

stream('does not hold up shutdown and leaves nothing behind', async () => {
  const server = await startTestServer();
  const feed = await openSse(server.url + `${EVENTS}/stream`);
  await feed.waitFor((fs) => fs.length > 0);
  assert.is(feedClients(server.services).length, 1);
  // An open feed never ends by itself: a shutdown that waited for it would never finish.
  await within(server.stop(), 20_000, 'shutdown with a feed open');
  await within(feed.ended, 10_000, 'the feed to end');
  assert.is(feedClients(server.services).length, 0);
});

stream.run();

// ---------------------------------------------------------------------------
const catchUp = suite('GET /events/stream catching up on a long log');

/** Readers in other processes, so they read as fast as curl and never share this event loop. */
function readers(url: string, until: number, count: number) {
  return Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../helpers/sseReader.ts'), url, String(until)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    const done = new Promise<{ frames?: number; last?: number; error?: unknown }>((resolve) => child.on('close', () => resolve(JSON.parse(out || '{"error":"no output"}'))));
    return { child, done };
  });
}

catchUp('answers other requests while clients read the log from position 0, and each client gets every event once, in order', async () => {
  const server = await startTestServer({ maxConnections: 1000 });
  const started: ReturnType<typeof readers> = [];
  try {
    const db = dbOf(server.services);
    bulkEvents(db, 100_000);
    const head = headPosition(db);
    started.push(...readers(`${server.url}${EVENTS}/stream?after=0`, head, 3));
    // Once the readers are streaming, other requests must still be answered
    // (before, one reader catching up held the event loop until it was done).
    await waitFor(() => feedClients(server.services).filter((c) => c.frames > 0).length === 3, 20_000, 'three readers streaming');
    for (let i = 0; i < 3; i++) {
      const res = await server.api(`${MONITOR_PREFIX}/summary`);
      assert.is(res.status, 200);
      await res.json();
      const behind = feedClients(server.services).filter((c) => c.cursor < head).length;
      assert.ok(behind > 0, `summary ${i + 1} was answered only when every reader had caught up`);
    }
    for (const r of await Promise.all(started.map((r) => r.done))) assert.equal(r, { frames: head, last: head });
  } finally {
    for (const r of started) r.child.kill();
    await server.stop();
  }
});

catchUp('scans a bounded window per read: a filter that matches nothing still lets the client (and others) move on', async () => {
  const server = await startTestServer();
  try {
    const db = dbOf(server.services);
    bulkEvents(db, 120_000, 10);
    await server.services.store.append('connection:rare', [created('rare')]);
    const head = headPosition(db);
    // One page of a rarely matching filter: it stops at the end of its window and says there is more.
    const first = (await (await server.api(`${EVENTS}?after=0&type=connection.created`)).json()) as { count: number; next_after: number; has_more: boolean };
    assert.equal([first.count, first.has_more], [0, true]);
    assert.ok(first.next_after > 0 && first.next_after < head);
    // Following it reaches the one match, in pages.
    let after = 0;
    let found: number[] = [];
    for (let pages = 0; pages < 100; pages++) {
      const page = (await (await server.api(`${EVENTS}?after=${after}&type=connection.created`)).json()) as { events: { position: number }[]; next_after: number; has_more: boolean };
      found.push(...page.events.map((e) => e.position));
      after = page.next_after;
      if (!page.has_more) break;
    }
    assert.equal(found, [head]);
    // The feed with the same filter delivers it too.
    const feed = await openSse(`${server.url}${EVENTS}/stream?after=0&type=connection.created`);
    try {
      await feed.waitForEvents(1, 10_000);
      assert.equal(feed.events().map((e) => e.position), [head]);
      assert.ok(feedClients(server.services)[0].turns > 1, 'the scan took several turns');
    } finally {
      feed.close();
    }
  } finally {
    await server.stop();
  }
});

catchUp('refuses feed clients past the limit without logging an error for each', async () => {
  const lines: { level: number; msg: string; err?: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const server = await startTestServer({ maxConnections: 1000 }, { logger });
  const feeds = await Promise.all(Array.from({ length: MAX_FEED_CLIENTS }, () => openSse(server.url + `${EVENTS}/stream`)));
  try {
    for (let i = 0; i < 20; i++) {
      const refused = await server.api(`${EVENTS}/stream`);
      assert.is(refused.status, 503);
      await refused.body?.cancel();
    }
    assert.equal(lines.filter((l) => l.level >= 40), [], 'nothing at warn or above');
    assert.ok(lines.every((l) => l.err === undefined), 'no stack');
  } finally {
    for (const f of feeds) f.close();
    await server.stop();
  }
});

catchUp.run();
