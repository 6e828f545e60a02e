// The rtcstats WebSocket against a real server, driven by the real rtcstats
// client transport (trace-ws.js) and, for hostile input, by a bare socket.
import { suite } from 'uvu';
import { dbOf } from '../helpers/db.ts';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startWebRtcServer, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { chromeReport, deltaCompression, rtcstatsTrace } from '../helpers/rtcstats.ts';
import { RTCSTATS_PATH } from '../../src/http/rtcstatsSocket.ts';
import { MONITOR_PREFIX } from '../../src/http/paths.ts';
import { exportLogs } from '../../src/export/exporter.ts';
import { parseRtcstatsDump, translateRtcstatsDump } from '../../src/telemetry/dump.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let server: TestServer;
const rows = (stream: string) =>
  dbOf(server.services.store).prepare('SELECT type, data, position FROM events WHERE stream = ? ORDER BY position').all(stream) as { type: string; data: string; position: number }[];
const streamsOf = (session: string) =>
  dbOf(server.services.store).prepare("SELECT DISTINCT stream FROM events WHERE stream LIKE ? ORDER BY stream").pluck().all(`client:${session}:%`) as string[];
const eventCount = () => dbOf(server.services.store).prepare('SELECT count(*) FROM events').pluck().get() as number;
const wsUrl = (path = '') => server.url.replace('http', 'ws') + RTCSTATS_PATH + path;

/** Waits until the log holds `n` events of `stream` (log positions, not time). */
async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A bare socket that sends `messages` once the server says `initial`, and reports how it was closed. */
function bare(path: string, messages: (string | Buffer)[], headers: Record<string, string> = {}): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), '3.1_STANDARD', { headers });
    ws.on('message', () => {
      for (const m of messages.splice(0)) ws.send(m);
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, reason: `${res.headers['content-type']} ${body}` }));
    });
    ws.on('error', reject);
  });
}

const Ingest = suite('rtcstats ingest over the WebSocket');
Ingest.before(async () => {
  server = await startTestServer({ telemetryMaxMessageBytes: 64 * 1024, telemetryMessagesPerSecond: 5, telemetryBurst: 40 });
});
Ingest.after(() => server.stop());

Ingest('records a traced peer connection from the real client: created without TURN credentials, states, whole stats samples, close', async () => {
  const trace = await rtcstatsTrace({ endpoint: wsUrl(), meetingFqn: 'stream-1' });
  trace.connect();
  trace.identity('identity', null, { applicationName: 'test page' });
  trace.statsEntry('create', 'PC_0', { iceServers: [{ urls: 'turn:turn.example:3478', username: 'u', credential: 'secret' }] });
  trace.statsEntry('onconnectionstatechange', 'PC_0', 'connecting');
  trace.statsEntry('onconnectionstatechange', 'PC_0', 'connected');
  const one = chromeReport(1);
  const two = chromeReport(3);
  trace.statsEntry('getstats', 'PC_0', deltaCompression({}, one));
  trace.statsEntry('getstats', 'PC_0', deltaCompression(one, two));
  trace.statsEntry('close', 'PC_0', []);
  await until(() => streamsOf('%').length > 0 && rows(streamsOf('%')[0]).some((r) => r.type === 'client.closed'), 'the close');
  const [stream] = streamsOf('%');
  assert.match(stream, /^client:[0-9a-f-]{36}:PC_0$/);
  const events = rows(stream);
  assert.equal(events.map((e) => e.type), [
    'client.created', 'client.state_changed', 'client.state_changed', 'client.stats_sampled', 'client.stats_sampled', 'client.trace', 'client.closed',
  ]);
  const created = JSON.parse(events[0].data);
  assert.is(created.meeting, 'stream-1');
  assert.equal(created.identity, { applicationName: 'test page' });
  assert.not.match(events[0].data, /secret/);
  assert.is(created.configuration.iceServers[0].username, 'u');
  assert.equal(JSON.parse(events[2].data).from, 'connecting');
  const second = JSON.parse(events[4].data);
  // Fields the client left out (unchanged) are back: frames per second, the codec.
  assert.is(second.inbound[0].frames_decoded, 90);
  assert.is(second.inbound[0].frames_per_second, 30);
  assert.is(second.inbound[0].codec, 'video/VP8');
  assert.is(second.interval_ms, 2000);
  assert.type(second.client_ts, 'number');
  trace.close();
});

