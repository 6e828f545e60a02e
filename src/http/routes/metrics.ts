// GET /metrics: the Prometheus text exposition, from a registry of this
// server's own (not prom-client's global one, so several servers in one
// process never clash).
//
// Two kinds of source, chosen by what each metric is:
// - Gauges of "how many are in each state now" are projections of the log, so
//   they are read from the read models at scrape time: always exact, nothing
//   to keep in step, and right after a restart.
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
import { headPosition, readAll } from '../../log/read.ts';
import { parseStream, TASK_STATUSES } from '../../log/catalogue.ts';
import { getOperation, getSummary } from '../../projections/queries.ts';
import { CONNECTION_CATEGORIES } from '../../projections/connection.ts';
import { emptySummary, type SummaryModel, type Traffic } from '../../projections/summary.ts';
import { OPERATION_STATUSES } from '../../projections/operation.ts';
import { feedClients } from './events.ts';
import { registerReliabilityMetrics } from './reliabilityMetrics.ts';
import type { OpenApiPaths } from '../openapi/types.ts';

const PREFIX = 'webrtc_monitor_';
const OPERATION_ENDINGS = ['operation.completed', 'operation.failed', 'operation.cancelled'] as const;
const OUTCOME = { 'operation.completed': 'completed', 'operation.failed': 'failed', 'operation.cancelled': 'cancelled' } as const;
/** Log events read per page, and pages per scrape, when catching up on operation durations. */
const CATCH_UP_PAGE = 500;
const CATCH_UP_PAGES_PER_SCRAPE = 200;

export function metricsRouter(services: Services): Router {
  const { db, log } = services;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  new Gauge({
    name: `${PREFIX}connections`,
    help: 'Connections in the read model, by state category (new, connecting, connected, disconnected, failed, closed).',
    labelNames: ['state'],
    registers,
    collect() {
      const s = getSummary(db);
      for (const state of CONNECTION_CATEGORIES) this.set({ state }, s.connections[state]);
    },
  });

  const countsByTypeAndStatus = db.prepare('SELECT type, status, count(*) AS n FROM operations GROUP BY type, status');
  new Gauge({
    name: `${PREFIX}operations`,
    help: 'Operations in the read model, by type and status (running, completed, failed, cancelled).',
    labelNames: ['type', 'status'],
    registers,
    collect() {
      this.reset();
      for (const row of countsByTypeAndStatus.all() as { type: string; status: string; n: number }[]) {
        this.set({ type: row.type, status: row.status }, row.n);
      }
    },
  });

  const operationDuration = new Histogram({
    name: `${PREFIX}operation_duration_seconds`,
    help: 'Duration of operations that ended since this process started, by type and outcome.',
    labelNames: ['type', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  let operationCursor = headPosition(db);
  /** Observes every operation that ended between the cursor and the head (bounded per scrape). */
  function catchUpOperations() {
    for (let pages = 0; pages < CATCH_UP_PAGES_PER_SCRAPE; pages++) {
      const head = headPosition(db);
      const page = readAll(db, { after: operationCursor, limit: CATCH_UP_PAGE, streamPrefix: 'operation:', types: [...OPERATION_ENDINGS] });
      for (const event of page) {
        operationCursor = event.position;
        if (event.type !== 'operation.completed' && event.type !== 'operation.failed' && event.type !== 'operation.cancelled') continue;
        const id = parseStream(event.stream)?.id;
        const type = (id && getOperation(db, id)?.type) || 'unknown';
        operationDuration.observe({ type, outcome: OUTCOME[event.type] }, event.data.duration_ms / 1000);
      }
      if (page.length < CATCH_UP_PAGE) {
        operationCursor = Math.max(operationCursor, head);
        return;
      }
    }
  }

  const countsByTaskStatus = db.prepare('SELECT status, count(*) AS n FROM tasks GROUP BY status');
  new Gauge({
    name: `${PREFIX}tasks`,
    help: 'Tracked tasks in the read model, by status (created, running, completed, failed, cancelled, timed_out).',
    labelNames: ['status'],
    registers,
    collect() {
      const counts = new Map((countsByTaskStatus.all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
      for (const status of TASK_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });

  new Gauge({
    name: `${PREFIX}log_events`,
    help: 'Events in the log (the summary read model).',
    registers,
    collect() {
      this.set(getSummary(db).event_count);
    },
  });
  new Gauge({
    name: `${PREFIX}log_position`,
    help: 'Position of the last event in the log.',
    registers,
    collect() {
      this.set(getSummary(db).log_position);
    },
  });

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
  log.onCommit(({ size, durationMs }) => {
    appended.inc(size);
    batchSize.observe(size);
    batchDuration.observe(durationMs / 1000);
  });

  // Each connection's latest stats sample, summed per state category: the
  // summary read model keeps these totals (moved as connections change
  // state), so a scrape costs the same however long the history is.
  // (A summary stored before it kept traffic has none until a rebuild.)
  const currentTraffic = () => getSummary(db).traffic ?? emptySummary().traffic;
  let traffic: SummaryModel['traffic'] = currentTraffic();
  const readTraffic = () => (traffic = currentTraffic());
  const trafficGauge = (name: string, help: string, pick: (t: Traffic) => [string, number][]) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['state', 'direction'],
      registers,
      collect() {
        for (const state of CONNECTION_CATEGORIES) {
          for (const [direction, value] of pick(traffic[state])) this.set({ state, direction }, value);
        }
      },
    });
  trafficGauge('connection_bytes', 'Bytes from each connection\'s latest stats sample, summed by state and direction.', (r) => [
    ['sent', r.bytes_sent],
    ['received', r.bytes_received],
  ]);
  trafficGauge('connection_packets', 'Packets from each connection\'s latest stats sample, summed by state and direction.', (r) => [
    ['sent', r.packets_sent],
    ['received', r.packets_received],
  ]);
  new Gauge({
    name: `${PREFIX}connection_packets_lost`,
    help: 'Packets lost (remote report) from each connection\'s latest stats sample, summed by state.',
    labelNames: ['state'],
    registers,
    collect() {
      for (const state of CONNECTION_CATEGORIES) this.set({ state }, traffic[state].packets_lost);
    },
  });

  new Gauge({
    name: `${PREFIX}live_feed_clients`,
    help: 'Clients following the live event feed (SSE).',
    registers,
    collect() {
      this.set(feedClients(services).length);
    },
  });
  new Gauge({
    name: `${PREFIX}operation_statuses`,
    help: 'Operations in the read model, by status only (all types).',
    labelNames: ['status'],
    registers,
    collect() {
      const s = getSummary(db);
      for (const status of OPERATION_STATUSES) this.set({ status }, s.operations[status]);
    },
  });

  registerReliabilityMetrics(registry, services);

  const router = new Router();
  router.get('/metrics', async (ctx) => {
    // Work that feeds several metrics runs once, before they are collected.
    catchUpOperations();
    readTraffic();
    const text = await registry.metrics();
    ctx.set('Cache-Control', 'no-store');
    // Set as a header, not ctx.type, so Koa keeps the version parameter.
    ctx.set('Content-Type', registry.contentType);
    ctx.body = text;
  });
  return router;
}

export const metricsOpenApiPaths: OpenApiPaths = {
  '/metrics': {
    get: {
      tags: ['metrics'],
      summary: 'Prometheus metrics (text exposition format 0.0.4)',
      responses: {
        200: { description: 'The exposition', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
      },
    },
  },
};
