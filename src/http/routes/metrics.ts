// GET /metrics: the Prometheus text exposition, from a registry of this
// server's own (not prom-client's global one, so several servers in one
// process never clash).
//
// Names follow Prometheus conventions (`promtool check metrics` reports
// nothing about them; a test runs it): every metric is `webrtc_*`, monotonic
// quantities are counters ending in `_total`, and gauges are only levels
// (connections by current state, stalled, running operations, pending tasks).
// No series moves between label values when a connection changes state:
// traffic is counted once, when sampled, in counters without a state label,
// so `rate()` over them falls to zero when the traffic stops.
//
// Where the numbers come from:
// - Levels and totals that are projections of the log are read from the
//   summary read model at scrape time: exact, nothing to keep in step, and
//   the totals carry on across restarts (they count the whole log, so a
//   restart is not even a counter reset).
// - Histograms need one observation per thing that happened. Append batches
//   are observed as they commit (`log.onCommit`). Operation durations are read
//   from the log itself: at each scrape the registry catches up from where it
//   stopped, a bounded page at a time, starting at the head of the log when
//   the server started. Prometheus counters and histograms start from zero
//   with each process and `rate()` handles the reset, so replaying history
//   from before this process would add nothing but start-up time.
import Router from '@koa/router';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Services } from '../app.ts';
import { CONNECTION_OUTCOMES, parseStream } from '../../log/catalogue.ts';
import { CONNECTION_CATEGORIES } from '../../projections/connection.ts';
import { emptySummary, TASK_OUTCOMES, type SummaryModel } from '../../projections/summary.ts';
import { feedClients } from './events.ts';
import { registerForwarderMetrics } from './forwarderMetrics.ts';
import { registerReliabilityMetrics } from './reliabilityMetrics.ts';
import type { ApiSpec } from '../openapi/spec.ts';

const PREFIX = 'webrtc_';
const OPERATION_ENDINGS = ['operation.completed', 'operation.failed', 'operation.cancelled'] as const;
const OPERATION_OUTCOMES = ['completed', 'failed', 'cancelled'] as const;
const OUTCOME = { 'operation.completed': 'completed', 'operation.failed': 'failed', 'operation.cancelled': 'cancelled' } as const;
/** Log events read per page, and pages per scrape, when catching up on operation durations. */
const CATCH_UP_PAGE = 500;
const CATCH_UP_PAGES_PER_SCRAPE = 200;

type Labels = Record<string, string>;

