// The WebRTC controller routes against a real server, with real werift
// viewers on the other side: each route's answer, its 4xx paths, and that bad
// input leaves nothing in the log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_DIR, MONITOR, WEBRTC, offerSdp, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { dbOf, tempDir } from '../helpers/db.ts';
import type { Viewer } from '../../src/webrtc/viewer.ts';
import { CHUNK_BYTES } from '../../src/webrtc/dataSource.ts';

let server: WebRtcTestServer;
const viewers: Viewer[] = [];
/** Events a request could have caused: live connections keep recording their own samples meanwhile, so their streams do not count. */
const eventCount = () => dbOf(server.services).prepare("SELECT count(*) FROM events WHERE stream NOT LIKE 'connection:%'").pluck().get() as number;
const connect = async (body: Record<string, unknown> = {}, expect: 'media' | 'data' = 'media') => {
  const stream = await server.stream(body);
  const viewer = await server.viewer(stream.whep_url, expect);
  viewers.push(viewer);
  return { stream, viewer };
};
async function setup() {
  server = await startWebRtcServer({ enableTestRoutes: true, maxBenchmarkViewers: 3 });
}
async function teardown() {
  await Promise.all(viewers.map((v) => v.leave().catch(() => {})));
  await server.stop();
}

const check = suite('GET check');
check.before(setup);
check('reports the real werift version, its codecs and the content directory', async () => {
  const r = await server.json(`${WEBRTC}/check`);
  assert.is(r.status, 200);
  assert.is(r.body.success, true);
  assert.is(r.body.webrtc.version, '0.24.4');
  // Read from the installed werift's file player, which plays the sample clip's VP8 and Opus.
  assert.equal(r.body.webrtc.playable_source_codecs, ['video/h264', 'video/vp8', 'video/vp9', 'video/av1x', 'audio/opus']);
  // From the configuration a server peer is built with, and the running config.
  assert.equal(r.body.webrtc.ice, { lite: true, bundle_policy: 'max-bundle', servers: [], additional_host_addresses: ['127.0.0.1', 'all'] });
  assert.equal(r.body.webrtc.liveness, { stall_after_ms: 5000, consent_timeout_ms: 30_000, watchdog_tick_ms: 250 });
  assert.is(r.body.webrtc.stats_interval_ms, 250);
  const mimes = [...r.body.webrtc.codecs.video, ...r.body.webrtc.codecs.audio].map((c: { mime_type: string }) => c.mime_type.toLowerCase());
  assert.ok(mimes.includes('video/vp8') && mimes.includes('audio/opus'), mimes.join());
  assert.ok(r.body.content.files.some((f: { name: string; media: boolean }) => f.name === 'sample.webm' && f.media));
});
check("names the content directory without the host's absolute paths", async () => {
  const r = await server.json(`${WEBRTC}/check`);
  assert.is(r.body.content.directory, 'content');
  const text = JSON.stringify(r.body);
  assert.not.ok(text.includes(CONTENT_DIR), 'the absolute content path');
  assert.not.ok(/"\/[a-z]/i.test(text), 'no string that is an absolute path');
});
check('reports a missing content directory truthfully (success false), never a forced ok', async () => {
  const bare = await startWebRtcServer({ contentDir: '/nonexistent/content', stallAfterMs: 1234, consentTimeoutMs: 4321, iceAdditionalHostAddresses: [] });
  try {
    const r = await bare.json(`${WEBRTC}/check`);
    assert.is(r.status, 200);
    assert.is(r.body.success, false);
    // Another configuration, another report: nothing in it is written in.
    assert.equal(r.body.webrtc.liveness, { stall_after_ms: 1234, consent_timeout_ms: 4321, watchdog_tick_ms: 123 });
    assert.equal(r.body.webrtc.ice.additional_host_addresses, []);
    assert.is(r.body.status, 'degraded');
    assert.equal([r.body.content.exists, r.body.content.readable, r.body.content.files], [false, false, []]);
  } finally {
    await bare.stop();
  }
});
check.run();

const stream = suite('POST stream');
stream('creates a stream and answers absolute player and WHEP URLs', async () => {
  const r = await server.json(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm', quality: 'high' } });
  assert.is(r.status, 200);
  assert.is(r.body.success, true);
  assert.match(r.body.url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/player/${r.body.server_id}$`));
  assert.match(r.body.whep_url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+${WEBRTC}/whep/${r.body.server_id}$`));
  const op = await server.json(`${MONITOR}/operations/${r.body.operation_id}`);
  assert.is(op.body.operation.status, 'completed');
  assert.is(op.body.operation.type, 'stream');
});

stream('refuses bad input with a problem and writes nothing to the log', async () => {
  const before = eventCount();
  const cases: [unknown, number, string][] = [
    [{ content: 'sample.webm', quality: 'ultra' }, 422, 'VALIDATION_FAILED'],
    [{ content: 'sample.webm', mode: 'video' }, 422, 'VALIDATION_FAILED'],
    [{ content: 'sample.webm', extra: 1 }, 422, 'VALIDATION_FAILED'],
    [{}, 422, 'VALIDATION_FAILED'],
    [{ content: 'missing.webm' }, 404, 'CONTENT_NOT_FOUND'],
    [{ content: '../package.json', mode: 'data' }, 422, 'VALIDATION_FAILED'],
    [{ content: 'README.md', mode: 'media' }, 422, 'VALIDATION_FAILED'],
    [{ content: 'sample.webm', ice_servers: ['http://example.com'] }, 422, 'VALIDATION_FAILED'],
  ];
  for (const [json, status, code] of cases) {
    const r = await server.json(`${WEBRTC}/stream`, { method: 'POST', json });
    assert.is(r.status, status, JSON.stringify(json));
    assert.is(r.body.code, code, JSON.stringify(json));
    assert.is(r.headers.get('content-type'), 'application/problem+json');
  }
  const text = await server.json(`${WEBRTC}/stream`, { method: 'POST', body: 'content=sample.webm', headers: { 'content-type': 'text/plain' } });
  assert.is(text.status, 415);
  const broken = await server.json(`${WEBRTC}/stream`, { method: 'POST', body: '{"content":', headers: { 'content-type': 'application/json' } });
  assert.is(broken.status, 400);
  assert.is(eventCount(), before, 'no event was appended');
});

stream('answers 202 with a Location at once when the client prefers respond-async', async () => {
  const r = await server.json(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' }, headers: { prefer: 'respond-async' } });
  assert.is(r.status, 202);
  assert.is(r.body.status, 'running');
  // Accepted is all that is known: no `success` for work not done yet.
  assert.is(r.body.accepted, true);
  assert.not.ok('success' in r.body, JSON.stringify(r.body));
  assert.is(r.body.location, `${MONITOR}/operations/${r.body.operation_id}`);
  assert.is(r.headers.get('location'), `${MONITOR}/operations/${r.body.operation_id}`);
  assert.is(r.headers.get('preference-applied'), 'respond-async');
  assert.ok(r.body.server_id && r.body.whep_url);
  const done = await waitFor(async () => {
    const op = await server.json(r.headers.get('location')!);
    return op.body.operation.status === 'completed' ? op.body.operation : null;
  }, 5000, 'the stream operation');
  assert.is(done.result.server_id, r.body.server_id);
});
stream.run();

const connections = suite('GET connections and GET connections/:id/stats');
connections('lists live connections and gives a live getStats summary with bytes flowing', async () => {
  const { stream: s, viewer } = await connect();
  // The viewer may see `connected` a moment before the server does (DTLS's last flight).
  const mine = await waitFor(async () => {
    const list = await server.json(`${WEBRTC}/connections`);
    assert.is(list.status, 200);
    const c = list.body.find((c: { id: string }) => c.id === viewer.connectionId);
    return c?.connection_state === 'connected' ? c : null;
  }, 3000, 'the server side connected');
  assert.is(mine.server_id, s.server_id);
  const stats = await waitFor(async () => {
    const r = await server.json(`${WEBRTC}/connections/${viewer.connectionId}/stats`);
    return r.body.stats.bytes_sent > 0 && r.body.stats.frames_sent > 0 ? r.body.stats : null;
  }, 5000, 'bytes and frames sent');
  assert.is(stats.dtls_state, 'connected');
  assert.ok(stats.selected_pair.local.includes('udp'));
});
connections('answers 404 for an unknown id', async () => {
  const r = await server.json(`${WEBRTC}/connections/nope/stats`);
  assert.is(r.status, 404);
  assert.is(r.body.code, 'NOT_FOUND');
});
connections.run();

const close = suite('POST connections/:id/close');
close('closes the connection, records initiator local, and refuses a second close with 409', async () => {
  const { viewer } = await connect({}, 'media');
  const r = await server.json(`${WEBRTC}/connections/${viewer.connectionId}/close`, { method: 'POST' });
  assert.is(r.status, 200);
  assert.is(r.body.closed, true);
  const monitor = await server.json(`${MONITOR}/connections/${viewer.connectionId}`);
  assert.is(monitor.body.connection.category, 'closed');
  assert.equal(monitor.body.connection.close, { reason: 'close_requested', initiator: 'local' });
  const again = await server.json(`${WEBRTC}/connections/${viewer.connectionId}/close`, { method: 'POST' });
  assert.is(again.status, 409);
  assert.is(again.body.code, 'CONFLICT');
  const unknown = await server.json(`${WEBRTC}/connections/nope/close`, { method: 'POST' });
  assert.is(unknown.status, 404);
});
close.run();

const stop = suite('POST stream/stop/:server_id');
stop("closes that stream's connections only and reports how many", async () => {
  const a = await connect();
  const b = await connect();
  const a2 = await server.viewer(a.stream.whep_url);
  viewers.push(a2);
  const r = await server.json(`${WEBRTC}/stream/stop/${a.stream.server_id}`, { method: 'POST' });
  assert.is(r.status, 200);
  assert.is(r.body.closed, 2);
  assert.equal(new Set(r.body.connection_ids), new Set([a.viewer.connectionId, a2.connectionId]));
  const other = await server.json(`${MONITOR}/connections/${b.viewer.connectionId}`);
  assert.is(other.body.connection.category, 'connected', 'the other stream is untouched');
  const again = await server.json(`${WEBRTC}/stream/stop/${a.stream.server_id}`, { method: 'POST' });
  assert.is(again.status, 404);
  const whep = await fetch(a.stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.is(whep.status, 404, 'a stopped stream takes no viewers');
});
stop('shows the stream in GET streams/:id as it goes: live with its viewers, then stopped with how they ended', async () => {
  const a = await connect({ quality: 'low' });
  const a2 = await server.viewer(a.stream.whep_url);
  viewers.push(a2);
  const id = a.stream.server_id;
  const live = await waitFor(async () => {
    const r = await server.json(`${MONITOR}/streams/${id}`);
    return r.body.stream?.viewers.connected === 2 ? r.body.stream : null;
  }, 3000, 'two viewers connected on the stream');
  assert.equal([live.state, live.content, live.mode, live.quality, live.viewers.now, live.viewers.total], ['live', 'sample.webm', 'media', 'low', 2, 2]);
  assert.ok(live.started_at && live.stopped_at === null);
  await a2.close();
  await waitFor(async () => ((await server.json(`${MONITOR}/streams/${id}`)).body.stream.viewers.now === 1 ? true : null), 3000, 'one viewer left');
  const r = await server.json(`${WEBRTC}/stream/stop/${id}`, { method: 'POST' });
  assert.is(r.status, 200);
  const { stream } = (await server.json(`${MONITOR}/streams/${id}`)).body;
  assert.equal([stream.state, stream.stop_reason, stream.viewers.now, stream.viewers.total], ['stopped', 'stopped', 0, 2]);
  assert.is(stream.viewer_outcomes.clean, 2);
  assert.ok(stream.traffic_total.bytes_sent > 0, 'the viewers were sent media');
  const listed = (await server.json(`${MONITOR}/streams?state=stopped`)).body.streams.map((s: { id: string }) => s.id);
  assert.ok(listed.includes(id));
});
stop.run();

const quality = suite('POST connections/quality');
// The cap is checked as the pacer guarantees it: bytes sent since the change
// never exceed the cap times the time since then (plus the chunk in flight).
// A loaded machine only sends less, so the check cannot fail for want of
// CPU; a cap not applied (512 KiB/s sent) fails it within one sample.
quality('caps a data stream\'s send rate, visibly in the next stats samples', async () => {
  const { viewer } = await connect({ mode: 'data', quality: 'high' }, 'data');
  type Event = { type: string; position: number; recorded_at: string; data: Record<string, any> };
  const timeline = async (): Promise<Event[]> =>
    (await server.json(`${MONITOR}/connections/${viewer.connectionId}?events_limit=1000&include=stats`)).body.timeline.events;
  const samplesAfter = (events: Event[], position: number) => events.filter((e) => e.type === 'connection.stats_sampled' && e.position > position);
  const sent = (e: Event) => (e.data.data_channels as { bytes_sent: number }[]).reduce((n, c) => n + c.bytes_sent, 0);
  await waitFor(() => viewer.sha256Verified, 15_000, 'a verified pass at high');
  await waitFor(async () => samplesAfter(await timeline(), 0).length >= 2, 15_000, 'samples at high');

  const requestedAt = Date.now();
  const r = await server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: viewer.connectionId, quality: 'low' } });
  assert.is(r.status, 200);
  assert.equal([r.body.from, r.body.to], ['high', 'low']);
  const changed = (await timeline()).find((e) => e.type === 'connection.quality_changed')!;
  assert.equal([changed.data.from, changed.data.to], ['high', 'low']);
  // The first sample after the change may have been read before it; the
  // ones after that were read after it (a peer takes one sample at a time).
  const [from, to] = await waitFor(async () => {
    const after = samplesAfter(await timeline(), changed.position).slice(1);
    return after.length >= 3 && sent(after.at(-1)!) > sent(after[0]) ? [after[0], after.at(-1)!] : null;
  }, 15_000, 'samples at low with bytes flowing');
  const capBytesPerS = 32 * 1024;
  const allowed = (capBytesPerS * (Date.parse(to.recorded_at) - requestedAt)) / 1000 + 2 * CHUNK_BYTES + 1024;
  assert.ok(sent(to) - sent(from) <= allowed, `low sent ${sent(to) - sent(from)} bytes between samples; the cap allows ${Math.round(allowed)}`);
  const live = await server.json(`${WEBRTC}/connections/${viewer.connectionId}/stats`);
  assert.is(live.body.stats.data.rate_limit_bps, capBytesPerS * 8);
  assert.is(viewer.sha256Mismatches, 0, 'the data still verifies');
});
quality('refuses an unknown quality (422) and an unknown connection (404)', async () => {
  const bad = await server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: 'x', quality: 'best' } });
  assert.is(bad.status, 422);
  const unknown = await server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: 'nope', quality: 'low' } });
  assert.is(unknown.status, 404);
});
quality.run();

