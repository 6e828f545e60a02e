import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { AppError } from '../../src/errors.ts';
import type { NewEvent } from '../../src/log/catalogue.ts';
import { scrape, value, type Family } from '../helpers/metrics.ts';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor } from '../helpers/webrtc.ts';

const stats = (bytesSent: number, packetsSent: number): NewEvent => ({
  type: 'connection.stats_sampled',
  data: {
    bytes_sent: bytesSent,
    bytes_received: 100,
    packets_sent: packetsSent,
    packets_received: 3,
    packets_lost: 1,
    rtt_ms: 1.5,
    jitter_ms: 0.2,
    bitrate_out_bps: 8000,
    bitrate_in_bps: 800,
    interval_ms: 1000,
  },
});

/** Drives a connection to connected with real log events. */
async function connected(server: TestServer, id: string, extra: NewEvent[] = []) {
  await server.services.store.append(`connection:${id}`, [
    { type: 'connection.created', data: { connection_id: id, mode: 'media' } },
    { type: 'connection.state_changed', data: { kind: 'ice', from: 'new', to: 'connected' } },
    { type: 'connection.state_changed', data: { kind: 'connection', from: 'new', to: 'connecting' } },
    { type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'connected' } },
    ...extra,
  ]);
}

// ---------------------------------------------------------------------------
const metrics = suite('GET /metrics');

metrics('exposes every family, with types, in valid text format', async () => {
  const server = await startTestServer();
  try {
    const families = await scrape(server);
    const expected: Record<string, string> = {
      webrtc_connections: 'gauge',
      webrtc_connections_stalled: 'gauge',
      webrtc_connections_opened_total: 'counter',
      webrtc_connections_ended_total: 'counter',
      webrtc_connection_stalls_total: 'counter',
      webrtc_bytes_sent_total: 'counter',
      webrtc_bytes_received_total: 'counter',
      webrtc_packets_sent_total: 'counter',
      webrtc_packets_received_total: 'counter',
      webrtc_packets_lost_total: 'counter',
      webrtc_operations_running: 'gauge',
      webrtc_operations_total: 'counter',
      webrtc_operation_duration_seconds: 'histogram',
      webrtc_tasks_pending: 'gauge',
      webrtc_tasks_abandoned: 'gauge',
      webrtc_tasks_total: 'counter',
      webrtc_tasks_settled_late_total: 'counter',
      webrtc_log_events_total: 'counter',
      webrtc_events_appended_total: 'counter',
      webrtc_append_batch_size: 'histogram',
      webrtc_append_batch_duration_seconds: 'histogram',
      webrtc_live_feed_clients: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      assert.is(families.get(name)?.type, type, name);
      assert.ok(families.get(name)!.help.length > 0, `${name} has help`);
    }
    // Counters end in _total; nothing of ours keeps the old prefix.
    for (const f of families.values()) {
      if (f.type === 'counter') assert.ok(f.name.endsWith('_total'), f.name);
      assert.not.ok(f.name.startsWith('webrtc_monitor_'), f.name);
    }
    // Every state and outcome is present from the start, at zero, so dashboards need no `or vector(0)`.
    for (const state of ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed']) {
      assert.is(value(families, 'webrtc_connections', { state }), 0);
    }
    for (const outcome of ['clean', 'failed', 'shutdown', 'process_restart']) {
      assert.is(value(families, 'webrtc_connections_ended_total', { outcome }), 0);
    }
  } finally {
    await server.stop();
  }
});

