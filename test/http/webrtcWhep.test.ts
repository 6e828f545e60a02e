// WHEP signaling and the player page, against a real server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RTCPeerConnection } from 'werift';
import { MONITOR, WEBRTC, offerSdp, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { viewerPeerConfig } from '../../src/webrtc/peerConfig.ts';
import { MAX_OFFER_CANDIDATES, MAX_OFFER_LINES } from '../../src/webrtc/offerLimits.ts';
import { dbOf } from '../helpers/db.ts';

let server: WebRtcTestServer;
const eventCount = () => dbOf(server.services).prepare('SELECT count(*) FROM events').pluck().get() as number;

const whep = suite('WHEP POST and DELETE');
whep.before(async () => {
  server = await startWebRtcServer();
});

whep('answers 201 with an SDP answer holding its candidates and a Location; DELETE closes it as remote', async () => {
  const stream = await server.stream();
  const pc = new RTCPeerConnection(await viewerPeerConfig());
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await waitFor(() => pc.iceGatheringState === 'complete', 3000, 'gathering');
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
  assert.is(res.status, 201);
  assert.is(res.headers.get('content-type'), 'application/sdp');
  const location = res.headers.get('location')!;
  assert.match(location, new RegExp(`^${WEBRTC}/whep/${stream.server_id}/sessions/[0-9a-f-]{36}$`));
  const answer = await res.text();
  assert.match(answer, /^v=0/);
  assert.match(answer, /a=candidate:.* 127\.0\.0\.1 /, 'loopback candidate in the answer (non-trickle)');
  assert.match(answer, /a=ice-lite/);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await waitFor(() => pc.connectionState === 'connected', 5000, 'connected');
  const id = location.split('/').pop()!;

  const del = await fetch(new URL(location, stream.whep_url), { method: 'DELETE' });
  assert.is(del.status, 204);
  const conn = await server.json(`${MONITOR}/connections/${id}`);
  assert.equal(conn.body.connection.close, { reason: 'whep_delete', initiator: 'remote' });
  const again = await fetch(new URL(location, stream.whep_url), { method: 'DELETE' });
  assert.is(again.status, 404);
  await pc.close();
});

whep('refuses what is not an SDP offer, with nothing in the log', async () => {
  const stream = await server.stream();
  const before = eventCount();
  const post = (body: string, type = 'application/sdp') => fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': type }, body });
  assert.is((await post('v=0\r\n', 'text/plain')).status, 415);
  assert.is((await post('hello')).status, 400);
  assert.is((await post('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n')).status, 400, 'no m= line');
  const dataOffer = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';
  const wrongKind = await post(dataOffer);
  assert.is(wrongKind.status, 422, 'a media stream needs audio or video');
  assert.is((await wrongKind.json()).code, 'VALIDATION_FAILED');
  assert.is(eventCount(), before);
});

whep('answers 404 for an unknown stream or session', async () => {
  const r = await fetch(`${server.url}${WEBRTC}/whep/nope`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
  assert.is(r.status, 404);
  const d = await fetch(`${server.url}${WEBRTC}/whep/nope/sessions/nope`, { method: 'DELETE' });
  assert.is(d.status, 404);
});

whep('records an offer werift refuses as a failed connect operation and a closed connection', async () => {
  const stream = await server.stream({ mode: 'data' });
  // Passes the checks made before the operation; werift refuses it (no ICE credentials, no fingerprint).
  const bogus = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n';
  const r = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: bogus });
  const body = await r.json();
  assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${JSON.stringify(body)}`);
  const ops = await server.json(`${MONITOR}/operations?status=failed&type=connect`);
  assert.ok(ops.body.operations.length >= 1);
  const connId = ops.body.operations[0].connection_id;
  const conn = await server.json(`${MONITOR}/connections/${connId}`);
  assert.equal(conn.body.connection.close, { reason: 'negotiation_failed', initiator: 'local' });
});
whep.run();

const player = suite('GET /player/:server_id');
player('serves a page that connects through WHEP, takes the token from the fragment (never the query), hangs up on pagehide and exposes window.pc', async () => {
  const stream = await server.stream();
  const res = await fetch(stream.url);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/html/);
  const csp = res.headers.get('content-security-policy')!;
  assert.match(csp, /script-src 'nonce-[^']+'/);
  const html = await res.text();
  for (const needle of ['location.hash', "get('token')", 'sessionStorage', 'history.replaceState', 'Authorization', 'window.pc = pc', "addEventListener('pagehide'", 'keepalive: true', "method: 'DELETE'", "direction: 'recvonly'", 'event.track', 'application/sdp']) {
    assert.ok(html.includes(needle), needle);
  }
  assert.not.ok(html.includes('location.search'), 'the query string (sent to the server, kept in logs) carries no token');
  const config = JSON.parse(/<script type="application\/json" id="config">([^<]*)<\/script>/.exec(html)![1]);
  assert.equal(config, { server_id: stream.server_id, mode: 'media', content: 'sample.webm', whep_url: `${WEBRTC}/whep/${stream.server_id}`, telemetry_path: '/api/v0/mcp/telemetry/rtcstats' });
});
player('escapes server text so it cannot break out of the page', async () => {
  // Content names are file names of the content directory; the escaping must hold for any text.
  const html = await (await fetch((await server.stream({ mode: 'data', content: 'README.md' })).url)).text();
  const block = /<script type="application\/json" id="config">([^<]*)<\/script>/.exec(html)![1];
  assert.not.match(block, /[<>&]/);
});
player('answers 404 for an unknown stream', async () => {
  const res = await fetch(`${server.url}/player/nope`);
  assert.is(res.status, 404);
});
player.after(() => server.stop());
player.run();

const admission = suite('WHEP peer admission');
let capped: WebRtcTestServer;
admission.before(async () => {
  capped = await startWebRtcServer({ maxPeers: 3 });
});
admission.after(() => capped.stop());

admission('admits exactly N of N + 5 concurrent offers; the rest get a clean 503 with Retry-After and leave nothing in the log', async () => {
  const stream = await capped.stream();
  const offer = await offerSdp('media');
  const before = dbOf(capped.services).prepare("SELECT count(*) FROM events WHERE type = 'operation.started'").pluck().get() as number;
  const responses = await Promise.all(
    Array.from({ length: 3 + 5 }, () => fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer })),
  );
  const statuses = responses.map((r) => r.status).sort();
  assert.equal(statuses, [201, 201, 201, 503, 503, 503, 503, 503]);
  for (const res of responses.filter((r) => r.status === 503)) {
    assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
    assert.match(res.headers.get('content-type') ?? '', 'application/problem+json');
    assert.is(((await res.json()) as { code: string }).code, 'UNAVAILABLE');
  }
  const sessions = responses.filter((r) => r.status === 201).map((r) => new URL(r.headers.get('location')!, stream.whep_url).toString());
  await Promise.all(responses.filter((r) => r.status === 201).map((r) => r.text()));
  assert.is((await capped.json(`${WEBRTC}/connections`)).body.length, 3);
  const after = dbOf(capped.services).prepare("SELECT count(*) FROM events WHERE type = 'operation.started'").pluck().get() as number;
  assert.is(after - before, 3, 'a refused offer starts no operation');

  // A slot frees when a session ends; the next offer is admitted.
  assert.is((await fetch(sessions[0], { method: 'DELETE' })).status, 204);
  const next = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
  assert.is(next.status, 201);
  await next.text();
});

admission('frees the slot of an offer that fails inside its operation', async () => {
  assert.is((await capped.json(`${WEBRTC}/connections/close-all`, { method: 'POST' })).status, 200);
  const stream = await capped.stream({ mode: 'data' });
  const admitted = async () => (await capped.json(`${WEBRTC}/stats/resources`)).body.webrtc.admitted_peers as number;
  const before = await admitted();
  // Passes the checks made before the operation, and werift refuses it (no ICE credentials, no fingerprint).
  const broken = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n';
  for (let i = 0; i < 5; i++) {
    const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: broken });
    const text = await res.text();
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${text}`);
  }
  assert.is(await admitted(), before, 'no slot kept by a failed negotiation');
});