const closeAll = suite('POST connections/close-all');
closeAll('refuses a body that is not JSON (a text/plain form post) with 415, and fields with 422, closing nothing', async () => {
  const live = (await server.json(`${WEBRTC}/connections`)).body.length;
  const before = eventCount();
  const text = await server.api(`${WEBRTC}/connections/close-all`, { method: 'POST', body: 'anything', headers: { 'content-type': 'text/plain' } });
  assert.is(text.status, 415);
  await text.body?.cancel();
  const fields = await server.json(`${WEBRTC}/connections/close-all`, { method: 'POST', json: { all: true } });
  assert.is(fields.status, 422);
  assert.is(eventCount(), before, 'nothing recorded');
  assert.is((await server.json(`${WEBRTC}/connections`)).body.length, live);
});
closeAll('closes every live connection and reports the real count', async () => {
  const live = (await server.json(`${WEBRTC}/connections`)).body.length;
  assert.ok(live >= 1);
  const r = await server.json(`${WEBRTC}/connections/close-all`, { method: 'POST' });
  assert.is(r.status, 200);
  assert.is(r.body.closed, live);
  assert.is((await server.json(`${WEBRTC}/connections`)).body.length, 0);
  const again = await server.json(`${WEBRTC}/connections/close-all`, { method: 'POST' });
  assert.is(again.body.closed, 0);
});
closeAll.run();