metrics('matches the monitor summary after real appends and operations', async () => {
  const server = await startTestServer();
  try {
    const { store: log, runner } = server.services;
    await connected(server, 'c1', [stats(5000, 50)]);
    await connected(server, 'c2', [stats(7000, 70)]);
    await connected(server, 'c3', [stats(1000, 10), { type: 'connection.closed', data: { reason: 'done', initiator: 'remote' } }]);
    await connected(server, 'c5', [
      { type: 'connection.stalled', data: { silent_ms: 5000, stall_after_ms: 5000, last_heard_ms: { stun: 5000, dtls: 5000, rtp: null, rtcp: 5000 } } },
    ]);
    await connected(server, 'c6', [
      { type: 'connection.error', data: { code: 'CONSENT_EXPIRED', message: 'silent', fatal: true } },
      { type: 'connection.state_changed', data: { kind: 'connection', from: 'connected', to: 'failed' } },
      { type: 'connection.closed', data: { reason: 'consent_expired', initiator: 'ice' } },
    ]);
    await log.append('connection:c4', [{ type: 'connection.created', data: { connection_id: 'c4' } }]);
    const ok = await runner.run('probe', {}, async () => 'fine');
    const bad = await runner.run('probe', {}, async () => {
      throw new AppError('CONFLICT', 'no');
    });
    assert.is(ok.status, 'completed');
    assert.is(bad.status, 'failed');

    const families = await scrape(server);
    const summary = await (await server.api('/api/v0/mcp/monitor/webrtc/summary')).json();

    for (const [state, count] of Object.entries(summary.connection_states as Record<string, number>)) {
      if (state === 'total') continue;
      assert.is(value(families, 'webrtc_connections', { state }), count, state);
    }
    assert.is(value(families, 'webrtc_connections', { state: 'connected' }), 3);
    assert.is(value(families, 'webrtc_connections_opened_total'), summary.connection_states.total);
    for (const [outcome, count] of Object.entries(summary.connection_outcomes as Record<string, number>)) {
      assert.is(value(families, 'webrtc_connections_ended_total', { outcome }), count, outcome);
    }
    assert.is(value(families, 'webrtc_connections_ended_total', { outcome: 'failed' }), 1, 'failed -> closed counts as failed');
    assert.is(value(families, 'webrtc_connections_ended_total', { outcome: 'clean' }), 1);
    assert.is(value(families, 'webrtc_connections_stalled'), 1);
    assert.is(value(families, 'webrtc_connection_stalls_total'), 1);
    assert.is(value(families, 'webrtc_operations_total', { type: 'probe', outcome: 'completed' }), 1);
    assert.is(value(families, 'webrtc_operations_total', { type: 'probe', outcome: 'failed' }), 1);
    assert.is(value(families, 'webrtc_operations_total', { type: 'probe', outcome: 'cancelled' }), 0);
    assert.is(value(families, 'webrtc_operations_running', { type: 'probe' }), 0);
    assert.is(value(families, 'webrtc_tasks_total', { outcome: 'completed' }) + value(families, 'webrtc_tasks_total', { outcome: 'failed' }), summary.task_count);
    assert.is(value(families, 'webrtc_tasks_pending'), summary.pending_tasks);
    assert.is(value(families, 'webrtc_tasks_abandoned'), 0);

    assert.is(value(families, 'webrtc_log_events_total'), summary.event_count);
    // A fresh log: everything in it was appended by this process.
    assert.is(value(families, 'webrtc_events_appended_total'), summary.event_count);
    assert.is(value(families, 'webrtc_append_batch_size', {}, 'webrtc_append_batch_size_sum'), summary.event_count);
    const batches = value(families, 'webrtc_append_batch_size', {}, 'webrtc_append_batch_size_count');
    assert.ok(batches >= 5 && batches <= summary.event_count);
    assert.is(value(families, 'webrtc_append_batch_duration_seconds', {}, 'webrtc_append_batch_duration_seconds_count'), batches);

    const duration = (outcome: string, part: string) =>
      value(families, 'webrtc_operation_duration_seconds', { type: 'probe', outcome }, `webrtc_operation_duration_seconds_${part}`);
    assert.is(duration('completed', 'count'), 1);
    assert.is(duration('failed', 'count'), 1);
    assert.ok(Math.abs(duration('completed', 'sum') - ok.durationMs / 1000) < 1e-9);

    // Traffic: every sample's bytes, once, whatever state its connection is in now (c3 is closed).
    assert.is(value(families, 'webrtc_bytes_sent_total'), 13000);
    assert.is(value(families, 'webrtc_bytes_received_total'), 300);
    assert.is(value(families, 'webrtc_packets_sent_total'), 130);
    assert.is(value(families, 'webrtc_packets_lost_total'), 3);

    // The next scrape sees the next operation, once.
    await runner.run('probe', {}, async () => 'again');
    const later = await scrape(server);
    assert.is(value(later, 'webrtc_operation_duration_seconds', { type: 'probe', outcome: 'completed' }, 'webrtc_operation_duration_seconds_count'), 2);
    assert.is(value(later, 'webrtc_operations_total', { type: 'probe', outcome: 'completed' }), 2);
  } finally {
    await server.stop();
  }
});

