import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { headPosition } from '../../src/log/read.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createHash } from 'node:crypto';
import { RTCPeerConnection } from 'werift';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { viewerPeerConfig } from '../../src/webrtc/peerConfig.ts';
import { connectViewer } from '../../src/webrtc/viewer.ts';
import { dbOf } from '../helpers/db.ts';

const TOKEN = 's3cret-token';
let server: TestServer;
const EXPORT = `${MONITOR_PREFIX}/export`;
const head = () => headPosition(dbOf(server.services));

const Auth = suite('requireTokenForWrites');
Auth.before(async () => {
  server = await startTestServer({ authToken: TOKEN });
});
Auth.after(() => server.stop());

Auth('refuses a mutating route without a token: 401 with WWW-Authenticate, nothing appended', async () => {
  const before = head();
  const res = await server.api(EXPORT, { method: 'POST', json: {} });
  assert.is(res.status, 401);
  assert.is(res.headers.get('www-authenticate'), 'Bearer');
  assert.match(res.headers.get('content-type') ?? '', 'application/problem+json');
  assert.is(((await res.json()) as any).code, 'UNAUTHORIZED');
  assert.is(head(), before);
});

Auth('refuses a wrong token, a token of another length, another scheme, and an empty bearer', async () => {
  const before = head();
  for (const authorization of [`Bearer ${TOKEN}x`, 'Bearer s', `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`, 'Bearer ', TOKEN]) {
    const res = await server.api(EXPORT, { method: 'POST', json: {}, headers: { authorization } });
    assert.is(res.status, 401, authorization);
    await res.body?.cancel();
  }
  assert.is(head(), before);
});

Auth('checks the token before reading the body (a bad body without a token is still 401)', async () => {
  const res = await server.api(EXPORT, { method: 'POST', body: '{broken', headers: { 'content-type': 'application/json' } });
  assert.is(res.status, 401);
  await res.body?.cancel();
});

Auth('lets the right token through, and records the operation', async () => {
  const before = head();
  const res = await server.api(EXPORT, { method: 'POST', json: {}, token: TOKEN });
  assert.is(res.status, 200, await res.clone().text());
  const body = (await res.json()) as any;
  assert.is(body.success, true);
  assert.ok(head() > before);
  const lower = await server.api(EXPORT, { method: 'POST', json: {}, headers: { authorization: `bearer ${TOKEN}` } });
  assert.is(lower.status, 200, 'the scheme is case-insensitive');
  await lower.body?.cancel();
});

Auth('leaves reads open', async () => {
  for (const path of ['/summary', '/connections', '/operations', '/tasks']) {
    const res = await server.api(`${MONITOR_PREFIX}${path}`);
    assert.is(res.status, 200, path);
    await res.body?.cancel();
  }
});

Auth.run();

const Open = suite('no token configured');

Open('leaves mutating routes open', async () => {
  const s = await startTestServer();
  try {
    const res = await s.api(EXPORT, { method: 'POST' });
    assert.is(res.status, 200);
    await res.body?.cancel();
  } finally {
    await s.stop();
  }
});

Open.run();

const READ = 'read-only-token';
const Reads = suite('requireTokens with a read token');
Reads.before(async () => {
  server = await startTestServer({ authToken: TOKEN, readToken: READ });
});
Reads.after(() => server.stop());

Reads('refuses reads without a token, and with a wrong one, with 401', async () => {
  for (const path of [`${MONITOR_PREFIX}/summary`, `${MONITOR_PREFIX}/events?after=0`, `${MONITOR_PREFIX}/events/stream`, '/metrics']) {
    const res = await server.api(path);
    assert.is(res.status, 401, path);
    assert.is(((await res.json()) as any).code, 'UNAUTHORIZED');
    const wrong = await server.api(path, { token: 'nope' });
    assert.is(wrong.status, 401, path);
    await wrong.body?.cancel();
  }
});

Reads('answers reads with the read token or the auth token', async () => {
  for (const token of [READ, TOKEN]) {
    const res = await server.api(`${MONITOR_PREFIX}/summary`, { token });
    assert.is(res.status, 200, token);
    await res.body?.cancel();
  }
});

