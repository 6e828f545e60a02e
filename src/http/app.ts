// The Koa application: middleware order matters. Problems wrap everything;
// the Host and cross-site checks, CORS (preflights are answered there, before
// auth: browsers send them without credentials; its headers are set first so
// a refusal is readable by the page), the connection cap and auth run before the
// body is read, so a refused client cannot make the server parse (or record)
// anything; the shutdown check runs after it, right before the routes.
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { EventStore } from '../log/store.ts';
import type { IssueReads, MonitorReads } from '../projections/reads.ts';
import type { OperationRunner } from '../operations/runner.ts';
import type { ForwarderStatusSource } from '../fleet/status.ts';
import type { RulesHolder } from '../detect/rulesHolder.ts';
import type { DetectorConsumer } from '../detect/consumer.ts';
import type { WebhookStatusSource } from '../deliver/webhooks.ts';
import type { FleetSource } from '../fleet/source.ts';
import { problemMiddleware } from './errors.ts';
import { requireTokens, type ViewerTokens } from './auth.ts';
import { sameSiteGuard } from './sameSite.ts';
import { cors } from './cors.ts';
import { connectionLimit, refuseWhileDraining } from './limits.ts';
import { healthOf } from './health.ts';
import { monitorRouter } from './routes/monitor.ts';
import type { ResponseCache } from './responseCache.ts';
import { eventsRouter } from './routes/events.ts';
import { metricsRouter } from './routes/metrics.ts';
import { openapiRouter } from './routes/openapi.ts';
import type { ApiSpec } from './openapi/spec.ts';
import { dashboardRouter } from './routes/dashboard.ts';
import { issuesRouter } from './routes/issues.ts';
import { telemetryRouter } from './routes/telemetry.ts';

/** What every server answering the monitor API has: a node, or the fleet monitor over PostgreSQL. */
export type HttpServices = {
  config: Config;
  /** The read models: what the monitor, metrics and exports answer from. */
  reads: MonitorReads;
  logger: Logger;
  /** Epoch ms when this process started serving. */
  startedAt: number;
  /** The fleet forwarder, when `--forward-to` is set. */
  forwarder?: ForwarderStatusSource | null;
  /** The detectors' rules and the consumer running them (absent in apps built without a server). */
  detectors?: { rules: RulesHolder; consumer: DetectorConsumer } | null;
  /** The webhook deliverers, one per `--webhook` endpoint. */
  webhooks?: readonly WebhookStatusSource[];
  /** Finished monitor answers by (path, query, log position); each app makes its own unless given one. */
  responseCache?: ResponseCache;
  /** Set on the fleet monitor only: its reads by node, its live feed, its projector. */
  fleet?: FleetSource | null;
};

/** A node's server: the monitor over its own log, which it appends to. */
export type Services = HttpServices & {
  /** The node's read models, its issues among them. */
  reads: MonitorReads & IssueReads;
  /** The event log: appends, log reads, checkpoints. */
  store: EventStore;
  runner: OperationRunner;
};

export type RouterFactory = (services: Services) => Router;

/**
 * `extraRouters` and `extraApi`: what the plugins bring (their routers, and
 * the tables the OpenAPI document describes them from); `viewerTokens`: where
 * the streams' viewer tokens are known (the WebRTC plugin).
 */
export function createApp(services: Services, extraRouters: RouterFactory[] = [], extraApi: ApiSpec[] = [], viewerTokens: ViewerTokens | null = null) {
  const app = baseApp(services, viewerTokens);
  const ownRouters: RouterFactory[] = [monitorRouter, eventsRouter, metricsRouter, (s) => openapiRouter(s, extraApi), dashboardRouter, issuesRouter, telemetryRouter];
  const routers = [...ownRouters, ...extraRouters].map((make) => make(services));
  mount(app, routers);
  return { app, routers };
}

/** Mounts routers after the middleware. */
export function mount(app: Koa, routers: Router[]) {
  for (const router of routers) {
    app.use(router.routes());
    // Not `throw: true`: thrown, @koa/router drops the Allow header and turns
    // unknown methods into 501; the problem middleware makes these a 405.
    app.use(router.allowedMethods());
  }
}

/** The middleware every server of the monitor API runs, in order, before its routes. */
export function baseApp(services: HttpServices, viewerTokens: ViewerTokens | null = null): Koa {
  const app = new Koa();
  app.proxy = false;
  // Koa's default handler would log and answer on its own; ours already did.
  app.silent = true;
  app.use(async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  });
  const health = healthOf(services);
  app.use(problemMiddleware(services.logger, (code) => health.countRefusal(code)));
  app.use(sameSiteGuard(services.config));
  app.use(cors(services.config));
  app.use(connectionLimit(services));
  app.use(requireTokens(services.config, viewerTokens));
  const limit = services.config.bodyLimitBytes;
  app.use(
    bodyParser({
      enableTypes: ['json', 'text'],
      jsonLimit: limit,
      // A bare JSON string or number is valid JSON of the wrong shape: let the
      // route's schema answer 422, rather than strict parsing calling it
      // "not valid JSON" (400).
      jsonStrict: false,
      textLimit: limit,
      // lodash-merged over the defaults by index: this list replaces
      // ['text/plain'], so text/plain stays unparsed as before.
      extendTypes: { text: ['application/sdp', 'application/trickle-ice-sdpfrag', 'application/x-ndjson', 'application/jsonl'] },
      // Koa's bodyparser would map parse errors to 500 without this.
      onError: (err, ctx) => {
        const e = err as Error & { status?: number; type?: string };
        ctx.throw(e.status === 413 || e.type === 'entity.too.large' ? 413 : 400, e.message);
      },
    }),
  );
  app.use(refuseWhileDraining(services));
  return app;
}