admission.run();

const limits = suite('WHEP offers that would hold the event loop');
let limited: WebRtcTestServer;
limits.before(async () => {
  limited = await startWebRtcServer();
});
limits.after(() => limited.stop());

limits('refuses the oversized offers of the reports (12,000 candidates, 2,000 media sections) with 413, recording nothing', async () => {
  const stream = await limited.stream();
  const offer = await offerSdp('media');
  const at = offer.indexOf('a=candidate:');
  const candidates = offer.slice(0, at) + Array.from({ length: 12_000 }, (_, i) => `a=candidate:${i} 1 udp ${2122260223 - i} 10.${(i >> 8) & 255}.${i & 255}.1 ${40000 + (i % 20000)} typ host\r\n`).join('') + offer.slice(at);
  const sections = offer + Array.from({ length: 2000 }, (_, i) => `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:m${i}\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-mux\r\na=setup:actpass\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n`).join('');
  const count = () => dbOf(limited.services).prepare('SELECT count(*) FROM events').pluck().get() as number;
  const before = count();
  for (const body of [candidates, sections]) {
    assert.ok(body.length > 300_000 && body.length < 1024 * 1024, `${body.length} bytes (under the body limit: the offer limits refuse it)`);
    const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body });
    const problem = (await res.json()) as { code: string };
    assert.is(res.status, 413);
    assert.is(problem.code, 'PAYLOAD_TOO_LARGE');
  }
  // Under 64 KiB but too many candidates: 400, also before werift.
  const many = offer.slice(0, at) + Array.from({ length: 200 }, (_, i) => `a=candidate:${i} 1 udp 1 10.0.${i >> 8}.${i & 255} ${40000 + i} typ host\r\n`).join('') + offer.slice(at);
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: many });
  assert.is(res.status, 400);
  assert.match(((await res.json()) as { detail: string }).detail, 'candidates');
  assert.is(count(), before, 'nothing recorded');
});