metrics('keeps each server in its own registry', async () => {
  const one = await startTestServer();
  const two = await startTestServer();
  try {
    await connected(one, 'only-on-one');
    const a = await scrape(one);
    const b = await scrape(two);
    assert.is(value(a, 'webrtc_connections', { state: 'connected' }), 1);
    assert.is(value(b, 'webrtc_connections', { state: 'connected' }), 0);
    assert.is(value(b, 'webrtc_events_appended_total'), 0);
  } finally {
    await one.stop();
    await two.stop();
  }
});

metrics.run();

// ---------------------------------------------------------------------------
const live = suite('GET /metrics with a real viewer');

/** Every sample of our monotonic series (counters, histogram counts, sums and buckets), by name and labels. */
function monotonic(families: Map<string, Family>): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of families.values()) {
    if (!f.name.startsWith('webrtc_') || (f.type !== 'counter' && f.type !== 'histogram')) continue;
    for (const s of f.samples) out.set(`${s.name}${JSON.stringify(s.labels)}`, s.value);
  }
  return out;
}

live('a connection closed mid-stream leaves every _total series monotonic, and no traffic series moves after the close', async () => {
  const server = await startWebRtcServer({ statsIntervalMs: 100 });
  try {
    const stream = await server.stream({ mode: 'media' });
    const viewer = await server.viewer(stream.whep_url, 'media');
    const id = viewer.connectionId;
    const samples = async () => (await server.json(`${MONITOR}/connections/${id}`)).body.connection.stats_samples as number;
    await waitFor(async () => (await samples()) >= 2, 10_000, 'two samples');
    const a = await scrape(server);
    const seen = await samples();
    await waitFor(async () => (await samples()) >= seen + 2, 10_000, 'two more samples');
    const b = await scrape(server);
    assert.ok(value(b, 'webrtc_bytes_sent_total') > value(a, 'webrtc_bytes_sent_total'), 'traffic is counted as it flows');
    assert.ok(value(b, 'webrtc_packets_sent_total') > value(a, 'webrtc_packets_sent_total'));

    await viewer.close(); // the WHEP DELETE, mid-stream
    await waitFor(async () => (await server.json(`${MONITOR}/connections/${id}`)).body.connection.category === 'closed', 5000, 'the close');
    const c = await scrape(server);
    // Let the stats sampler run twice more with nothing live: nothing may move.
    const ticks = async () => (await server.json(`${WEBRTC}/stats/resources`)).body.webrtc.stats_sampler.ticks as number;
    const t0 = await ticks();
    await waitFor(async () => (await ticks()) >= t0 + 2, 5000, 'two more sampler ticks');
    const d = await scrape(server);

    const scrapes = [a, b, c, d].map(monotonic);
    for (const [key, last] of scrapes[3]) {
      const history = scrapes.map((m) => m.get(key));
      const from = history.findIndex((v) => v !== undefined);
      for (let i = from + 1; i < history.length; i++) {
        assert.ok(history[i] !== undefined, `${key} disappeared`);
        assert.ok(history[i]! >= history[i - 1]!, `${key} went back: ${history.join(' -> ')}`);
      }
      assert.type(last, 'number');
    }
    for (const name of ['webrtc_bytes_sent_total', 'webrtc_bytes_received_total', 'webrtc_packets_sent_total', 'webrtc_packets_received_total', 'webrtc_packets_lost_total']) {
      assert.is(value(d, name), value(c, name), `${name}: no rate after the close`);
    }
    assert.is(value(d, 'webrtc_connections', { state: 'connected' }), 0);
    assert.is(value(d, 'webrtc_connections', { state: 'closed' }), 1);
    assert.is(value(d, 'webrtc_connections_ended_total', { outcome: 'clean' }), 1);
    assert.is(value(d, 'webrtc_connections_opened_total'), 1);
  } finally {
    await server.stop();
  }
});

live.run();