export function metricsRouter(services: Services): Router {
  const { store, reads } = services;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // The summary is read once per scrape (before collecting) and shared by every metric below.
  let summary: SummaryModel = emptySummary();

  /** A gauge whose values are read from the summary at scrape time. */
  const level = (name: string, help: string, labelNames: string[], read: (s: SummaryModel) => [Labels, number][]) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read(summary)) this.set(labels, value);
      },
    });
  /** A counter whose values are totals kept by the summary read model (they only grow). */
  const total = (name: string, help: string, labelNames: string[], read: (s: SummaryModel) => [Labels, number][]) =>
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read(summary)) this.inc(labels, Math.max(0, value));
      },
    });

  // ---- connections ----------------------------------------------------------
  level('connections', 'Connections by current state (new, connecting, connected, disconnected, failed, closed).', ['state'], (s) =>
    CONNECTION_CATEGORIES.map((state) => [{ state }, s.connections[state]]),
  );
  level('connections_stalled', 'Connections with nothing arriving from the remote peer for --stall-after, now.', [], (s) => [[{}, s.connections.stalled]]);
  total('connections_opened_total', 'Connections created.', [], (s) => [[{}, s.connections.total]]);
  total('connections_ended_total', 'Connections that ended, by outcome (clean, failed, shutdown, process_restart).', ['outcome'], (s) =>
    CONNECTION_OUTCOMES.map((outcome) => [{ outcome }, s.connection_outcomes[outcome]]),
  );
  total('connection_stalls_total', 'Stalls that began (nothing arriving for --stall-after).', [], (s) => [[{}, s.stalls]]);

  // ---- traffic: counted as sampled, whatever the connection does later -------
  total('bytes_sent_total', 'Bytes sent to viewers (RTP payload and data-channel bytes), as sampled from getStats.', [], (s) => [[{}, s.traffic_total.bytes_sent]]);
  total('bytes_received_total', 'Bytes received from viewers, as sampled from getStats.', [], (s) => [[{}, s.traffic_total.bytes_received]]);
  total('packets_sent_total', 'Packets (and data-channel messages) sent to viewers, as sampled from getStats.', [], (s) => [[{}, s.traffic_total.packets_sent]]);
  total('packets_received_total', 'Packets (and data-channel messages) received from viewers, as sampled from getStats.', [], (s) => [[{}, s.traffic_total.packets_received]]);
  total('packets_lost_total', 'Packets the viewers reported lost in their RTCP receiver reports.', [], (s) => [[{}, s.traffic_total.packets_lost]]);

  // ---- operations and tasks -------------------------------------------------
  level('operations_running', 'Operations running now, by type.', ['type'], (s) =>
    Object.entries(s.operation_types).map(([type, byStatus]) => [{ type }, byStatus.running]),
  );
  total('operations_total', 'Operations that ended, by type and outcome (completed, failed, cancelled).', ['type', 'outcome'], (s) =>
    Object.entries(s.operation_types).flatMap(([type, byStatus]) => OPERATION_OUTCOMES.map((outcome): [Labels, number] => [{ type, outcome }, byStatus[outcome]])),
  );
  const operationDuration = new Histogram({
    name: `${PREFIX}operation_duration_seconds`,
    help: 'Duration of operations that ended since this process started, by type and outcome.',
    labelNames: ['type', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  /** Where the catch-up has read to: the head of the log when this server started. */
  const operationCursorStart = store.head();
  operationCursorStart.catch(() => {}); // a failure is met by the first scrape
  let operationCursor: number | null = null;
  /** Observes every operation that ended between the cursor and the head (bounded per scrape). */
  async function catchUpOperations() {
    operationCursor ??= await operationCursorStart;
    for (let pages = 0; pages < CATCH_UP_PAGES_PER_SCRAPE; pages++) {
      const head = await store.head();
      const page = await store.readLog({ after: operationCursor, limit: CATCH_UP_PAGE, streamPrefix: 'operation:', types: OPERATION_ENDINGS });
      for (const event of page) {
        operationCursor = event.position;
        if (event.type !== 'operation.completed' && event.type !== 'operation.failed' && event.type !== 'operation.cancelled') continue;
        const id = parseStream(event.stream)?.id;
        const type = (id && (await reads.operation(id))?.type) || 'unknown';
        operationDuration.observe({ type, outcome: OUTCOME[event.type] }, event.data.duration_ms / 1000);
      }
      if (page.length < CATCH_UP_PAGE) {
        operationCursor = Math.max(operationCursor, head);
        return;
      }
    }
  }
  level('tasks_pending', 'Tasks holding work now: running, or abandoned (timed out or cancelled while their work still runs).', [], (s) => [[{}, s.tasks.pending]]);
  level('tasks_abandoned', 'Tasks timed out or cancelled whose work has not settled yet.', [], (s) => [[{}, s.tasks.abandoned]]);
  total('tasks_total', 'Tasks that ended, by outcome (completed, failed, cancelled, timed_out).', ['outcome'], (s) =>
    TASK_OUTCOMES.map((outcome) => [{ outcome }, s.tasks.outcomes[outcome]]),
  );
  total('tasks_settled_late_total', 'Abandoned tasks whose work settled after they were given up on.', [], (s) => [[{}, s.tasks.settled_late]]);

  // ---- the log --------------------------------------------------------------
  total('log_events_total', 'Events in the log since it began (the summary read model; pruning does not lower it).', [], (s) => [[{}, s.event_count]]);
  const appended = new Counter({
    name: `${PREFIX}events_appended_total`,
    help: 'Events appended to the log by this process.',
    registers,
  });
  const batchSize = new Histogram({
    name: `${PREFIX}append_batch_size`,
    help: 'Events per committed append batch (group commit).',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers,
  });
  const batchDuration = new Histogram({
    name: `${PREFIX}append_batch_duration_seconds`,
    help: 'Time to write and commit one append batch, projections included.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  store.onCommit(({ size, durationMs }) => {
    appended.inc(size);
    batchSize.observe(size);
    batchDuration.observe(durationMs / 1000);
  });

  new Gauge({
    name: `${PREFIX}live_feed_clients`,
    help: 'Clients following the live event feed (SSE).',
    registers,
    collect() {
      this.set(feedClients(services).length);
    },
  });

  if (services.forwarder) registerForwarderMetrics(registry, services.forwarder);

  registerReliabilityMetrics(registry, services);

  const router = new Router();
  router.get('/metrics', async (ctx) => {
    // Work that feeds several metrics runs once, before they are collected.
    await catchUpOperations();
    summary = await reads.summary();
    const text = await registry.metrics();
    ctx.set('Cache-Control', 'no-store');
    // Set as a header, not ctx.type, so Koa keeps the version parameter.
    ctx.set('Content-Type', registry.contentType);
    ctx.body = text;
  });
  return router;
}

export const metricsApi: ApiSpec = {
  'GET /metrics': {
    operationId: 'getMetrics',
    tag: 'metrics',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    responses: { 200: { description: 'The exposition', media: { type: 'text/plain; version=0.0.4' } } },
  },
};