limits('never answers a WHEP offer with 202 (a viewer needs the answer): past the deadline it is 504 TIMEOUT', async () => {
  // A deadline shorter than a negotiation of a heavy allowed offer (~20 ms of werift work), longer than creating a data stream (a few ms; retried).
  const hurried = await startWebRtcServer({ operationTimeoutMs: 8 });
  try {
    let stream: { whep_url: string } | null = null;
    for (let i = 0; i < 50 && !stream; i++) stream = await hurried.stream({ mode: 'data' }).catch(() => null);
    assert.ok(stream, 'a data stream within the deadline');
    // Within every limit, but as heavy as they allow: the most candidates, then lines.
    const offer = await offerSdp('data');
    const at = offer.indexOf('\r\n', offer.indexOf('\r\nm=') + 2);
    const lines = offer.split('\r\n').length;
    const candidates = offer.split('\r\n').filter((l) => l.startsWith('a=candidate:')).length;
    const extra = [
      ...Array.from({ length: MAX_OFFER_CANDIDATES - candidates }, (_, i) => `a=candidate:${900 + i} 1 udp ${2113937151 - i} 10.99.0.${i + 1} ${50000 + i} typ host`),
      ...Array.from({ length: MAX_OFFER_LINES - (MAX_OFFER_CANDIDATES - candidates) - lines }, (_, i) => `a=ssrc:${1000 + i} cname:heavy`),
    ];
    const heavy = offer.slice(0, at) + extra.map((l) => `\r\n${l}`).join('') + offer.slice(at);
    // Until one negotiation outlasts the deadline (most do): none may be a 202.
    let timedOut = false;
    for (let i = 0; i < 10 && !timedOut; i++) {
      const res = await fetch(stream!.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: heavy });
      const body = await res.text();
      assert.is.not(res.status, 202, body);
      if (res.status === 201) continue;
      assert.is(res.status, 504, body);
      assert.is(JSON.parse(body).code, 'TIMEOUT');
      timedOut = true;
    }
    assert.ok(timedOut, 'a negotiation outlasted the deadline');
  } finally {
    await hurried.stop();
  }
});

limits.run();

// ---- trickle ICE and ICE restart over PATCH (RFC 9725 section 4.3) ------------

const SDPFRAG = 'application/trickle-ice-sdpfrag';
/** The fragment a client sends for its local description: credentials, the first section's m-line, mid and candidates. */
function fragOf(sdp: string, options: { candidates?: boolean } = {}) {
  const section = sdp.split(/\r\n(?=m=)/)[1];
  return [
    `a=ice-ufrag:${/a=ice-ufrag:(\S+)/.exec(sdp)![1]}`,
    `a=ice-pwd:${/a=ice-pwd:(\S+)/.exec(sdp)![1]}`,
    /^m=.*$/m.exec(section)![0],
    `a=mid:${/a=mid:(\S+)/.exec(section)![1]}`,
    ...(options.candidates === false ? [] : [...section.matchAll(/^a=candidate:[^\r\n]+/gm)].map((m) => m[0])),
    'a=end-of-candidates',
  ].join('\r\n') + '\r\n';
}

