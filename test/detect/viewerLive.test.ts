// Viewer-side detectors on real peers: a werift viewer playing a real stream
// reports what it receives through the real rtcstats client transport
// (trace-ws.js over the monitor's WebSocket), as a page with rtcstats.js
// would: its answer (so the monitor joins the trace to the server
// connection) and a getStats()-shaped report every 250 ms whose frame
// counters are the frames the viewer really received. The faults are real
// too: the viewer's transport drops what arrives (a freeze), or the server
// sends only keyframes (quality low: a frame-rate drop). The times from each
// fault to issue.raised and from each recovery to issue.resolved are printed
// (log timestamps against the moment the test made the change).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredEvent } from '../../src/log/catalogue.ts';
import { RTCSTATS_PATH } from '../../src/http/rtcstatsSocket.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { tempDir } from '../helpers/db.ts';
import { deltaCompression, rtcstatsTrace } from '../helpers/rtcstats.ts';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';

/** Only the viewer detectors: the faults below also move loss, RTT and bitrate, which are not under test here. */
const others = Object.fromEntries(
  ['connection_failed', 'slow_setup', 'stalled', 'high_rtt', 'high_jitter', 'high_loss', 'bitrate_collapse'].map((d) => [d, { enabled: false }]),
);

async function serverWithRules(rules: object) {
  const { dir, cleanup } = tempDir();
  const rulesPath = join(dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify({ tick_ms: 100, ...others, ...rules }));
  const server = await startWebRtcServer({ rulesPath });
  return { server, cleanup };
}

const issueEvents = (s: WebRtcTestServer) => s.services.store.readLog({ after: 0, limit: 10_000, streamPrefix: 'issue:' });
const raisedOf = async (s: WebRtcTestServer, type: string, connectionId: string) =>
  (await issueEvents(s)).find((e) => e.type === 'issue.raised' && e.data.type === type && e.data.connection_id === connectionId);
const resolvedOf = async (s: WebRtcTestServer, raised: StoredEvent) => (await issueEvents(s)).find((e) => e.stream === raised.stream && e.type === 'issue.resolved');
const clientEvents = (s: WebRtcTestServer, type: 'client.correlated' | 'client.stats_sampled') => s.services.store.readLog({ after: 0, limit: 10_000, types: [type] });

function report(what: string, ms: number) {
  console.log(`    [measure] ${what}: ${ms} ms`);
}

/** werift 0.24 drops an inbound packet when inboundPacketLoss / 100 < Math.random(); 0 (falsy) drops nothing. */
function setInboundKeep(pc: unknown, keepPercent: number) {
  const config = (pc as { config: { debug?: { inboundPacketLoss?: number } } }).config;
  config.debug = { ...config.debug, inboundPacketLoss: keepPercent };
}

const sdpLine = (sdp: string, re: RegExp) => re.exec(sdp)?.[1] ?? null;

/** A Chrome-shaped getStats() report of the viewer's video receiver, from what it really received so far. */
function receiverReport(viewer: Viewer, localUfrag: string | null, remoteFingerprint: string | null) {
  const ts = Date.now();
  return {
    IT01V1: {
      id: 'IT01V1', timestamp: ts, type: 'inbound-rtp', kind: 'video', ssrc: 1234, trackIdentifier: 'trk', mid: '0', codecId: 'CIT01_96',
      packetsReceived: viewer.packets, bytesReceived: viewer.receivedBytes, packetsLost: 0, jitter: 0.002,
      framesReceived: viewer.frames, framesDecoded: viewer.frames, framesDropped: 0, frameWidth: 640, frameHeight: 360,
    },
    CIT01_96: { id: 'CIT01_96', timestamp: ts, type: 'codec', mimeType: 'video/VP8', payloadType: 96 },
    T01: { id: 'T01', timestamp: ts, type: 'transport', selectedCandidatePairId: 'CPa', iceLocalUsernameFragment: localUfrag, remoteCertificateId: 'CFremote', dtlsState: 'connected' },
    CFremote: { id: 'CFremote', timestamp: ts, type: 'certificate', fingerprint: remoteFingerprint, fingerprintAlgorithm: 'sha-256' },
    CPa: { id: 'CPa', timestamp: ts, type: 'candidate-pair', state: 'succeeded', nominated: true, currentRoundTripTime: 0.001, bytesReceived: viewer.receivedBytes },
  };
}

/**
 * Connects the viewer's report: its answer, then a report every `everyMs`.
 * Resolves once the monitor has joined the trace to the viewer's server connection.
 */
