// Real peers, real faults: a werift viewer that drops what arrives (werift's
// own inbound loss switch, turned on and off while it plays), a viewer that
// vanishes without hanging up, and a task whose work ignores its deadline.
// Each waits for the issue events in the log; the times from each fault to
// issue.raised and from each recovery to issue.resolved are printed for the
// record (log timestamps against the moment the test made the fault).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredEvent } from '../../src/log/catalogue.ts';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { tempDir } from '../helpers/db.ts';
import { connectViewer, openViewer } from '../../src/webrtc/viewer.ts';

async function serverWithRules(rules: object, config: Parameters<typeof startWebRtcServer>[0] = {}) {
  const { dir, cleanup } = tempDir();
  const rulesPath = join(dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify(rules));
  const server = await startWebRtcServer({ rulesPath, ...config });
  return { server, cleanup };
}

const issueEvents = (s: WebRtcTestServer) => s.services.store.readLog({ after: 0, limit: 10_000, streamPrefix: 'issue:' });
const raisedOf = async (s: WebRtcTestServer, type: string, connectionId?: string, after = 0) =>
  (await issueEvents(s)).find((e) => e.type === 'issue.raised' && e.data.type === type && (!connectionId || e.data.connection_id === connectionId) && e.recordedAt >= after);
const resolvedOf = async (s: WebRtcTestServer, raised: StoredEvent) => (await issueEvents(s)).find((e) => e.stream === raised.stream && e.type === 'issue.resolved');
const readAll = (s: WebRtcTestServer, options: Parameters<WebRtcTestServer['services']['store']['readLog']>[0]) => s.services.store.readLog(options);

function report(what: string, ms: number) {
  console.log(`    [measure] ${what}: ${ms} ms`);
}

/** Every detector off but those named (the faults below move more than the one under test). */
const only = (...keep: string[]) =>
  Object.fromEntries(
    ['connection_failed', 'slow_setup', 'stalled', 'high_rtt', 'high_jitter', 'high_loss', 'bitrate_collapse', 'operation_overdue', 'task_abandoned', 'viewer_freeze', 'viewer_low_fps']
      .filter((d) => !keep.includes(d))
      .map((d) => [d, { enabled: false }]),
  );

/** werift 0.24 drops an inbound packet when inboundPacketLoss / 100 < Math.random(); 0 (falsy) drops nothing. */
function setInboundLoss(pc: unknown, keepPercent: number) {
  const config = (pc as { config: { debug?: { inboundPacketLoss?: number } } }).config;
  config.debug = { ...config.debug, inboundPacketLoss: keepPercent };
}

const Live = suite('detectors on real peers');

Live('a viewer dropping half of what arrives raises a loss issue, which resolves after the loss stops', async () => {
  const { server, cleanup } = await serverWithRules({
    tick_ms: 100,
    high_loss: { threshold: 3, window_ms: 1500, min_samples: 2, hold_ms: 500 },
    // The drops also hit RTCP and retransmissions: only loss is under test here.
    high_rtt: { enabled: false },
    high_jitter: { enabled: false },
    bitrate_collapse: { enabled: false },
  });
  try {
    const stream = await server.stream();
    const viewer = await connectViewer(stream.whep_url, { expect: 'media', timeoutMs: 30_000 });
    await waitFor(async () => (await server.json(`${MONITOR}/connections/${viewer.connectionId}`)).body.connection.category === 'connected', 10_000, 'connected');
    try {
      // Set up first, then the fault: the same object werift's DTLS transport reads for every packet.
      const faultAt = Date.now();
      setInboundLoss(viewer.pc, 50);
      const raised = await waitFor(() => raisedOf(server, 'high_loss', viewer.connectionId), 20_000, 'high_loss raised');
      assert.ok(raised.type === 'issue.raised' && raised.data.value! > 3);
      report('high_loss: fault -> issue.raised', raised.recordedAt - faultAt);
      const recoveredAt = Date.now();
      setInboundLoss(viewer.pc, 0);
      const resolved = await waitFor(() => resolvedOf(server, raised), 20_000, 'high_loss resolved');
      assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared');
      report('high_loss: recovery -> issue.resolved', resolved.recordedAt - recoveredAt);
      assert.is((await issueEvents(server)).filter((e) => e.type === 'issue.raised' && e.data.type === 'high_loss').length, 1, 'raised once');
      // The score saw the loss too.
      const [sample] = await readAll(server, { after: raised.data.cause_position! - 1, limit: 1, types: ['connection.stats_sampled'], stream: `connection:${viewer.connectionId}` });
      assert.ok(sample?.type === 'connection.stats_sampled' && sample.data.score && sample.data.score.reasons.some((r) => /loss/.test(r)), 'the lossy sample scores its loss');
    } finally {
      await viewer.close();
    }
  } finally {
    await server.stop();
    cleanup();
  }
});