const bench = suite('POST benchmark');
bench('runs real viewers and answers set-up time, throughput and loss, as an operation with tasks', async () => {
  const r = await server.json(`${WEBRTC}/benchmark`, { method: 'POST', json: { content: 'sample.webm', duration_s: 1, viewers: 2 } });
  assert.is(r.status, 200, JSON.stringify(r.body));
  const result = r.body.result;
  assert.is(result.viewers_connected, 2);
  assert.ok(result.setup_ms.median > 0);
  // What arrived in one second of a possibly busy machine's wall clock: some, not how much.
  assert.ok(result.received.bytes_total > 0, `received ${result.received.bytes_total}`);
  assert.ok(result.received.frames_per_viewer_median >= 1, `frames ${result.received.frames_per_viewer_median}`);
  assert.is(result.received.packets_lost_total, 0);
  const op = await server.json(`${MONITOR}/operations/${r.body.operation_id}`);
  const names = op.body.tasks.map((t: { name: string }) => t.name);
  for (const n of ['run', 'connect viewers', 'measure', 'close viewers']) assert.ok(names.includes(n), names.join());
  await waitFor(async () => (await server.json(`${WEBRTC}/connections`)).body.length === 0, 3000, 'benchmark viewers gone');
});
bench('refuses more viewers than --max-benchmark-viewers and durations over 60 s', async () => {
  const many = await server.json(`${WEBRTC}/benchmark`, { method: 'POST', json: { content: 'sample.webm', viewers: 4 } });
  assert.is(many.status, 422);
  const long = await server.json(`${WEBRTC}/benchmark`, { method: 'POST', json: { content: 'sample.webm', duration_s: 61 } });
  assert.is(long.status, 422);
});
bench.run();