const ice = suite('WHEP PATCH: trickle ICE and ICE restart');
let iceServer: WebRtcTestServer;
ice.before(async () => {
  iceServer = await startWebRtcServer();
});
ice.after(() => iceServer.stop());

/** A werift viewer that offers without candidates (a trickling client), connected; its session URL and ETag. */
async function tricklingViewer(whepUrl: string) {
  const pc = new RTCPeerConnection(await viewerPeerConfig());
  let rtp = 0;
  pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => rtp++));
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await waitFor(() => pc.iceGatheringState === 'complete', 3000, 'gathering');
  const offer = pc.localDescription!.sdp.replace(/^a=(candidate|end-of-candidates).*\r\n/gm, '');
  const res = await fetch(whepUrl, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
  assert.is(res.status, 201);
  const session = new URL(res.headers.get('location')!, whepUrl).toString();
  const etag = res.headers.get('etag')!;
  assert.is(res.headers.get('accept-patch'), SDPFRAG);
  const answer = await res.text();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  return { pc, session, etag, answer, rtp: () => rtp };
}
const patch = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'PATCH', headers: { 'content-type': SDPFRAG, ...headers }, body });

ice('answers the 201 with an ETag; PATCHed candidates are taken with 204 (same ETag) and recorded, and the viewer plays', async () => {
  const stream = await iceServer.stream();
  const viewer = await tricklingViewer(stream.whep_url);
  try {
    assert.match(viewer.etag, /^"[A-Za-z0-9_-]+"$/);
    const res = await patch(viewer.session, fragOf(viewer.pc.localDescription!.sdp), { 'if-match': viewer.etag });
    assert.is(res.status, 204, await res.clone().text());
    assert.is(res.headers.get('etag'), viewer.etag, 'trickle does not change the ICE session');
    await waitFor(() => viewer.pc.connectionState === 'connected', 5000, 'connected');
    await waitFor(() => viewer.rtp() > 0, 5000, 'media');
    const id = viewer.session.split('/').pop()!;
    const remote = dbOf(iceServer.services)
      .prepare("SELECT count(*) FROM events WHERE stream = ? AND type = 'connection.candidate' AND json_extract(data, '$.origin') = 'remote'")
      .pluck()
      .get(`connection:${id}`) as number;
    assert.ok(remote >= 1, 'the trickled candidates are on the record');
  } finally {
    await viewer.pc.close();
  }
});

