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
import { MONITOR, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { tempDir } from '../helpers/db.ts';
import { connectViewer } from '../../src/webrtc/viewer.ts';

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
  console.log(`    [detect timing] ${what}: ${ms} ms`);
}

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

Live.run();