const resources = suite('GET stats/resources');
resources('reports CPU, memory, event-loop delay, open peers and pending tasks', async () => {
  const r = await server.json(`${WEBRTC}/stats/resources`);
  assert.is(r.status, 200);
  assert.ok(r.body.memory.rss_bytes > 0);
  assert.type(r.body.cpu.percent, 'number');
  assert.type(r.body.event_loop_delay.p99_ms, 'number');
  assert.is(r.body.webrtc.open_peers, 0);
  assert.type(r.body.webrtc.pending_tasks, 'number');
  assert.equal([r.body.webrtc.abandoned_tasks, r.body.webrtc.stalled_peers], [0, 0]);
  assert.is(r.body.webrtc.stats_sampler.interval_ms, 250);
  assert.type(r.body.webrtc.liveness_watchdog.ticks, 'number');
});
resources('counts a task that ignored its abort signal in pending_tasks until its work settles', async () => {
  let release!: () => void;
  const outcome = await server.services.runner.run('stubborn', {}, () => new Promise<void>((resolve) => (release = resolve)), { timeoutMs: 20 });
  assert.is(outcome.status, 'failed');
  const during = (await server.json(`${WEBRTC}/stats/resources`)).body.webrtc;
  assert.ok(during.pending_tasks >= 1 && during.abandoned_tasks === 1, JSON.stringify(during));
  const summary = (await server.json(`${MONITOR}/summary`)).body;
  assert.ok(summary.pending_tasks >= 1 && summary.abandoned_tasks === 1, JSON.stringify(summary));
  release();
  await waitFor(async () => (await server.json(`${WEBRTC}/stats/resources`)).body.webrtc.abandoned_tasks === 0, 5000, 'the work to settle');
  assert.is((await server.json(`${MONITOR}/summary`)).body.abandoned_tasks, 0);
});
resources.run();