Live('a viewer that vanishes raises a stall, then a failure once consent expires', async () => {
  const { server, cleanup } = await serverWithRules(
    { tick_ms: 100, stalled: { hold_ms: 0 }, connection_failed: { hold_ms: 300 }, high_rtt: { enabled: false }, high_jitter: { enabled: false }, high_loss: { enabled: false }, bitrate_collapse: { enabled: false } },
    { stallAfterMs: 800, consentTimeoutMs: 2500 },
  );
  try {
    const stream = await server.stream();
    const viewer = await connectViewer(stream.whep_url, { expect: 'media', timeoutMs: 30_000 });
    // The server's side of the handshake may finish after the viewer's: liveness is judged from there.
    await waitFor(async () => (await server.json(`${MONITOR}/connections/${viewer.connectionId}`)).body.connection.category === 'connected', 10_000, 'connected');
    const goneAt = Date.now();
    await viewer.leave();
    // A loaded machine can make a live viewer look silent for a moment too: the stall that counts is the one after it left.
    const stalled = await waitFor(() => raisedOf(server, 'stalled', viewer.connectionId, goneAt), 10_000, 'stalled raised');
    report('stalled: viewer gone -> issue.raised', stalled.recordedAt - goneAt);
    const failed = await waitFor(() => raisedOf(server, 'connection_failed', viewer.connectionId), 10_000, 'connection_failed raised');
    report('connection_failed: viewer gone -> issue.raised', failed.recordedAt - goneAt);
    assert.ok(failed.position > stalled.position, 'the stall comes first');
    const stallEnded = await waitFor(() => resolvedOf(server, stalled), 10_000, 'stall resolved');
    assert.ok(stallEnded.type === 'issue.resolved' && stallEnded.data.resolution === 'subject_ended');
    const failureResolved = await waitFor(() => resolvedOf(server, failed), 10_000, 'failure resolved after its hold time');
    const closedAt = (await readAll(server, { after: 0, limit: 1000, stream: `connection:${viewer.connectionId}`, types: ['connection.closed'] }))[0].recordedAt;
    assert.ok(failureResolved.recordedAt - closedAt >= 300, 'not before the hold time');
    report('connection_failed: failure (close by ICE) -> issue.resolved, hold 300 ms', failureResolved.recordedAt - closedAt);
  } finally {
    await server.stop();
    cleanup();
  }
});

Live('a task whose work ignores its deadline raises task_abandoned, resolved when the work settles', async () => {
  const { server, cleanup } = await serverWithRules({ tick_ms: 100 });
  try {
    let release!: (v: string) => void;
    const outcome = await server.services.runner.run('stubborn', {}, () => new Promise<string>((r) => (release = r)), { timeoutMs: 50 });
    assert.is(outcome.status, 'failed');
    const abandonedAt = (await readAll(server, { after: 0, limit: 1000, types: ['task.timed_out'] }))[0].recordedAt;
    const raised = await waitFor(() => raisedOf(server, 'task_abandoned'), 10_000, 'task_abandoned raised');
    report('task_abandoned: task.timed_out -> issue.raised', raised.recordedAt - abandonedAt);
    assert.ok(raised.type === 'issue.raised' && raised.data.operation_id === outcome.operationId);
    const releasedAt = Date.now();
    release('late');
    const resolved = await waitFor(() => resolvedOf(server, raised), 10_000, 'task_abandoned resolved');
    report('task_abandoned: work settles -> issue.resolved', resolved.recordedAt - releasedAt);
  } finally {
    await server.stop();
    cleanup();
  }
});

Live('a viewer that holds back the answer (so ICE cannot start) raises slow_setup, resolved after it connects and the hold passes', async () => {
  const { server, cleanup } = await serverWithRules({ tick_ms: 100, ...only('slow_setup'), slow_setup: { threshold_ms: 1000, hold_ms: 300 } });
  try {
    const stream = await server.stream();
    let appliedAt = 0;
    let created = null as StoredEvent | null;
    let raisedWhileWaiting = null as StoredEvent | null;
    // The real WHEP exchange, except that the viewer sits on the answer until the monitor has raised the issue.
    const viewer = await openViewer(async (offer) => {
      const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
      assert.is(res.status, 201);
      const answerSdp = await res.text();
      const connectionId = decodeURIComponent(new URL(res.headers.get('location')!, stream.whep_url).pathname.split('/').pop()!);
      created = (await readAll(server, { after: 0, limit: 10, stream: `connection:${connectionId}`, types: ['connection.created'] }))[0];
      raisedWhileWaiting = await waitFor(() => raisedOf(server, 'slow_setup', connectionId), 20_000, 'slow_setup raised while the answer is held');
      appliedAt = Date.now();
      return { answerSdp, connectionId };
    }, { expect: 'media', timeoutMs: 30_000 });
    try {
      const raised = raisedWhileWaiting!;
      assert.ok(raised.type === 'issue.raised' && raised.data.value! > 1000 && raised.data.connection_id === viewer.connectionId);
      report('slow_setup: connection.created (answer held) -> issue.raised, threshold 1000 ms', raised.recordedAt - created!.recordedAt);
      const resolved = await waitFor(() => resolvedOf(server, raised), 20_000, 'slow_setup resolved');
      assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared');
      const connected = (await readAll(server, { after: 0, limit: 100, stream: `connection:${viewer.connectionId}`, types: ['connection.state_changed'] })).find(
        (e) => e.type === 'connection.state_changed' && e.data.kind === 'connection' && e.data.to === 'connected',
      )!;
      assert.ok(resolved.recordedAt - connected.recordedAt >= 300, 'not before the hold');
      report('slow_setup: answer applied -> issue.resolved, hold 300 ms', resolved.recordedAt - appliedAt);
      report('slow_setup: (answer applied -> connection connected)', connected.recordedAt - appliedAt);
    } finally {
      await viewer.close();
    }
  } finally {
    await server.stop();
    cleanup();
  }
});