Ingest('joins a trace to the server connection whose answer had the ICE username fragment, and the detail shows both ends', async () => {
  const log = server.services.store;
  await log.append('connection:c-1', [
    { type: 'connection.created', data: { connection_id: 'c-1', server_id: 's-1' } },
    { type: 'connection.negotiated', data: { local_ice_ufrag: 'SRVR', remote_ice_ufrag: 'VIEW', local_fingerprint: 'AA:BB:CC', remote_fingerprint: null } },
    {
      type: 'connection.stats_sampled',
      data: { bytes_sent: 500_000, bytes_received: 0, packets_sent: 400, packets_received: 0, packets_lost: 2, rtt_ms: 2, jitter_ms: 1, bitrate_out_bps: null, bitrate_in_bps: null, interval_ms: null, frames_sent: 120 },
    },
  ]);
  const trace = await rtcstatsTrace({ endpoint: wsUrl(), meetingFqn: 's-1' });
  trace.connect();
  trace.statsEntry('create', 'PC_0', {});
  trace.statsEntry('setRemoteDescription', 'PC_0', { type: 'answer', sdp: 'v=0\r\na=ice-ufrag:SRVR\r\na=fingerprint:sha-256 aa:bb:cc\r\n' });
  trace.statsEntry('getstats', 'PC_0', deltaCompression({}, chromeReport(3)));
  let detail: any;
  await until(() => {
    const n = dbOf(server.services.store).prepare("SELECT count(*) FROM events WHERE type = 'client.stats_sampled' AND stream IN (SELECT stream FROM events WHERE type = 'client.correlated')").pluck().get() as number;
    return n > 0;
  }, 'the joined sample');
  detail = await (await server.api(`${MONITOR_PREFIX}/connections/c-1`)).json();
  assert.is(detail.viewers.length, 1);
  assert.is(detail.viewers[0].correlated_by, 'ice_ufrag');
  assert.is(detail.both_ends.server.packets_sent, 400);
  assert.equal(detail.both_ends.viewers[0], {
    stream: detail.viewers[0].stream, packets_received: 300, bytes_received: 300_000, packets_lost: 2, frames_decoded: 90, freeze_count: 1, total_freezes_duration_ms: 700,
  });
  const positions = detail.timeline.both_ends.map((e: { position: number }) => e.position);
  assert.equal(positions, [...positions].sort((a: number, b: number) => a - b));
  assert.ok(detail.timeline.both_ends.some((e: { type: string }) => e.type === 'client.stats_sampled'));
  // The exported JSON has both ends too: the viewers, and their events after the server's, in log order.
  const out = join(server.dir, 'export');
  await exportLogs(server.services.store, server.services.reads, { out, connectionId: 'c-1' });
  const file = JSON.parse(readFileSync(join(out, 'connections', readdirSync(join(out, 'connections'))[0]), 'utf8'));
  assert.is(file.viewers[0].stream, detail.viewers[0].stream);
  assert.equal(file.both_ends, detail.both_ends);
  const exportedPositions = file.viewer_events.map((e: { position: number }) => e.position);
  assert.equal(exportedPositions, [...exportedPositions].sort((a: number, b: number) => a - b));
  assert.ok(file.viewer_events.some((e: { type: string }) => e.type === 'client.correlated'));
  // As an rtcstats dump (both ends, one timeline) that reads back through the dump importer.
  const dumps = join(server.dir, 'rtcstats-export');
  await exportLogs(server.services.store, server.services.reads, { out: dumps, connectionId: 'c-1', format: 'rtcstats' });
  const text = readFileSync(join(dumps, 'rtcstats', readdirSync(join(dumps, 'rtcstats'))[0]), 'utf8');
  assert.match(text, /^RTCStatsDump\n\{"fileFormat":3,/);
  const back = await translateRtcstatsDump(parseRtcstatsDump(text), { source: 'rtcstats_dump', meeting: null, userAgent: null, obfuscateIps: false, maxPeers: 4 }, () => null);
  const streamsBack = [...back.streams.keys()];
  assert.is(streamsBack.length, 2, streamsBack.join());
  const viewerBack = [...back.streams.entries()].find(([s]) => !s.endsWith(':server'))![1];
  const sampleBack = viewerBack.find((e: { type: string }) => e.type === 'client.stats_sampled')!.data as { inbound: { frames_decoded: number; freeze_count: number }[] };
  assert.is(sampleBack.inbound[0].frames_decoded, 90);
  assert.is(sampleBack.inbound[0].freeze_count, 1);
  // Time travel to before the join: the viewer is not there yet.
  const before = await (await server.api(`${MONITOR_PREFIX}/connections/c-1?at=${detail.connection.last_position}`)).json();
  assert.is(before.viewers.length, 0);
  trace.close();
});

Ingest('closes a session that sends what is not JSON (1007) and writes nothing for it', async () => {
  const closed = await bare('?statsSessionId=bad-json', ['{not json']);
  assert.is(closed.code, 1007);
  assert.is(closed.reason, 'not valid JSON');
  assert.equal(streamsOf('bad-json'), []);
});

Ingest('closes a session that breaks the protocol (1007) with the reason, and nothing half-written', async () => {
  const bad = JSON.stringify({ type: 'stats-entry', data: JSON.stringify(['getstats', 'PC_0', [1, 2], 1, 1]) });
  const closed = await bare('?statsSessionId=bad-stats', [bad]);
  assert.is(closed.code, 1007);
  assert.match(closed.reason, /not a stats report/);
  // The first entry of a peer connection would have created its stream: nothing was.
  assert.equal(streamsOf('bad-stats'), []);
  const unknown = await bare('?statsSessionId=bad-type', [JSON.stringify({ type: 'drop-tables' })]);
  assert.is(unknown.code, 1007);
  assert.match(unknown.reason, /unknown message type/);
});

Ingest('closes a session whose message is over the size limit (1009)', async () => {
  const closed = await bare('?statsSessionId=too-big', ['x'.repeat(65 * 1024)]);
  assert.is(closed.code, 1009);
});

Ingest('closes a session past its message rate (1008)', async () => {
  const keepalives = Array.from({ length: 60 }, () => JSON.stringify({ type: 'keepalive' }));
  const closed = await bare('?statsSessionId=flood', keepalives);
  assert.is(closed.code, 1008);
  assert.match(closed.reason, /messages per second/);
});

Ingest('refuses a handshake without a session id, or from another site, as a problem', async () => {
  const none = await bare('', []);
  assert.is(none.code, 400);
  assert.match(none.reason, /^application\/problem\+json .*statsSessionId/);
  const cross = await bare('?statsSessionId=x', [], { origin: 'http://evil.example' });
  assert.is(cross.code, 403);
});

const Auth = suite('rtcstats ingest with an admin token configured');
Auth.before(async () => {
  server = await startTestServer({ authToken: 'admin-secret' });
});
Auth.after(() => server.stop());

Auth('refuses a client without the token (401 problem) and serves one with it in the path', async () => {
  const refused = await bare('?statsSessionId=a1', []);
  assert.is(refused.code, 401);
  assert.match(refused.reason, /UNAUTHORIZED/);
  const trace = await rtcstatsTrace({ endpoint: wsUrl('/t/admin-secret'), meetingFqn: 'm' });
  trace.connect();
  trace.statsEntry('create', 'PC_0', {});
  await until(() => streamsOf('%').length === 1, 'the stream');
  trace.close();
});

const Viewer = suite('rtcstats ingest with viewer tokens');
let webrtcServer: WebRtcTestServer;
Viewer.before(async () => {
  webrtcServer = await startWebRtcServer({ authToken: 'admin-secret' });
  server = webrtcServer;
});
Viewer.after(() => webrtcServer.stop());

Viewer("takes a stream's viewer token for that stream only (403 INSUFFICIENT_SCOPE for another)", async () => {
  const a = await webrtcServer.stream({ content: 'sample.webm', mode: 'media' });
  const b = await webrtcServer.stream({ content: 'sample.webm', mode: 'media' });
  const other = await bare(`/t/${a.viewer_token}/${b.server_id}?statsSessionId=v2`, []);
  assert.is(other.code, 403);
  assert.match(other.reason, /INSUFFICIENT_SCOPE/);
  const trace = await rtcstatsTrace({ endpoint: wsUrl(`/t/${a.viewer_token}`), meetingFqn: a.server_id });
  trace.connect();
  trace.statsEntry('create', 'PC_0', {});
  await until(() => streamsOf('%').length === 1, 'the stream');
  trace.close();
});

const Limits = suite('rtcstats ingest limits');
Limits.before(async () => {
  server = await startTestServer({ telemetryMaxSessions: 1, telemetryIdleTimeoutMs: 300 });
});
Limits.after(() => server.stop());

Limits('refuses a session past the maximum (503 problem), and closes an idle one (1001) and records its traces\' end', async () => {
  const first = new WebSocket(wsUrl('?statsSessionId=one'), '3.1_STANDARD');
  const closed = new Promise<{ code: number; reason: string }>((resolve) => first.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve) => first.once('message', resolve));
  first.send(JSON.stringify({ type: 'stats-entry', data: JSON.stringify(['create', 'PC_0', {}, 1, 1]) }));
  const second = await bare('?statsSessionId=two', []);
  assert.is(second.code, 503);
  assert.match(second.reason, /UNAVAILABLE/);
  assert.equal(await closed, { code: 1001, reason: 'idle' });
});