const asyncClose = suite('POST test/async_close');
asyncClose('sets up a real pair, answers 202, and the operation later shows the close completed', async () => {
  const r = await server.json(`${MONITOR}/test/async_close`, { method: 'POST' });
  assert.is(r.status, 202);
  assert.equal([r.body.accepted, r.body.status, 'success' in r.body], [true, 'running', false]);
  const op = await waitFor(async () => {
    const o = await server.json(r.headers.get('location')!);
    return o.body.operation.status !== 'running' ? o.body.operation : null;
  }, 5000, 'the async close');
  assert.is(op.status, 'completed');
  assert.is(op.result.closed, true);
  const conn = await server.json(`${MONITOR}/connections/${r.body.connection_id}`);
  assert.equal(conn.body.connection.close, { reason: 'async_close_test', initiator: 'local' });
});
asyncClose.after(teardown);
asyncClose.run();

const guarded = suite('routes when test routes are off and a token is set');
let locked: WebRtcTestServer;
guarded.before(async () => {
  locked = await startWebRtcServer({ authToken: 'sesame' });
});
guarded.after(() => locked.stop());
guarded('hides the test route (404 ROUTE_NOT_FOUND) and needs the token on mutating routes', async () => {
  const test = await locked.json(`${MONITOR}/test/async_close`, { method: 'POST' });
  assert.is(test.status, 404);
  assert.is(test.body.code, 'ROUTE_NOT_FOUND');
  const res = await locked.api(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' } });
  assert.is(res.status, 401);
  const ok = await locked.json(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' } });
  assert.is(ok.status, 200);
  const whep = await fetch(ok.body.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.is(whep.status, 401);
  const viewer = await locked.viewer(ok.body.whep_url);
  assert.is(viewer.connectionState, 'connected');
  await viewer.close();
});
guarded.run();

const broken = suite('a 5xx answer');
broken("points to the operation and shows no absolute path of the host", async () => {
  // A media file that disappears after its stream was made: the negotiation fails inside werift's file player.
  const { dir, cleanup } = tempDir('wrm-content-');
  copyFileSync(join(CONTENT_DIR, 'sample.webm'), join(dir, 'clip.webm'));
  const s = await startWebRtcServer({ contentDir: dir });
  try {
    const stream = await s.stream({ content: 'clip.webm' });
    rmSync(join(dir, 'clip.webm'));
    const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: await offerSdp('media') });
    const text = await res.text();
    assert.ok(res.status >= 500, `${res.status} ${text}`);
    assert.not.ok(text.includes(dir), `the answer names ${dir}: ${text}`);
    const body = JSON.parse(text);
    assert.ok(body.errors?.operation_id, 'the operation to look at');
    const op = await s.json(`${MONITOR}/operations/${body.errors.operation_id}`);
    assert.is(op.body.operation.status, 'failed', 'the error is on the record');
  } finally {
    await s.stop();
    cleanup();
  }
});
broken.run();