Live('an operation held past its deadline (work that ignores its signal, kept through the runner\'s abandon grace) raises operation_overdue, resolved when it ends', async () => {
  const { server, cleanup } = await serverWithRules({ tick_ms: 10, ...only('operation_overdue'), operation_overdue: { grace_ms: 0, hold_ms: 0 } });
  try {
    let release!: (v: string) => void;
    const outcome = await server.services.runner.run('held', {}, () => new Promise<string>((r) => (release = r)), { timeoutMs: 200 });
    assert.is(outcome.status, 'failed');
    const [started] = await readAll(server, { after: 0, limit: 10, stream: `operation:${outcome.operationId}`, types: ['operation.started'] });
    const [ended] = await readAll(server, { after: 0, limit: 10, stream: `operation:${outcome.operationId}`, types: ['operation.failed'] });
    const deadlineAt = started.recordedAt + 200;
    const raised = await waitFor(() => raisedOf(server, 'operation_overdue'), 10_000, 'operation_overdue raised');
    assert.ok(raised.type === 'issue.raised' && raised.data.operation_id === outcome.operationId && raised.recordedAt < ended.recordedAt);
    report('operation_overdue: deadline -> issue.raised (grace 0)', raised.recordedAt - deadlineAt);
    report('operation_overdue: (deadline -> operation.failed, how long it was held)', ended.recordedAt - deadlineAt);
    const resolved = await waitFor(() => resolvedOf(server, raised), 10_000, 'operation_overdue resolved');
    assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared');
    report('operation_overdue: operation.failed -> issue.resolved (hold 0)', resolved.recordedAt - ended.recordedAt);
    release('late');
  } finally {
    await server.stop();
    cleanup();
  }
});

Live('a viewer switched to keyframes only (quality low) raises bitrate_collapse; every frame again resolves it', async () => {
  const { server, cleanup } = await serverWithRules(
    { tick_ms: 100, ...only('bitrate_collapse'), bitrate_collapse: { ratio: 0.6, min_baseline_bps: 50_000, min_samples: 3, hold_ms: 500 } },
    { statsIntervalMs: 250 },
  );
  try {
    const stream = await server.stream();
    const viewer = await connectViewer(stream.whep_url, { expect: 'media', timeoutMs: 30_000 });
    const quality = (q: string) => server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: viewer.connectionId, quality: q } });
    const samples = () => readAll(server, { after: 0, limit: 10_000, stream: `connection:${viewer.connectionId}`, types: ['connection.stats_sampled'] });
    try {
      // A recent level first: a few samples of every frame.
      await waitFor(async () => (await samples()).filter((e) => e.type === 'connection.stats_sampled' && (e.data.bitrate_out_bps ?? 0) > 50_000).length >= 6, 20_000, 'samples at full rate');
      const faultAt = Date.now();
      assert.is((await quality('low')).status, 200);
      const raised = await waitFor(() => raisedOf(server, 'bitrate_collapse', viewer.connectionId), 20_000, 'bitrate_collapse raised');
      assert.ok(raised.type === 'issue.raised' && raised.data.value! < raised.data.threshold!);
      report('bitrate_collapse: quality low -> issue.raised', raised.recordedAt - faultAt);
      const recoveredAt = Date.now();
      assert.is((await quality('high')).status, 200);
      const resolved = await waitFor(() => resolvedOf(server, raised), 20_000, 'bitrate_collapse resolved');
      assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared');
      report('bitrate_collapse: quality high -> issue.resolved (hold 500 ms)', resolved.recordedAt - recoveredAt);
      const rates = (await samples()).map((e) => (e.type === 'connection.stats_sampled' ? e.data.bitrate_out_bps : null));
      console.log(`    [measure] bitrate_collapse: outbound bps samples ${rates.join(' ')}`);
    } finally {
      await viewer.close();
    }
  } finally {
    await server.stop();
    cleanup();
  }
});

Live.run();
