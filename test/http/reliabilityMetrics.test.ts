// The limits, storage and event-loop series of /metrics, each moved by the
// real thing it counts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { fillDatabase } from '../helpers/storage.ts';
import { dbOf } from '../helpers/db.ts';
import { waitFor } from '../helpers/webrtc.ts';
import { healthOf } from '../../src/http/health.ts';

let server: TestServer;
const metrics = async () => (await (await server.api('/metrics')).text()).split('\n');
const value = (lines: string[], series: string) => {
  const line = lines.find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

const Series = suite('reliability metrics');
Series.before(async () => {
  server = await startTestServer();
});
Series.after(() => server.stop());

Series('names every series webrtc_..., with counters ending in _total', async () => {
  const lines = await metrics();
  for (const name of [
    'webrtc_event_loop_delay_seconds',
    'webrtc_event_loop_delay_max_seconds',
    'webrtc_requests_refused_total',
    'webrtc_log_unrecorded_events_total',
    'webrtc_log_gaps_total',
    'webrtc_log_pending_gap_events',
    'webrtc_resource_exhaustions_total',
    'webrtc_http_connections',
    'webrtc_http_connections_limit',
  ]) {
    const type = lines.find((l) => l.startsWith(`# TYPE ${name} `));
    assert.ok(type, name);
    if (type!.endsWith(' counter')) assert.match(name, /_total$/);
  }
});

Series('counts refused requests by code', async () => {
  const before = value(await metrics(), 'webrtc_requests_refused_total{code="HOST_NOT_ALLOWED"}') ?? 0;
  await new Promise<void>((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.port, path: `${MONITOR_PREFIX}/summary`, headers: { host: 'rebound.example' } }, (res) => {
      assert.is(res.statusCode, 421);
      res.resume().on('end', resolve);
    }).on('error', reject).end();
  });
  assert.is(value(await metrics(), 'webrtc_requests_refused_total{code="HOST_NOT_ALLOWED"}'), before + 1);
});

Series('shows an event-loop stall in the delay histogram and its maximum', async () => {
  await metrics(); // resets the maximum
  const stall = performance.now();
  while (performance.now() - stall < 150) {
    // hold the loop, as an unbounded read would
  }
  // The loop sampler's next tick, which comes after the stall, measures it.
  await waitFor(() => healthOf(server.services).maxDelaySinceScrape >= 0.1, 5000, 'the sampler to measure the stall');
  const lines = await metrics();
  assert.ok(value(lines, 'webrtc_event_loop_delay_max_seconds')! >= 0.1, 'the maximum since the last scrape');
  const fast = value(lines, 'webrtc_event_loop_delay_seconds_bucket{le="0.1"}')!;
  const all = value(lines, 'webrtc_event_loop_delay_seconds_count')!;
  assert.ok(all > fast, 'at least one sample above 100 ms');
});

Series('counts events that could not be recorded, and the gap marker that accounts for them', async () => {
  const full = fillDatabase(dbOf(server.services));
  await server.services.store.append('connection:x', [{ type: 'connection.created', data: { connection_id: 'x' } }]).catch(() => {});
  let lines = await metrics();
  assert.is(value(lines, 'webrtc_log_unrecorded_events_total'), 1);
  assert.is(value(lines, 'webrtc_log_pending_gap_events'), 1);
  full.release();
  await server.services.store.append('connection:y', [{ type: 'connection.created', data: { connection_id: 'y' } }]);
  lines = await metrics();
  assert.is(value(lines, 'webrtc_log_gaps_total'), 1);
  assert.is(value(lines, 'webrtc_log_pending_gap_events'), 0);
});

Series.run();