const Dump = suite('POST rtcstats/dump');
Dump.before(async () => {
  server = await startTestServer();
});
Dump.after(() => server.stop());

const dumpText = (session: string, lastLine = '["close","PC_0",[],1700000003000]') =>
  [
    'RTCStatsDump',
    JSON.stringify({ statsSessionId: session }),
    JSON.stringify(['create', 'PC_0', { iceServers: [{ urls: 'turn:t', credential: 'pw' }] }, 1_700_000_000_000]),
    JSON.stringify(['onicecandidate', 'PC_0', { candidate: 'candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host' }, 1_700_000_000_100]),
    JSON.stringify(['getstats', 'PC_0', deltaCompression({}, chromeReport(1)), 1_700_000_001_000]),
    lastLine,
  ].join('\n');

Dump('appends a dump as client streams, 201, and refuses the same session twice (409)', async () => {
  const res = await server.api(`${RTCSTATS_PATH}/dump`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: dumpText('dump-1') });
  assert.is(res.status, 201, await res.clone().text());
  const body = await res.json();
  assert.equal(body.streams, ['client:dump-1:PC_0']);
  assert.equal(rows('client:dump-1:PC_0').map((r) => r.type), ['client.created', 'client.trace', 'client.stats_sampled', 'client.trace', 'client.closed']);
  assert.not.match(JSON.stringify(rows('client:dump-1:PC_0')), /"pw"/);
  const again = await server.api(`${RTCSTATS_PATH}/dump`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: dumpText('dump-1') });
  assert.is(again.status, 409);
});

Dump('refuses a dump with a bad line anywhere (422 problem naming it) and writes none of it', async () => {
  const before = eventCount();
  const res = await server.api(`${RTCSTATS_PATH}/dump`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: dumpText('dump-2', '["getstats","PC_0",7,1]') });
  assert.is(res.status, 422);
  assert.is(res.headers.get('content-type'), 'application/problem+json');
  assert.match((await res.json()).detail, /^entry 4: /);
  assert.is(eventCount(), before);
});

Ingest.run();
Auth.run();
Viewer.run();
Limits.run();
Dump.run();
