import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { headPosition } from '../../src/log/read.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';
import { dbOf, tempDir } from '../helpers/db.ts';
import { waitFor } from '../helpers/webrtc.ts';
import { makeLog } from '../../bench/make-log.ts';

let server: TestServer;
const get = async (path: string) => {
  const res = await server.api(`${MONITOR_PREFIX}${path}`);
  assert.ok(res.status < 500, `${path} answered ${res.status}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any };
};
const ok = async (path: string) => {
  const r = await get(path);
  assert.is(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r.body;
};
const problem = async (path: string, status: number, code: string) => {
  const r = await get(path);
  assert.is(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
  assert.match(r.type, 'application/problem+json');
  assert.is(r.body.code, code, path);
  assert.is(r.body.status, status);
  return r.body;
};
const db = () => dbOf(server.services);
const ids = (sql: string) => db().prepare(sql).pluck().all() as string[];

async function start() {
  server = await startTestServer({ debug: true, shutdownGraceMs: 0 });
  await appendSteps(server.services.store, realisticSteps(31, { minEvents: 1200 }), { seed: 31, maxBatch: 20, setNow: () => {} });
  const { runner, store: log } = server.services;
  await log.append('connection:doomed', [
    { type: 'connection.created', data: { connection_id: 'doomed' } },
    { type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'failed' } },
  ]);
  // Pending tasks that belong to connections (cancelled when the server stops).
  for (const connectionId of ['doomed', 'other']) {
    await runner.start('stuck', {}, (ctx) => ctx.task('wait', (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))), { connectionId, timeoutMs: 60_000 });
  }
  await runner.run('quick', {}, async () => 'ok');
  await runner.run('broken', {}, async () => {
    throw new Error('nope');
  });
}

const Summary = suite('GET summary');
Summary.before(start);
Summary.after(() => server.stop());

Summary('has every field of the original and its counters add up', async () => {
  const s = await ok('/summary');
  for (const k of ['uptime_seconds', 'timestamp', 'debug_mode', 'logging_enabled', 'connection_states', 'operation_stats', 'pending_tasks', 'event_count', 'log_position']) {
    assert.ok(k in s, k);
  }
  assert.is(s.debug_mode, true);
  assert.is(s.logging_enabled, false);
  assert.ok(!Number.isNaN(Date.parse(s.timestamp)) && s.timestamp.endsWith('Z'));
  const c = s.connection_states;
  assert.is(c.total, c.connected + c.disconnected + c.new + c.connecting + c.closed + c.failed);
  assert.is(c.total, ids('SELECT id FROM connections').length);
  assert.is(c.connected, ids("SELECT id FROM connections WHERE category = 'connected'").length);
  assert.ok(c.connected > 0 && c.closed > 0 && c.failed > 0);
  const o = s.operation_stats;
  assert.is(o.total, o.started + o.completed + o.failed + o.canceled);
  assert.is(o.total, ids('SELECT id FROM operations').length);
  // Pending: running tasks, and abandoned ones whose work has not settled.
  const abandoned = ids("SELECT id FROM tasks WHERE json_extract(state, '$.abandoned') = 1").length;
  assert.ok(abandoned > 0, 'the generated log has abandoned tasks');
  assert.is(s.abandoned_tasks, abandoned);
  assert.is(s.pending_tasks, ids("SELECT id FROM tasks WHERE status IN ('created', 'running')").length + abandoned);
  // How ended connections ended, beside the original's state counts.
  const outcomes = s.connection_outcomes;
  assert.equal(Object.keys(outcomes), ['clean', 'failed', 'shutdown', 'process_restart']);
  for (const [outcome, n] of Object.entries(outcomes)) assert.is(n, ids(`SELECT id FROM connections WHERE outcome = '${outcome}'`).length, outcome);
  assert.ok(outcomes.failed > 0 && outcomes.clean > 0);
  assert.is(s.stalled_connections, ids('SELECT id FROM connections WHERE stalled = 1').length);
  assert.ok(s.connection_stalls >= s.stalled_connections);
  assert.is(s.event_count, headPosition(db()));
  assert.is(s.log_position, headPosition(db()));
});

Summary('answers ?at= with the summary replayed up to then, and never ignores it', async () => {
  const head = headPosition(db());
  const mid = Math.floor(head / 2);
  const past = await ok(`/summary?at=${mid}`);
  assert.equal(past.as_of, { position: mid });
  assert.is(past.log_position, mid);
  assert.is(past.event_count, mid);
  assert.is(past.forwarder, null);
  const nowS = await ok('/summary');
  assert.is(nowS.as_of, null);
  assert.ok(past.connection_states.total < nowS.connection_states.total, 'fewer connections then than now');
  // The same instant by time: the last event recorded then.
  const recordedAt = (p: number) => db().prepare('SELECT recorded_at FROM events WHERE position = ?').pluck().get(p) as number;
  const byTime = await ok(`/summary?at=${new Date(recordedAt(mid)).toISOString()}`);
  assert.is(byTime.as_of, new Date(recordedAt(mid)).toISOString());
  assert.ok(byTime.log_position >= mid && recordedAt(byTime.log_position) === recordedAt(mid));
  await problem('/summary?at=yesterday', 400, 'BAD_REQUEST');
  const beyond = await problem(`/summary?at=${head + 10}`, 400, 'POSITION_BEYOND_LOG');
  assert.ok(beyond.errors.head_position >= head);
});

Summary.run();

const Bounded = suite('GET summary?at= past the replay bound');
Bounded('is refused with 400 TIME_TRAVEL_TOO_FAR naming the bound', async () => {
  const small = await startTestServer({ timeTravelMaxEvents: 5 });
  try {
    await small.services.store.append(
      'connection:a',
      Array.from({ length: 8 }, (_, i) => (i === 0 ? { type: 'connection.created', data: { connection_id: 'a' } } : { type: 'connection.error', data: { code: 'E', message: `e${i}` } }) as never),
    );
    const ok5 = await small.api(`${MONITOR_PREFIX}/summary?at=5`);
    assert.is(ok5.status, 200);
    assert.is((await ok5.json()).event_count, 5);
    const res = await small.api(`${MONITOR_PREFIX}/summary?at=6`);
    assert.is(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
    const body = await res.json();
    assert.is(body.code, 'TIME_TRAVEL_TOO_FAR');
    assert.equal(body.errors, { events: 6, max_events: 5 });
  } finally {
    await small.stop();
  }
});
Bounded.run();

const Connections = suite('GET connections');
Connections.before(start);
Connections.after(() => server.stop());

Connections('answers the map shape, open connections only by default', async () => {
  const body = await ok('/connections');
  assert.type(body.connections, 'object');
  assert.not.ok(Array.isArray(body.connections));
  const list = Object.entries(body.connections) as [string, any][];
  assert.is(body.count, list.length);
  assert.ok(list.length > 0);
  for (const [id, c] of list) {
    assert.is(c.id, id);
    assert.is.not(c.category, 'closed');
  }
  assert.is(list.length, ids("SELECT id FROM connections WHERE category <> 'closed'").length);
  assert.ok(body.timestamp);
});

Connections('filters with ?state= (one or several) and ?include_closed=', async () => {
  const closed = await ok('/connections?state=closed&limit=1000');
  assert.ok(closed.count > 0 && Object.values(closed.connections).every((c: any) => c.category === 'closed'));
  const two = await ok('/connections?state=connected,failed&limit=1000');
  assert.is(two.count, ids("SELECT id FROM connections WHERE category IN ('connected', 'failed')").length);
  const all = await ok('/connections?include_closed=true&limit=1000');
  assert.is(all.count, ids('SELECT id FROM connections').length);
  const notClosed = await ok('/connections?include_closed=false&limit=1000');
  assert.is(notClosed.count + closed.count, all.count);
});

Connections('filters ended connections by ?outcome= (closed ones included) and live ones by ?stalled=', async () => {
  const failed = await ok('/connections?outcome=failed&limit=1000');
  assert.is(failed.count, ids("SELECT id FROM connections WHERE outcome = 'failed'").length);
  assert.ok(failed.count > 0);
  for (const c of Object.values(failed.connections) as any[]) {
    assert.is(c.outcome, 'failed');
    assert.is(c.category, 'closed', 'a failure that was then closed');
  }
  const two = await ok('/connections?outcome=clean,shutdown&limit=1000');
  assert.is(two.count, ids("SELECT id FROM connections WHERE outcome IN ('clean', 'shutdown')").length);
  const stalled = await ok('/connections?stalled=true&limit=1000');
  assert.is(stalled.count, ids('SELECT id FROM connections WHERE stalled = 1').length);
  assert.ok(Object.values(stalled.connections).every((c: any) => c.stalled === true && c.stalled_since));
  const flowing = await ok('/connections?stalled=false&limit=1000');
  assert.is(flowing.count + stalled.count, ids("SELECT id FROM connections WHERE category <> 'closed'").length);
  await problem('/connections?outcome=exploded', 400, 'BAD_REQUEST');
  await problem('/connections?stalled=perhaps', 400, 'BAD_REQUEST');
});

Connections('pages with limit and cursor, newest first, with no gap and no repeat', async () => {
  const seen: string[] = [];
  let cursor = '';
  for (let i = 0; i < 100; i++) {
    const page = await ok(`/connections?include_closed=true&limit=9${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...Object.keys(page.connections));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  assert.equal(seen, ids('SELECT id FROM connections ORDER BY created_position DESC'));
});