ice('refuses an ICE restart without If-Match (428), a stale If-Match (412), another type (415), not SDP (400), a bad candidate (422); never 405; a trickle without If-Match is taken', async () => {
  const stream = await iceServer.stream();
  const viewer = await tricklingViewer(stream.whep_url);
  try {
    const frag = fragOf(viewer.pc.localDescription!.sdp);
    const restart = 'a=ice-ufrag:NeWu\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n';
    const cases: [Response, number, string][] = [
      [await patch(viewer.session, restart), 428, 'PRECONDITION_REQUIRED'],
      [await patch(viewer.session, frag, { 'if-match': '"stale"' }), 412, 'PRECONDITION_FAILED'],
      [await patch(viewer.session, frag, { 'if-match': `W/${viewer.etag}` }), 412, 'PRECONDITION_FAILED'],
      [await fetch(viewer.session, { method: 'PATCH', headers: { 'content-type': 'application/sdp', 'if-match': viewer.etag }, body: frag }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [await patch(viewer.session, 'hello there', { 'if-match': viewer.etag }), 400, 'BAD_REQUEST'],
      [await patch(viewer.session, 'm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:x 1 udp nope 1.2.3.4 1 typ host\r\n', { 'if-match': viewer.etag }), 422, 'VALIDATION_FAILED'],
      [await patch(`${stream.whep_url}/sessions/nope`, frag, { 'if-match': viewer.etag }), 404, 'NOT_FOUND'],
    ];
    for (const [res, status, code] of cases) {
      const body = (await res.json()) as { code: string };
      assert.is(res.status, status, `${status} ${code}: ${JSON.stringify(body)}`);
      assert.is(body.code, code);
    }
    // What medooze's whip-whep sends: candidates under the session's own credentials, no If-Match.
    const bare = await patch(viewer.session, frag);
    assert.is(bare.status, 204);
    assert.is(bare.headers.get('etag'), viewer.etag);
  } finally {
    await viewer.pc.close();
  }
});

ice('restarts ICE: new credentials in, 200 with the server\'s new credentials and candidates and a new ETag out; media flows again; the old ETag is then stale', async () => {
  const stream = await iceServer.stream();
  const viewer = await tricklingViewer(stream.whep_url);
  try {
    const trickled = await patch(viewer.session, fragOf(viewer.pc.localDescription!.sdp), { 'if-match': viewer.etag });
    assert.is(trickled.status, 204);
    await waitFor(() => viewer.pc.connectionState === 'connected', 5000, 'connected');
    const oldServerUfrag = /a=ice-ufrag:(\S+)/.exec(viewer.answer)![1];
    await viewer.pc.setLocalDescription(await viewer.pc.createOffer({ iceRestart: true }));
    await waitFor(() => viewer.pc.iceGatheringState === 'complete', 3000, 'gathering again');
    const res = await patch(viewer.session, fragOf(viewer.pc.localDescription!.sdp), { 'if-match': '*' });
    const text = await res.text();
    assert.is(res.status, 200, text);
    assert.is(res.headers.get('content-type'), SDPFRAG);
    const etag = res.headers.get('etag')!;
    assert.ok(etag && etag !== viewer.etag, 'a new entity-tag for the new ICE session');
    const ufrag = /a=ice-ufrag:(\S+)/.exec(text)![1];
    const pwd = /a=ice-pwd:(\S+)/.exec(text)![1];
    assert.is.not(ufrag, oldServerUfrag);
    assert.match(text, /a=candidate:.* 127\.0\.0\.1 /);
    // The client applies them to the answer it holds.
    const candidates = [...text.matchAll(/^a=candidate:[^\r\n]+\r\n/gm)].map((m) => m[0]).join('');
    const answer = viewer.answer
      .replace(/^a=candidate:.*\r\n/gm, '')
      .replace(/^a=end-of-candidates\r\n/gm, '')
      .replace(/^a=ice-ufrag:.*$/gm, `a=ice-ufrag:${ufrag}`)
      .replace(/^a=ice-pwd:.*$/gm, `a=ice-pwd:${pwd}`)
      .replace(/(a=mid:[^\r\n]+\r\n)/, `$1${candidates}`);
    await viewer.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    // The werift viewer needs the same nudge as the server (docs/werift.md,
    // "ICE restart"): its connect() skips ICE while DTLS is up. Browsers do not.
    for (const dtls of viewer.pc.dtlsTransports) void dtls.iceTransport.start();
    const before = viewer.rtp();
    try {
      await waitFor(() => viewer.pc.connectionState === 'connected' && viewer.rtp() > before + 10, 10_000, 'media after the restart');
    } catch (err) {
      const id = viewer.session.split('/').pop()!;
      console.log(viewer.pc.connectionState, viewer.pc.iceConnectionState, viewer.rtp(), before, JSON.stringify(dbOf(iceServer.services).prepare('SELECT type, data FROM events WHERE stream = ? ORDER BY position').all(`connection:${id}`).slice(-15)));
      console.log(answer);
      throw err;
    }
    const ops = await iceServer.json(`${MONITOR}/operations?status=all&type=ice_restart`);
    assert.is(ops.body.operations.length, 1);
    assert.is(ops.body.operations[0].status, 'completed');
    const stale = await patch(viewer.session, fragOf(viewer.pc.localDescription!.sdp, { candidates: false }), { 'if-match': viewer.etag });
    assert.is(stale.status, 412);
    await stale.body?.cancel();
    const fresh = await patch(viewer.session, fragOf(viewer.pc.localDescription!.sdp, { candidates: false }), { 'if-match': etag });
    assert.is(fresh.status, 204);
  } finally {
    await viewer.pc.close();
  }
});

ice.run();

// ---- what a WHEP client reads from the answer, and offers we cannot serve ----

const answers = suite('WHEP answers: ICE servers, candidates, OPTIONS, codecs');
let linked: WebRtcTestServer;
answers.before(async () => {
  linked = await startWebRtcServer({ iceServers: ['stun:127.0.0.1:3478', 'turn:127.0.0.1:3478?transport=udp'] });
});
answers.after(() => linked.stop());

answers('names the configured ICE servers in Link headers (rel="ice-server") on the 201', async () => {
  const stream = await linked.stream();
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: await offerSdp('media') });
  assert.is(res.status, 201);
  assert.is(res.headers.get('link'), '<stun:127.0.0.1:3478>; rel="ice-server", <turn:127.0.0.1:3478?transport=udp>; rel="ice-server"');
  await fetch(new URL(res.headers.get('location')!, stream.whep_url), { method: 'DELETE' }).then((r) => r.body?.cancel());
});