async function reportFrom(server: WebRtcTestServer, viewer: Viewer, everyMs = 250) {
  const trace = await rtcstatsTrace({ endpoint: server.url.replace('http', 'ws') + RTCSTATS_PATH, meetingFqn: 'viewer-detectors' });
  trace.connect();
  const answer = viewer.pc.remoteDescription!.sdp;
  const offer = viewer.pc.localDescription!.sdp;
  const localUfrag = sdpLine(offer, /^a=ice-ufrag:(\S+)/m);
  const remoteFingerprint = sdpLine(answer, /^a=fingerprint:\S+ (\S+)/m);
  trace.statsEntry('create', 'PC_0', {});
  trace.statsEntry('setLocalDescription', 'PC_0', { type: 'offer', sdp: offer });
  trace.statsEntry('setRemoteDescription', 'PC_0', { type: 'answer', sdp: answer });
  trace.statsEntry('onconnectionstatechange', 'PC_0', 'connected');
  let previous: Record<string, Record<string, unknown>> = {};
  const timer = setInterval(() => {
    const now = receiverReport(viewer, localUfrag, remoteFingerprint);
    trace.statsEntry('getstats', 'PC_0', deltaCompression(previous, now));
    previous = now;
  }, everyMs);
  await waitFor(async () => (await clientEvents(server, 'client.correlated')).find((e) => e.type === 'client.correlated' && e.data.connection_id === viewer.connectionId), 10_000, 'the report joined to the connection');
  return {
    stop() {
      clearInterval(timer);
      trace.close();
    },
  };
}

async function playing(server: WebRtcTestServer) {
  const stream = await server.stream();
  const viewer = await connectViewer(stream.whep_url, { expect: 'media', timeoutMs: 30_000 });
  await waitFor(async () => (await server.json(`${MONITOR}/connections/${viewer.connectionId}`)).body.connection.category === 'connected', 10_000, 'connected');
  await waitFor(() => viewer.frames > 30, 10_000, 'frames arriving');
  return viewer;
}

const Live = suite('viewer detectors on a real viewer reporting over rtcstats');

Live('a viewer whose video freezes (its transport drops what arrives) raises viewer_freeze on its connection; frames again resolve it', async () => {
  const { server, cleanup } = await serverWithRules({ viewer_freeze: { threshold_ms: 800, window_ms: 3000, hold_ms: 500 }, viewer_low_fps: { enabled: false } });
  let viewer: Viewer | null = null;
  let reporting: { stop(): void } | null = null;
  try {
    viewer = await playing(server);
    reporting = await reportFrom(server, viewer);
    // A few reports of a playing video first.
    const before = (await clientEvents(server, 'client.stats_sampled')).length;
    await waitFor(async () => (await clientEvents(server, 'client.stats_sampled')).length >= before + 4, 10_000, 'reports while playing');
    assert.is(await raisedOf(server, 'viewer_freeze', viewer.connectionId), undefined, 'a playing video is not frozen');
    const faultAt = Date.now();
    setInboundKeep(viewer.pc, 0.0001);
    const raised = await waitFor(() => raisedOf(server, 'viewer_freeze', viewer!.connectionId), 20_000, 'viewer_freeze raised');
    assert.ok(raised.type === 'issue.raised' && raised.data.value! >= 800 && raised.data.subject === `connection:${viewer.connectionId}`);
    report('viewer_freeze: fault -> issue.raised', raised.recordedAt - faultAt);
    const frozenAt = viewer.frames;
    const recoveredAt = Date.now();
    setInboundKeep(viewer.pc, 0);
    const resolved = await waitFor(() => resolvedOf(server, raised), 20_000, 'viewer_freeze resolved');
    assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared');
    assert.ok(viewer.frames > frozenAt, 'frames arrive again');
    report('viewer_freeze: recovery -> issue.resolved (hold 500 ms)', resolved.recordedAt - recoveredAt);
    assert.is((await issueEvents(server)).filter((e) => e.type === 'issue.raised').length, 1, 'raised once, nothing else');
  } finally {
    reporting?.stop();
    await viewer?.close();
    await server.stop();
    cleanup();
  }
});

Live('a viewer sent only keyframes (quality low) raises viewer_low_fps; every frame again resolves it', async () => {
  const { server, cleanup } = await serverWithRules({ viewer_low_fps: { threshold: 10, window_ms: 2000, min_samples: 4, hold_ms: 500 }, viewer_freeze: { enabled: false } });
  let viewer: Viewer | null = null;
  let reporting: { stop(): void } | null = null;
  const quality = (q: string) => server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: viewer!.connectionId, quality: q } });
  try {
    viewer = await playing(server);
    reporting = await reportFrom(server, viewer);
    const before = (await clientEvents(server, 'client.stats_sampled')).length;
    await waitFor(async () => (await clientEvents(server, 'client.stats_sampled')).length >= before + 4, 10_000, 'reports while playing');
    const faultAt = Date.now();
    assert.is((await quality('low')).status, 200);
    const raised = await waitFor(() => raisedOf(server, 'viewer_low_fps', viewer!.connectionId), 20_000, 'viewer_low_fps raised');
    assert.ok(raised.type === 'issue.raised' && raised.data.value! < 10);
    report('viewer_low_fps: quality low -> issue.raised', raised.recordedAt - faultAt);
    const recoveredAt = Date.now();
    assert.is((await quality('high')).status, 200);
    const resolved = await waitFor(() => resolvedOf(server, raised), 20_000, 'viewer_low_fps resolved');
    assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared');
    report('viewer_low_fps: quality high -> issue.resolved (hold 500 ms)', resolved.recordedAt - recoveredAt);
  } finally {
    reporting?.stop();
    await viewer?.close();
    await server.stop();
    cleanup();
  }
});

Live.run();
