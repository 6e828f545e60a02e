import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { AppError } from '../../src/log/errors.ts';
import type { NewEvent } from '../../src/log/catalogue.ts';

type Sample = { name: string; labels: Record<string, string>; value: number };
type Family = { name: string; type: string; help: string; samples: Sample[] };

/** A parser for the Prometheus text format 0.0.4, strict enough to catch malformed output. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  const owner = (sample: string) => {
    for (const suffix of ['_bucket', '_sum', '_count', '']) {
      const base = suffix ? sample.slice(0, -suffix.length) : sample;
      if (sample.endsWith(suffix) && families.has(base) && (suffix === '' || ['histogram', 'summary'].includes(families.get(base)!.type))) {
        return families.get(base)!;
      }
    }
    throw new Error(`sample ${sample} has no # TYPE line before it`);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      family(m[1]).help = m[2];
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      family(m[1]).type = m[2];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    // Prometheus reads values with Go's ParseFloat, which takes NaN in any case (prom-client writes "Nan").
    const v = /^nan$/i.test(m[3]) ? NaN : Number(m[3].replace('Inf', 'Infinity'));
    owner(m[1]).samples.push({ name: m[1], labels, value: v });
  }
  return families;
}

async function scrape(server: TestServer) {
  const res = await server.api('/metrics');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}, sampleName = name): number {
  const f = families.get(name);
  if (!f) throw new Error(`no family ${name}`);
  const s = f.samples.find((x) => x.name === sampleName && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length >= Object.keys(labels).length);
  if (!s) throw new Error(`no sample ${sampleName} ${JSON.stringify(labels)}`);
  return s.value;
}

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
  await server.services.log.append(`connection:${id}`, [
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
      webrtc_monitor_connections: 'gauge',
      webrtc_monitor_operations: 'gauge',
      webrtc_monitor_operation_duration_seconds: 'histogram',
      webrtc_monitor_tasks: 'gauge',
      webrtc_monitor_log_events: 'gauge',
      webrtc_monitor_log_position: 'gauge',
      webrtc_monitor_events_appended_total: 'counter',
      webrtc_monitor_append_batch_size: 'histogram',
      webrtc_monitor_append_batch_duration_seconds: 'histogram',
      webrtc_monitor_connection_bytes: 'gauge',
      webrtc_monitor_connection_packets: 'gauge',
      webrtc_monitor_connection_packets_lost: 'gauge',
      webrtc_monitor_live_feed_clients: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      assert.is(families.get(name)?.type, type, name);
      assert.ok(families.get(name)!.help.length > 0, `${name} has help`);
    }
    // Every state is present from the start, at zero, so dashboards need no `or vector(0)`.
    for (const state of ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed']) {
      assert.is(value(families, 'webrtc_monitor_connections', { state }), 0);
    }
  } finally {
    await server.stop();
  }
});

metrics('matches the monitor summary after real appends and operations', async () => {
  const server = await startTestServer();
  try {
    const { log, runner } = server.services;
    await connected(server, 'c1', [stats(5000, 50)]);
    await connected(server, 'c2', [stats(7000, 70)]);
    await connected(server, 'c3', [stats(1000, 10), { type: 'connection.closed', data: { reason: 'done', initiator: 'remote' } }]);
    await log.append('connection:c4', [{ type: 'connection.created', data: { connection_id: 'c4' } }]);
    const ok = await runner.run('probe', {}, async () => 'fine');
    const bad = await runner.run('probe', {}, async () => {
      throw new AppError(409, 'CONFLICT', 'no');
    });
    assert.is(ok.status, 'completed');
    assert.is(bad.status, 'failed');

    const families = await scrape(server);
    const summary = await (await server.api('/api/v0/mcp/monitor/webrtc/summary')).json();

    for (const [state, count] of Object.entries(summary.connection_states as Record<string, number>)) {
      if (state === 'total') continue;
      assert.is(value(families, 'webrtc_monitor_connections', { state }), count, state);
    }
    assert.is(value(families, 'webrtc_monitor_connections', { state: 'connected' }), 2);
    assert.is(value(families, 'webrtc_monitor_operations', { type: 'probe', status: 'completed' }), 1);
    assert.is(value(families, 'webrtc_monitor_operations', { type: 'probe', status: 'failed' }), 1);
    const tasks = families.get('webrtc_monitor_tasks')!.samples.reduce((n, s) => n + s.value, 0);
    assert.is(tasks, summary.task_count);
    assert.is(value(families, 'webrtc_monitor_tasks', { status: 'completed' }) + value(families, 'webrtc_monitor_tasks', { status: 'failed' }), summary.task_count);

    assert.is(value(families, 'webrtc_monitor_log_events'), summary.event_count);
    assert.is(value(families, 'webrtc_monitor_log_position'), summary.log_position);
    // A fresh log: everything in it was appended by this process.
    assert.is(value(families, 'webrtc_monitor_events_appended_total'), summary.event_count);
    assert.is(value(families, 'webrtc_monitor_append_batch_size', {}, 'webrtc_monitor_append_batch_size_sum'), summary.event_count);
    const batches = value(families, 'webrtc_monitor_append_batch_size', {}, 'webrtc_monitor_append_batch_size_count');
    assert.ok(batches >= 5 && batches <= summary.event_count);
    assert.is(value(families, 'webrtc_monitor_append_batch_duration_seconds', {}, 'webrtc_monitor_append_batch_duration_seconds_count'), batches);

    const duration = (outcome: string, part: string) =>
      value(families, 'webrtc_monitor_operation_duration_seconds', { type: 'probe', outcome }, `webrtc_monitor_operation_duration_seconds_${part}`);
    assert.is(duration('completed', 'count'), 1);
    assert.is(duration('failed', 'count'), 1);
    assert.ok(Math.abs(duration('completed', 'sum') - ok.durationMs / 1000) < 1e-9);

    assert.is(value(families, 'webrtc_monitor_connection_bytes', { state: 'connected', direction: 'sent' }), 12000);
    assert.is(value(families, 'webrtc_monitor_connection_bytes', { state: 'connected', direction: 'received' }), 200);
    assert.is(value(families, 'webrtc_monitor_connection_bytes', { state: 'closed', direction: 'sent' }), 1000);
    assert.is(value(families, 'webrtc_monitor_connection_packets', { state: 'connected', direction: 'sent' }), 120);
    assert.is(value(families, 'webrtc_monitor_connection_packets_lost', { state: 'connected' }), 2);
    assert.is(value(families, 'webrtc_monitor_connection_bytes', { state: 'new', direction: 'sent' }), 0);

    // The next scrape sees the next operation, once.
    await runner.run('probe', {}, async () => 'again');
    const later = await scrape(server);
    assert.is(value(later, 'webrtc_monitor_operation_duration_seconds', { type: 'probe', outcome: 'completed' }, 'webrtc_monitor_operation_duration_seconds_count'), 2);
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
    assert.is(value(a, 'webrtc_monitor_connections', { state: 'connected' }), 1);
    assert.is(value(b, 'webrtc_monitor_connections', { state: 'connected' }), 0);
    assert.is(value(b, 'webrtc_monitor_events_appended_total'), 0);
  } finally {
    await one.stop();
    await two.stop();
  }
});

metrics.run();