Reads('serves the pages a browser navigates to without a token (they hold no monitor data)', async () => {
  for (const path of ['/', '/dashboard', '/assets/app.js', '/openapi.json']) {
    const res = await server.api(path);
    assert.is(res.status, 200, path);
    await res.body?.cancel();
  }
});

Reads('does not let the read token write: 403 INSUFFICIENT_SCOPE (a good token of the wrong scope), nothing appended', async () => {
  const before = head();
  const res = await server.api(EXPORT, { method: 'POST', json: {}, token: READ });
  assert.is(res.status, 403);
  assert.is(res.headers.get('www-authenticate'), 'Bearer error="insufficient_scope"');
  assert.is(((await res.json()) as any).code, 'INSUFFICIENT_SCOPE');
  assert.is(head(), before);
});

Reads.run();

// ---- the three scopes, with the WebRTC plugin --------------------------------

const ADMIN = 'admin-token';
const READER = 'reader-token';
let rtc: WebRtcTestServer;
const rtcHead = () => headPosition(dbOf(rtc.services));
const problemCode = async (res: Response) => ((await res.json()) as { code: string }).code;
const offerFor = async () => {
  const pc = new RTCPeerConnection(await viewerPeerConfig());
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await waitFor(() => pc.iceGatheringState === 'complete', 3000, 'gathering');
  return { pc, sdp: pc.localDescription!.sdp };
};
const postOffer = (whepUrl: string, sdp: string, token?: string) =>
  fetch(whepUrl, { method: 'POST', headers: { 'content-type': 'application/sdp', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: sdp });

const Viewer = suite('viewer token');
Viewer.before(async () => {
  rtc = await startWebRtcServer({ authToken: ADMIN, readToken: READER });
});
Viewer.after(() => rtc.stop());

Viewer('POST stream answers a viewer token and a player URL carrying it in the fragment; the log keeps only its SHA-256', async () => {
  const stream = (await rtc.stream()) as any;
  assert.match(stream.viewer_token, /^[A-Za-z0-9_-]{43}$/);
  assert.is(stream.viewer_url, `${stream.url}#token=${stream.viewer_token}`);
  const created = dbOf(rtc.services).prepare("SELECT data FROM events WHERE stream = ? AND type = 'server.created'").pluck().get(`server:${stream.server_id}`) as string;
  assert.is(JSON.parse(created).viewer_token_sha256, createHash('sha256').update(stream.viewer_token).digest('hex'));
  const mentions = dbOf(rtc.services).prepare('SELECT count(*) FROM events WHERE data LIKE ? OR meta LIKE ?').pluck().get(`%${stream.viewer_token}%`, `%${stream.viewer_token}%`);
  assert.is(mentions, 0, 'the token itself is nowhere in the log');
});

Viewer("plays its own stream through WHEP and hangs up with it (viewer token only)", async () => {
  const stream = (await rtc.stream()) as any;
  const viewer = await connectViewer(stream.whep_url, { expect: 'media', token: stream.viewer_token });
  assert.ok(viewer.connectionId);
  await viewer.close(); // DELETE with the viewer token, checked 204 or 404 inside
  const conn = await rtc.json(`${MONITOR}/connections/${viewer.connectionId}`, { token: READER });
  assert.equal(conn.body.connection.close, { reason: 'whep_delete', initiator: 'remote' });
});

Viewer("is refused 403 INSUFFICIENT_SCOPE on another stream's WHEP endpoint and sessions, recording nothing", async () => {
  const mine = (await rtc.stream()) as any;
  const other = (await rtc.stream()) as any;
  const { pc, sdp } = await offerFor();
  try {
    const before = rtcHead();
    const res = await postOffer(other.whep_url, sdp, mine.viewer_token);
    assert.is(res.status, 403);
    assert.is(await problemCode(res), 'INSUFFICIENT_SCOPE');
    const del = await fetch(`${other.whep_url}/sessions/whatever`, { method: 'DELETE', headers: { authorization: `Bearer ${mine.viewer_token}` } });
    assert.is(del.status, 403);
    await del.body?.cancel();
    assert.is(rtcHead(), before);
  } finally {
    await pc.close();
  }
});

Viewer('is refused 403 everywhere else: reads, metrics, the feed, and every other write, recording nothing', async () => {
  const stream = (await rtc.stream()) as any;
  const before = rtcHead();
  for (const path of [`${MONITOR}/summary`, `${MONITOR}/connections`, `${MONITOR}/events?after=0`, `${MONITOR}/events/stream`, '/metrics', `${WEBRTC}/connections`, `${WEBRTC}/check`]) {
    const res = await rtc.api(path, { token: stream.viewer_token });
    assert.is(res.status, 403, path);
    assert.is(await problemCode(res), 'INSUFFICIENT_SCOPE', path);
  }
  for (const [path, json] of [
    [`${WEBRTC}/stream`, { content: 'sample.webm' }],
    [`${WEBRTC}/stream/stop/${stream.server_id}`, {}],
    [`${WEBRTC}/connections/close-all`, {}],
    [`${MONITOR}/export`, {}],
  ] as const) {
    const res = await rtc.api(path, { method: 'POST', json, token: stream.viewer_token });
    assert.is(res.status, 403, path);
    assert.is(await problemCode(res), 'INSUFFICIENT_SCOPE', path);
  }
  assert.is(rtcHead(), before);
  // The pages a browser navigates to stay open, as they are to everyone.
  const page = await rtc.api(`/player/${stream.server_id}`, { token: stream.viewer_token });
  assert.is(page.status, 200);
  await page.body?.cancel();
});

Viewer('stops working when its stream stops', async () => {
  const stream = (await rtc.stream()) as any;
  const stop = await rtc.json(`${WEBRTC}/stream/stop/${stream.server_id}`, { method: 'POST', json: {}, token: ADMIN });
  assert.is(stop.status, 200);
  const { pc, sdp } = await offerFor();
  try {
    const res = await postOffer(stream.whep_url, sdp, stream.viewer_token);
    assert.is(res.status, 401, 'an unknown token now');
    await res.body?.cancel();
  } finally {
    await pc.close();
  }
});

Viewer.run();

const Scopes = suite('admin and read tokens on the WHEP routes');
Scopes.before(async () => {
  rtc = await startWebRtcServer({ authToken: ADMIN, readToken: READER });
});
Scopes.after(() => rtc.stop());

Scopes('WHEP needs a token when an admin token is set: none is 401, the read token 403, the admin token plays', async () => {
  const stream = (await rtc.stream()) as any;
  const { pc, sdp } = await offerFor();
  try {
    const before = rtcHead();
    const none = await postOffer(stream.whep_url, sdp);
    assert.is(none.status, 401);
    assert.is(await problemCode(none), 'UNAUTHORIZED');
    const read = await postOffer(stream.whep_url, sdp, READER);
    assert.is(read.status, 403);
    assert.is(await problemCode(read), 'INSUFFICIENT_SCOPE');
    assert.is(rtcHead(), before);
  } finally {
    await pc.close();
  }
  const viewer = await connectViewer(stream.whep_url, { expect: 'media', token: ADMIN });
  await viewer.close();
});

Scopes('the read token reads the monitor, the feed and /metrics; the admin token reads and writes', async () => {
  for (const token of [READER, ADMIN]) {
    for (const path of [`${MONITOR}/summary`, `${MONITOR}/events?after=0`, '/metrics', `${WEBRTC}/check`]) {
      const res = await rtc.api(path, { token });
      assert.is(res.status, 200, `${token} ${path}`);
      await res.body?.cancel();
    }
  }
  const start = await rtc.api(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' }, token: READER });
  assert.is(start.status, 403);
  assert.is(await problemCode(start), 'INSUFFICIENT_SCOPE');
  const made = await rtc.api(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' }, token: ADMIN });
  assert.is(made.status, 200);
  await made.body?.cancel();
});

Scopes.run();