answers('offers host candidates on loopback only with --ice-host-address 127.0.0.1, and on loopback among others by default', async () => {
  const byDefault = await linked.stream();
  const usual = await fetch(byDefault.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: await offerSdp('media') });
  assert.match(await usual.text(), /^a=candidate:\S+ \d+ \S+ \d+ 127\.0\.0\.1 \d+ typ host/m);
  await fetch(new URL(usual.headers.get('location')!, byDefault.whep_url), { method: 'DELETE' }).then((r) => r.body?.cancel());
  const loopback = await startWebRtcServer({ iceAdditionalHostAddresses: ['127.0.0.1'] });
  try {
  const stream = await loopback.stream();
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: await offerSdp('media') });
  const answer = await res.text();
  const addresses = [...answer.matchAll(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (\w+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.equal([...new Set(addresses)], ['127.0.0.1 host']);
  await fetch(new URL(res.headers.get('location')!, stream.whep_url), { method: 'DELETE' }).then((r) => r.body?.cancel());
  } finally {
    await loopback.stop();
  }
});

answers('answers OPTIONS with what the endpoint and a session take (Accept-Post, Accept-Patch)', async () => {
  const stream = await linked.stream();
  const endpoint = await fetch(stream.whep_url, { method: 'OPTIONS' });
  assert.is(endpoint.status, 204);
  assert.is(endpoint.headers.get('accept-post'), 'application/sdp');
  assert.match(endpoint.headers.get('allow')!, 'POST');
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: await offerSdp('media') });
  await res.text();
  const session = new URL(res.headers.get('location')!, stream.whep_url);
  const options = await fetch(session, { method: 'OPTIONS' });
  assert.is(options.status, 204);
  assert.is(options.headers.get('accept-patch'), 'application/trickle-ice-sdpfrag');
  assert.is(options.headers.get('allow'), 'OPTIONS, PATCH, DELETE');
  await fetch(session, { method: 'DELETE' }).then((r) => r.body?.cancel());
});

answers('refuses an H.264-only offer to a VP8 stream with 406 CODEC_NOT_SUPPORTED naming both, and a wrong type with 415, recording nothing', async () => {
  const stream = await linked.stream();
  const vp8 = await offerSdp('media');
  // The same offer with its video codecs renamed: only H.264 on offer (werift's rtx lines stay, and are not codecs a stream plays).
  const h264Only = vp8.replace(/^a=rtpmap:(\d+) VP8\/90000/gim, 'a=rtpmap:$1 H264/90000');
  assert.not.match(h264Only, /VP8/i);
  const count = () => dbOf(linked.services).prepare('SELECT count(*) FROM events').pluck().get() as number;
  const before = count();
  const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: h264Only });
  assert.is(res.status, 406);
  assert.match(res.headers.get('content-type')!, 'application/problem+json');
  const problem = (await res.json()) as { code: string; detail: string; errors: unknown };
  assert.is(problem.code, 'CODEC_NOT_SUPPORTED');
  assert.match(problem.detail, /VP8/);
  assert.match(problem.detail, /H264/);
  assert.equal(problem.errors, { kind: 'video', stream_codec: 'vp8', offered: ['h264'] });
  const text = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: vp8 });
  assert.is(text.status, 415);
  assert.is(((await text.json()) as { code: string }).code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.is(count(), before);
});

answers.run();