Connections('answers 400 problem+json for bad query values', async () => {
  await problem('/connections?state=sleepy', 400, 'BAD_REQUEST');
  await problem('/connections?state=', 400, 'BAD_REQUEST');
  await problem('/connections?include_closed=maybe', 400, 'BAD_REQUEST');
  await problem('/connections?limit=0', 400, 'BAD_REQUEST');
  await problem('/connections?limit=abc', 400, 'BAD_REQUEST');
  await problem('/connections?limit=100000', 400, 'BAD_REQUEST');
  await problem('/connections?cursor=not-ours', 400, 'BAD_REQUEST');
  await problem(`/connections?cursor=${'x'.repeat(500)}`, 400, 'BAD_REQUEST');
  await problem('/connections?limit=1&limit=2', 400, 'BAD_REQUEST');
});

Connections('answers ?at= with each connection as it was then, filtered by what it was then', async () => {
  const head = headPosition(db());
  const mid = Math.floor(head / 2);
  const all = await ok(`/connections?at=${mid}&include_closed=true&limit=1000`);
  assert.equal(all.as_of, { position: mid });
  const existed = ids(`SELECT id FROM connections WHERE created_position <= ${mid} ORDER BY created_position DESC`);
  assert.equal(Object.keys(all.connections), existed);
  for (const c of Object.values(all.connections) as any[]) assert.ok(c.last_position <= mid, c.id);
  // Open then, though many are closed now.
  const open = await ok(`/connections?at=${mid}&limit=1000`);
  const openThen = (Object.values(all.connections) as any[]).filter((c) => c.category !== 'closed').map((c) => c.id);
  assert.equal(Object.keys(open.connections), openThen);
  assert.not.equal(Object.keys(open.connections), Object.keys((await ok('/connections?limit=1000')).connections));
  // One connection: the same as connections/:id?at=.
  const one = existed[0];
  const detail = await ok(`/connections/${encodeURIComponent(one)}?at=${mid}`);
  assert.equal(all.connections[one], detail.connection);
  // The default page, as without ?at=.
  assert.ok((await ok(`/connections?at=${mid}&include_closed=true`)).count <= 20);
  await problem('/connections?at=tomorrow', 400, 'BAD_REQUEST');
  await problem(`/connections?at=${head + 10}`, 400, 'POSITION_BEYOND_LOG');
  await problem(`/connections/${encodeURIComponent(one)}?at=${head + 10}`, 400, 'POSITION_BEYOND_LOG');
});

