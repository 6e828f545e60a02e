// `webrtc-monitor fleet serve`: the monitor API over every node, answered
// from the fleet read models in PostgreSQL by the node's own routers (the
// monitor router with FleetReads behind MonitorReads), plus the fleet's
// event feed and metrics. Read-only: the WebRTC controller, close-all and
// export are a node's and are not served here (404, not a pretence).
//
// By default the process also projects (FleetProjector: it takes the
// projection lock if it is free and stands by otherwise), so one command
// gives a working fleet monitor; `--no-project` serves reads only, beside a
// projecting process elsewhere.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config, FleetConfig } from '../config.ts';
import { makeLogger } from '../logger.ts';
import { centrePool, centreClient, endQuietly } from '../fleet/pg.ts';
import { migrateCentre } from '../fleet/migrate.ts';
import { FleetReads } from '../fleet/reads.ts';
import { FleetFeed } from '../fleet/feed.ts';
import { FleetProjector } from '../fleet/projector.ts';
import type { FleetSource } from '../fleet/source.ts';
import { baseApp, mount, type HttpServices } from './app.ts';
import { countConnections, serverState } from './limits.ts';
import { healthOf } from './health.ts';
import { monitorApi, monitorRouter, nodeQuery, MONITOR_PREFIX } from './routes/monitor.ts';
import { fleetEventsApi, fleetEventsRouter } from './routes/fleetEvents.ts';
import { fleetMetricsRouter } from './routes/fleetMetrics.ts';
import { metricsApi } from './routes/metrics.ts';
import { dashboardApi, dashboardRouter } from './routes/dashboard.ts';
import { openapiApi, openapiRouter } from './routes/openapi.ts';
import { summarySchema } from './openapi/readModels.ts';
import { named } from './openapi/components.ts';
import type { ApiSpec } from './openapi/spec.ts';
import type pg from 'pg';

export type RunningFleetServer = {
  url: string;
  port: number;
  services: HttpServices & { fleet: FleetSource };
  projector: FleetProjector | null;
  server: Server;
  close(): Promise<void>;
};

export async function startFleetServer(
  http: Config,
  fleetConfig: FleetConfig,
  options: { logger?: Logger; onRole?: (role: string) => void } = {},
): Promise<RunningFleetServer> {
  const logger = options.logger ?? makeLogger(http);
  const url = fleetConfig.databaseUrl;
  // Migrated before serving, so the first request finds the tables (the projector migrates too, under the same lock).
  const setup = centreClient(url, { applicationName: 'webrtc-monitor fleet serve' });
  setup.on('error', () => {});
  try {
    await setup.connect();
    await migrateCentre(setup);
  } finally {
    await endQuietly(setup);
  }
  const pool = centrePool(url, { applicationName: 'webrtc-monitor fleet reads' });
  // An idle client the server dropped is replaced by the pool; a query in flight fails (503 from the problem middleware).
  pool.on('error', (err) => logger.warn({ err: err.message }, 'fleet reads: a pooled connection was lost'));
  const feed = new FleetFeed(url, logger, fleetConfig.feedPollMs);
  const projector = fleetConfig.project
    ? new FleetProjector({ url, pageSize: fleetConfig.pageSize, pollMs: fleetConfig.pollMs, takeoverPollMs: fleetConfig.takeoverPollMs, logger, onRole: options.onRole })
    : null;
  const reads = new FleetReads(pool);
  const fleet: FleetSource = { reads, feed, projectorRole: () => projector?.role ?? 'off' };
  const services: HttpServices & { fleet: FleetSource } = { config: http, reads, logger, startedAt: Date.now(), forwarder: null, fleet };

  const app = baseApp(services);
  mount(app, fleetRouters(services, pool));
  const server = createServer(
    { requestTimeout: http.requestTimeoutMs, headersTimeout: http.headersTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(http.headersTimeoutMs / 4))) },
    app.callback(),
  );
  server.keepAliveTimeout = 5_000;
  countConnections(services, server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(http.port, http.host, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
  } catch (err) {
    await pool.end();
    throw err;
  }
  server.on('error', (err) => logger.warn({ err }, 'the HTTP server reported an error'));
  feed.start();
  projector?.start();
  const port = (server.address() as AddressInfo).port;
  const host = http.host.includes(':') ? `[${http.host}]` : http.host;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      serverState(services).draining = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await projector?.stop();
      await feed.stop();
      server.closeAllConnections();
      await stopped;
      await pool.end();
      healthOf(services).stop();
    })());
  return { url: `http://${host}:${port}`, port, services, projector, server, close };
}

/** The fleet monitor's routers (building them queries nothing). */
export function fleetRouters(services: HttpServices & { fleet: FleetSource }, pool: pg.Pool) {
  return [monitorRouter(services), fleetEventsRouter(services, pool), fleetMetricsRouter(services), openapiRouter(services, [], FLEET_API), dashboardRouter(services)];
}

// ---- OpenAPI: the node's monitor routes with `?node=`, without export ----------

const fleetSummarySchema = named(
  'FleetSummary',
  z.object({
    ...summarySchema.shape,
    nodes: z.array(
      z.object({
        node: z.string(),
        projected_position: z.number().int(),
        centre_position: z.number().int(),
        reported_head_position: z.number().int().nullable(),
        lag_events: z.number().int().meta({ description: 'Events the node recorded (as last reported) that the fleet does not show yet.' }),
        lag_seconds: z.number().meta({ description: 'Age of the oldest of them.' }),
        forwarder_lag_events: z.number().int(),
        projection_lag_events: z.number().int(),
        last_report_at: z.string().nullable(),
        connections: z.record(z.string(), z.number()).nullable(),
        operations: z.record(z.string(), z.number()).nullable(),
        event_count: z.number().int(),
      }),
    ),
    projector: z.string().meta({ description: "This process's projector role (off: --no-project)." }),
  }),
);

function fleetMonitorApi(): ApiSpec {
  const out: ApiSpec = {};
  for (const [key, route] of Object.entries(monitorApi)) {
    if (!key.startsWith('GET ')) continue;
    const query = route.query ? route.query.extend(nodeQuery.shape) : nodeQuery;
    const responses = key === `GET ${MONITOR_PREFIX}/summary` ? { 200: { description: 'The fleet summary: the sum over the nodes, and each node', json: fleetSummarySchema } } : route.responses;
    out[key] = { ...route, query, responses, errors: [...new Set([...(route.errors ?? []), 'BAD_REQUEST' as const])] };
  }
  return out;
}

export const FLEET_API: ApiSpec[] = [fleetMonitorApi(), fleetEventsApi, metricsApi, dashboardApi, openapiApi];
