// CORS for WHEP players and readers on other origins, against a real server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MONITOR, WEBRTC, offerSdp, startWebRtcServer, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { loadConfig } from '../../src/config.ts';

const PLAYER = 'http://127.0.0.1:8081';
const ADMIN = 'admin';
const READER = 'reader';
let server: WebRtcTestServer;

const preflight = (url: string, method: string, origin = PLAYER) =>
  fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type,if-match' } });

const Cors = suite('CORS with --cors-origin');
Cors.before(async () => {
  server = await startWebRtcServer({ corsOrigins: [PLAYER], authToken: ADMIN, readToken: READER });
});
Cors.after(() => server.stop());

Cors('answers a WHEP preflight from an allowed origin, before auth: methods, Authorization, If-Match, Content-Type', async () => {
  const stream = await server.stream();
  for (const [url, method] of [[stream.whep_url, 'POST'], [`${stream.whep_url}/sessions/x`, 'PATCH'], [`${stream.whep_url}/sessions/x`, 'DELETE']] as const) {
    const res = await preflight(url, method);
    assert.is(res.status, 204, `${method} ${url}`);
    assert.is(res.headers.get('access-control-allow-origin'), PLAYER);
    assert.match(res.headers.get('access-control-allow-methods')!, method);
    for (const header of ['Authorization', 'If-Match', 'Content-Type']) assert.match(res.headers.get('access-control-allow-headers')!, header);
    assert.match(res.headers.get('vary')!, 'Origin');
  }
});

Cors('gives other origins, and the controller\'s other writes, no CORS headers (the browser stops there)', async () => {
  const stream = await server.stream();
  const other = await preflight(stream.whep_url, 'POST', 'http://evil.example');
  assert.is(other.headers.get('access-control-allow-origin'), null);
  await other.body?.cancel();
  for (const path of [`${WEBRTC}/stream`, `${WEBRTC}/connections/close-all`, `${MONITOR}/export`]) {
    const res = await preflight(`${server.url}${path}`, 'POST');
    assert.is(res.headers.get('access-control-allow-origin'), null, path);
    await res.body?.cancel();
  }
  // A page on the allowed origin that writes to the controller anyway (no preflight: a form) is refused as before.
  const write = await fetch(`${server.url}${WEBRTC}/connections/close-all`, { method: 'POST', headers: { origin: PLAYER, authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{}' });
  assert.is(write.status, 403);
  assert.is(((await write.json()) as { code: string }).code, 'CROSS_SITE_REQUEST');
});

Cors('lets the page play with the viewer token and read Location, ETag and Link; a refusal is readable too', async () => {
  const stream = await server.stream();
  const offer = await offerSdp('media');
  const refused = await fetch(stream.whep_url, { method: 'POST', headers: { origin: PLAYER, 'content-type': 'application/sdp' }, body: offer });
  assert.is(refused.status, 401);
  assert.is(refused.headers.get('access-control-allow-origin'), PLAYER, 'the page can read why');
  await refused.body?.cancel();
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { origin: PLAYER, 'content-type': 'application/sdp', authorization: `Bearer ${stream.viewer_token}` }, body: offer });
  assert.is(res.status, 201);
  assert.is(res.headers.get('access-control-allow-origin'), PLAYER);
  for (const header of ['Location', 'ETag', 'Link']) assert.match(res.headers.get('access-control-expose-headers')!, header);
  await res.text();
  const del = await fetch(new URL(res.headers.get('location')!, stream.whep_url), { method: 'DELETE', headers: { origin: PLAYER, authorization: `Bearer ${stream.viewer_token}` } });
  assert.is(del.status, 204);
  assert.is(del.headers.get('access-control-allow-origin'), PLAYER);
});

Cors('opens the reads to the allowed origin (the read token still applies), and the player page', async () => {
  const stream = await server.stream();
  const summary = await fetch(`${server.url}${MONITOR}/summary`, { headers: { origin: PLAYER, authorization: `Bearer ${READER}` } });
  assert.is(summary.status, 200);
  assert.is(summary.headers.get('access-control-allow-origin'), PLAYER);
  await summary.body?.cancel();
  const page = await fetch(stream.url, { headers: { origin: PLAYER } });
  assert.is(page.headers.get('access-control-allow-origin'), PLAYER);
  await page.body?.cancel();
  const elsewhere = await fetch(`${server.url}${MONITOR}/summary`, { headers: { origin: 'http://evil.example', authorization: `Bearer ${READER}` } });
  assert.is(elsewhere.headers.get('access-control-allow-origin'), null);
  await elsewhere.body?.cancel();
});

Cors.run();

const Off = suite('CORS off (no --cors-origin, the default)');
Off('sends no CORS header, and refuses a cross-origin WHEP POST as a cross-site write', async () => {
  const plain = await startWebRtcServer();
  try {
    const stream = await plain.stream();
    const pre = await preflight(stream.whep_url, 'POST');
    assert.is(pre.headers.get('access-control-allow-origin'), null);
    await pre.body?.cancel();
    const post = await fetch(stream.whep_url, { method: 'POST', headers: { origin: PLAYER, 'content-type': 'application/sdp' }, body: await offerSdp('media') });
    assert.is(post.status, 403);
    assert.is(((await post.json()) as { code: string }).code, 'CROSS_SITE_REQUEST');
  } finally {
    await plain.stop();
  }
});
Off.run();

const Config = suite('--cors-origin and WEBRTC_MONITOR_CORS_ORIGINS');
Config('take origins and *, and refuse a URL with a path, naming the flag', () => {
  const fromFlags = loadConfig({ flags: { corsOrigin: ['http://127.0.0.1:8081', 'https://player.example'] }, env: {} });
  assert.equal(fromFlags.corsOrigins, ['http://127.0.0.1:8081', 'https://player.example']);
  assert.equal(loadConfig({ flags: {}, env: { WEBRTC_MONITOR_CORS_ORIGINS: '*' } }).corsOrigins, ['*']);
  try {
    loadConfig({ flags: { corsOrigin: ['http://player.example/page'] }, env: {} });
    assert.unreachable('a path is refused');
  } catch (err) {
    assert.match((err as Error).message, '--cors-origin');
  }
});
Config.run();