Connections.run();

const Streams = suite('GET streams, streams/:id');
Streams.before(start);
Streams.after(() => server.stop());

Streams('lists streams newest first with their viewers, filters by state and pages with a cursor', async () => {
  // More streams than one default page.
  for (let i = 0; i < 10; i++) {
    await server.services.store.append(`server:extra-${i}`, [{ type: 'server.created', data: { server_id: `extra-${i}`, content: 'sample.webm', mode: 'data', quality: 'low' } }]);
  }
  const body = await ok('/streams?limit=1000');
  assert.equal(body.streams.map((s: any) => s.id), ids('SELECT id FROM streams ORDER BY created_position DESC'));
  assert.ok(body.count > 3);
  // 20 by default, like every list.
  const first = await ok('/streams');
  assert.equal(first.streams.map((s: any) => s.id), body.streams.slice(0, 20).map((s: any) => s.id));
  assert.ok(body.count > 20 && first.count === 20 && first.next_cursor !== null);
  const live = await ok('/streams?state=live&limit=1000');
  assert.ok(live.count > 0 && live.streams.every((s: any) => s.state === 'live' && s.stopped_at === null));
  const stopped = await ok('/streams?state=stopped&limit=1000');
  assert.ok(stopped.count > 0 && stopped.streams.every((s: any) => s.state === 'stopped' && s.stopped_at));
  const both = await ok('/streams?state=live,stopped&limit=1000');
  assert.is(both.count, live.count + stopped.count);
  const seen: string[] = [];
  let cursor = '';
  for (let i = 0; i < 100; i++) {
    const page = await ok(`/streams?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.count <= 2);
    seen.push(...page.streams.map((s: any) => s.id));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  assert.equal(seen, body.streams.map((s: any) => s.id));
  await problem('/streams?state=paused', 400, 'BAD_REQUEST');
  await problem('/streams?cursor=nope', 400, 'BAD_REQUEST');
  await problem('/streams?limit=0', 400, 'BAD_REQUEST');
});

Streams('answers one stream whose viewer counts match its connections, and 404 for an unknown id', async () => {
  const busiest = db().prepare("SELECT id FROM streams ORDER BY json_extract(state, '$.viewers.total') DESC LIMIT 1").pluck().get() as string;
  const { stream } = await ok(`/streams/${encodeURIComponent(busiest)}`);
  const count = (where: string) => db().prepare(`SELECT count(*) FROM connections WHERE server_id = ? AND ${where}`).pluck().get(busiest) as number;
  assert.ok(stream.viewers.total > 0);
  assert.equal(stream.viewers, { now: count("category <> 'closed'"), connected: count("category = 'connected'"), stalled: count('stalled = 1'), total: count('1') });
  assert.is(stream.viewer_outcomes.failed, count("outcome = 'failed'"));
  assert.is(stream.viewer_outcomes.clean, count("outcome = 'clean'"));
  await problem('/streams/nope', 404, 'NOT_FOUND');
});

Streams.run();

const Detail = suite('GET connections/:id');
Detail.before(start);
Detail.after(() => server.stop());

const busiest = () =>
  db().prepare("SELECT substr(stream, 12) FROM events WHERE stream LIKE 'connection:%' GROUP BY stream ORDER BY count(*) DESC LIMIT 1").pluck().get() as string;

const lifecycle = <E extends { type: string }>(events: E[]) => events.filter((e) => e.type !== 'connection.stats_sampled');

Detail('answers the read model, its tasks and the 20 newest lifecycle events of its timeline', async () => {
  const id = busiest();
  const body = await ok(`/connections/${encodeURIComponent(id)}`);
  assert.is(body.connection.id, id);
  for (const k of ['connection_state', 'ice_connection_state', 'tracks', 'data_channels', 'errors', 'latest_stats', 'category']) assert.ok(k in body.connection, k);
  assert.ok(Array.isArray(body.tasks));
  assert.is(body.as_of, null);
  const events = await server.services.store.readStream(`connection:${id}`);
  const newest = lifecycle(events).slice(-20);
  assert.ok(events.length > newest.length, 'the busiest connection has stats samples');
  assert.equal(body.timeline.events.map((e: any) => e.position), newest.map((e) => e.position));
  assert.is(body.timeline.events[0].recorded_at, new Date(newest[0].recordedAt).toISOString());
  assert.is(body.timeline.next_after, null);
  const withStats = await ok(`/connections/${encodeURIComponent(id)}?include=stats&events_limit=5`);
  assert.equal(withStats.timeline.events.map((e: any) => e.position), events.slice(-5).map((e) => e.position));
});

Detail('pages its timeline with events_limit and events_after, stats samples with ?include=stats', async () => {
  const id = busiest();
  const all = await server.services.store.readStream(`connection:${id}`);
  const pages = async (query: string) => {
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const body = await ok(`/connections/${encodeURIComponent(id)}?events_limit=4&events_after=${after}${query}`);
      seen.push(...body.timeline.events.map((e: any) => e.version));
      if (body.timeline.next_after === null) break;
      after = body.timeline.next_after;
    }
    return seen;
  };
  assert.equal(await pages('&include=stats'), all.map((e) => e.version));
  assert.equal(await pages(''), lifecycle(all).map((e) => e.version));
  await problem(`/connections/${encodeURIComponent(id)}?include=everything`, 400, 'BAD_REQUEST');
});

Detail('travels in time with ?at= a log position or an ISO time', async () => {
  const id = busiest();
  const events = await server.services.store.readStream(`connection:${id}`);
  const mid = events[Math.floor(events.length / 2)];
  const byPosition = await ok(`/connections/${encodeURIComponent(id)}?at=${mid.position}&include=stats`);
  assert.is(byPosition.connection.last_position, mid.position);
  assert.is(byPosition.connection.version, mid.version);
  assert.equal(byPosition.as_of, { position: mid.position });
  assert.is(byPosition.timeline.events.at(-1).position, mid.position);
  const iso = new Date(events[0].recordedAt).toISOString();
  const byTime = await ok(`/connections/${encodeURIComponent(id)}?at=${iso}`);
  assert.is(byTime.as_of, iso);
  assert.ok(byTime.connection.last_position <= events.filter((e) => e.recordedAt <= events[0].recordedAt).at(-1)!.position);
  await problem(`/connections/${encodeURIComponent(id)}?at=2000-01-01T00:00:00Z`, 404, 'NOT_FOUND');
  await problem(`/connections/${encodeURIComponent(id)}?at=${events[0].position - 1}`, 404, 'NOT_FOUND');
  await problem(`/connections/${encodeURIComponent(id)}?at=yesterday`, 400, 'BAD_REQUEST');
  await problem(`/connections/${encodeURIComponent(id)}?at=2026-13-45T99:00:00Z`, 400, 'BAD_REQUEST');
  await problem(`/connections/${encodeURIComponent(id)}?at=2026-02-30T00:00:00Z`, 400, 'BAD_REQUEST');
  await problem(`/connections/${encodeURIComponent(id)}?at=${iso.slice(0, 19)}`, 400, 'BAD_REQUEST');
  const offset = new Date(events[0].recordedAt + 3_600_000).toISOString().replace('Z', '+01:00');
  assert.is((await ok(`/connections/${encodeURIComponent(id)}?at=${encodeURIComponent(offset)}`)).as_of, iso, 'an offset names the same instant');
});

Detail('finds ids with hostile characters and answers 404 for unknown ones', async () => {
  await server.services.store.append('connection:../../x %/?#', [{ type: 'connection.created', data: { connection_id: '../../x %/?#' } }]);
  const body = await ok(`/connections/${encodeURIComponent('../../x %/?#')}`);
  assert.is(body.connection.id, '../../x %/?#');
  const p = await problem('/connections/no-such-connection', 404, 'NOT_FOUND');
  assert.match(p.detail, 'no-such-connection');
  await problem(`/connections/${encodeURIComponent(busiest())}?events_limit=0`, 400, 'BAD_REQUEST');
});

Detail.run();

const Cached = suite('the monitor response cache');
Cached.before(start);
Cached.after(() => server.stop());

Cached('answers the same path and query again from the cache while the log stands still, with a fresh timestamp', async () => {
  const cache = server.services.responseCache!;
  const path = `/connections/${encodeURIComponent(busiest())}?events_limit=7`;
  const first = await ok(path);
  const hits = cache.hits;
  const again = await ok(path);
  assert.is(cache.hits, hits + 1);
  const { timestamp: _a, ...firstRest } = first;
  const { timestamp: _b, ...againRest } = again;
  assert.equal(againRest, firstRest);
  assert.ok(again.timestamp >= first.timestamp);
});

Cached('shows an append in the very next read (the log position is part of the key)', async () => {
  const id = busiest();
  const path = `/connections/${encodeURIComponent(id)}`;
  const before = await ok(path);
  await ok('/operations?status=all');
  const appended = await server.services.store.append(`connection:${id}`, [
    { type: 'connection.error', data: { code: 'CACHE_TEST', message: 'seen at once', fatal: false } },
  ]);
  assert.ok(appended.ok);
  const after = await ok(path);
  assert.is(after.connection.error_count, before.connection.error_count + 1);
  assert.is(after.timeline.events.at(-1).data.code, 'CACHE_TEST');
  assert.is(after.connection.last_position, appended.ok ? appended.lastPosition : 0);
});

Cached('keeps nothing for an answer that failed', async () => {
  const cache = server.services.responseCache!;
  const count = cache.count;
  await problem('/connections/no-such-connection-here', 404, 'NOT_FOUND');
  await problem('/operations?limit=0', 400, 'BAD_REQUEST');
  assert.is(cache.count, count);
});

Cached.run();

const Operations = suite('GET operations');
Operations.before(start);
Operations.after(() => server.stop());

Operations('lists active operations by default, as the original did', async () => {
  const body = await ok('/operations');
  assert.ok(body.count > 0);
  assert.ok(body.operations.every((o: any) => o.status === 'running'));
  assert.is(body.count, ids("SELECT id FROM operations WHERE status = 'running'").length);
  assert.equal((await ok('/operations?status=active')).operations, body.operations);
  assert.equal((await ok('/operations?status=started')).operations, body.operations);
});

Operations('accepts every status word, the original spelling canceled, and all', async () => {
  const count = (status: string) => ids(`SELECT id FROM operations WHERE status = '${status}'`).length;
  for (const s of ['completed', 'failed', 'cancelled', 'running']) {
    const body = await ok(`/operations?status=${s}&limit=1000`);
    assert.is(body.count, count(s), s);
    assert.ok(body.operations.every((o: any) => o.status === s));
  }
  assert.is((await ok('/operations?status=canceled&limit=1000')).count, count('cancelled'));
  assert.is((await ok('/operations?status=failed,canceled&limit=1000')).count, count('failed') + count('cancelled'));
  assert.is((await ok('/operations?status=active,failed&limit=1000')).count, count('running') + count('failed'));
  assert.is((await ok('/operations?status=all&limit=1000')).count, ids('SELECT id FROM operations').length);
  assert.ok((await ok('/operations?status=all&type=quick')).operations.every((o: any) => o.type === 'quick'));
  await problem('/operations?status=exploded', 400, 'BAD_REQUEST');
});

Operations('pages with limit and cursor', async () => {
  const all = ids('SELECT id FROM operations ORDER BY created_position DESC');
  const seen: string[] = [];
  let cursor = '';
  for (let i = 0; i < 100; i++) {
    const page = await ok(`/operations?status=all&limit=11${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...page.operations.map((o: any) => o.id));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  assert.equal(seen, all);
});

Operations('answers one operation with its tasks, and 404 for an unknown id', async () => {
  const id = ids("SELECT id FROM operations WHERE type = 'broken'")[0];
  const body = await ok(`/operations/${id}`);
  assert.is(body.operation.id, id);
  assert.is(body.operation.status, 'failed');
  assert.equal(body.operation.error, { code: 'INTERNAL', message: 'nope' });
  assert.equal(body.tasks.map((t: any) => [t.name, t.status]), [['run', 'failed']]);
  await problem('/operations/00000000-0000-0000-0000-000000000000', 404, 'NOT_FOUND');
});

Operations.run();

const Tasks = suite('GET tasks');
Tasks.before(start);
Tasks.after(() => server.stop());

Tasks('groups pending tasks by connection, as the original did', async () => {
  const body = await ok('/tasks?limit=1000');
  const groups = Object.entries(body.pending_tasks) as [string, any[]][];
  assert.ok(groups.length >= 3, 'none, doomed, other');
  assert.is(body.pending_tasks.doomed.length, 2, 'run and wait');
  let n = 0;
  for (const [connection, tasks] of groups) {
    for (const t of tasks) {
      assert.is(t.connection_id ?? 'none', connection);
      // Pending: still holding work, abandoned work included.
      assert.ok(t.status === 'created' || t.status === 'running' || t.abandoned === true, JSON.stringify(t));
      n++;
    }
  }
  assert.is(n, body.count);
  assert.is(n, ids("SELECT id FROM tasks WHERE status IN ('created', 'running') OR abandoned = 1").length);
  assert.is(n, (await ok('/summary')).pending_tasks, 'the same count as the summary');
  assert.equal(body.statuses, ['created', 'running', 'abandoned']);
});

Tasks('answers history with ?status=, including all, and refuses unknown words', async () => {
  const timedOut = await ok('/tasks?status=timed_out&limit=1000');
  assert.is(timedOut.pending_tasks, undefined);
  assert.is(timedOut.count, ids("SELECT id FROM tasks WHERE status = 'timed_out'").length);
  assert.ok(Object.values(timedOut.tasks).flat().every((t: any) => t.status === 'timed_out'));
  assert.is((await ok('/tasks?status=all&limit=1000')).count, ids('SELECT id FROM tasks').length);
  assert.is((await ok('/tasks?status=pending&limit=1000')).count, ids("SELECT id FROM tasks WHERE status IN ('created', 'running') OR abandoned = 1").length);
  const abandoned = await ok('/tasks?status=abandoned&limit=1000');
  assert.ok(abandoned.count > 0);
  assert.is(abandoned.count, ids("SELECT id FROM tasks WHERE json_extract(state, '$.abandoned') = 1").length);
  assert.ok(Object.values(abandoned.tasks).flat().every((t: any) => t.abandoned === true && ['timed_out', 'cancelled'].includes(t.status)));
  const conn = ids('SELECT connection_id FROM tasks WHERE connection_id IS NOT NULL LIMIT 1')[0];
  const byConn = await ok(`/tasks?status=all&connection_id=${encodeURIComponent(conn)}`);
  assert.equal(Object.keys(byConn.tasks), [conn]);
  await problem('/tasks?status=done', 400, 'BAD_REQUEST');
});

Tasks.run();

const Export = suite('POST export');
Export.before(start);
Export.after(() => server.stop());

Export('writes the connections/ and operations/ layout beside the database, as an operation', async () => {
  const res = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST' });
  const body = (await res.json()) as any;
  assert.is(res.status, 200, JSON.stringify(body));
  assert.is(body.success, true);
  const out = join(server.dir, 'exports');
  assert.is(body.out, out);
  const connections = readdirSync(join(out, 'connections'));
  const operations = readdirSync(join(out, 'operations'));
  assert.is(connections.length, body.connections);
  assert.is(connections.length, ids('SELECT id FROM connections').length);
  // The export operation itself was still running when the operations were listed.
  assert.is(operations.length, body.operations);
  for (const f of [...connections.map((f) => join(out, 'connections', f)), ...operations.map((f) => join(out, 'operations', f))].slice(0, 50)) {
    JSON.parse(readFileSync(f, 'utf8'));
  }
  const op = await ok(`/operations/${body.operation_id}`);
  assert.is(op.operation.type, 'export');
  assert.is(op.operation.status, 'completed');
});

Export('takes since and connection_id, and refuses a wrong body with 422', async () => {
  const id = busiest();
  const res = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST', json: { connection_id: id } });
  const body = (await res.json()) as any;
  assert.is(res.status, 200, JSON.stringify(body));
  assert.is(body.connections, 1);
  const future = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST', json: { since: '2999-01-01T00:00:00Z' } });
  const f = (await future.json()) as any;
  assert.equal([f.connections, f.operations], [0, 0]);
  for (const json of [{ since: 'yesterday' }, { connection_id: 5 }, { surprise: true }, [1, 2], 'text']) {
    const r = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST', json });
    assert.is(r.status, 422, JSON.stringify(json));
    assert.is(((await r.json()) as any).code, 'VALIDATION_FAILED');
  }
});

Export('answers 202 with the operation to poll when asked to respond asynchronously, and the operation then completes', async () => {
  const res = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST', headers: { prefer: 'respond-async' } });
  const body = (await res.json()) as any;
  assert.is(res.status, 202, JSON.stringify(body));
  assert.is(res.headers.get('location'), `${MONITOR_PREFIX}/operations/${body.operation_id}`);
  assert.is(body.status, 'running');
  const op = await waitFor(async () => {
    const o = await ok(`/operations/${body.operation_id}`);
    return o.operation.status !== 'running' && o;
  }, 30_000, 'the export operation');
  assert.is(op.operation.status, 'completed');
  assert.ok(op.operation.result.files > 0);
});

Export.run();

const Exports = suite('POST export at its limit');

Exports('refuses an export past maxConcurrentExports with 503 and Retry-After while one runs, and takes one again after', async () => {
  const { dir, cleanup } = tempDir('wrm-exports-');
  makeLog(20_000, join(dir, 'monitor.db'));
  const limited = await startTestServer({ maxConcurrentExports: 1 }, { keepDir: dir });
  try {
    const first = await limited.api(`${MONITOR_PREFIX}/export`, { method: 'POST', headers: { prefer: 'respond-async' } });
    const { operation_id: id } = (await first.json()) as { operation_id: string };
    assert.is(first.status, 202);
    const second = await limited.api(`${MONITOR_PREFIX}/export`, { method: 'POST' });
    const problem = (await second.json()) as { code: string };
    assert.is(second.status, 503);
    assert.is(problem.code, 'UNAVAILABLE');
    assert.ok(Number(second.headers.get('retry-after')) > 0);
    const status = async () => ((await (await limited.api(`${MONITOR_PREFIX}/operations/${id}`)).json()) as { operation: { status: string } }).operation.status;
    assert.is(await status(), 'running', 'the first export was still running when the second was refused');
    await waitFor(async () => (await status()) !== 'running', 60_000, 'the first export');
    const third = await limited.api(`${MONITOR_PREFIX}/export`, { method: 'POST', headers: { prefer: 'respond-async' } });
    assert.is(third.status, 202);
    await third.body?.cancel();
  } finally {
    await limited.stop();
    cleanup();
  }
});

Exports.run();
