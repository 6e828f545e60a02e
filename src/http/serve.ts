// Start-up and shutdown of the whole server, in the order DESIGN.md section 5
// asks for: migrate, close out what a crashed run left open, then listen; on
// shutdown stop accepting, close peers through the runner, wait for tasks up
// to a grace period, cancel the rest (recorded), close the database.
import { ResponseCache } from './responseCache.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { makeLogger } from '../logger.ts';
import type { Config } from '../config.ts';
import type { EventStore } from '../log/store.ts';
import { openStore } from '../projections/sqlite/open.ts';
import { allOf, type MonitorReads } from '../projections/reads.ts';
import { PENDING_TASK_STATUSES, type TaskModel } from '../projections/task.ts';
import type { ConnectionModel } from '../projections/connection.ts';
import type { OperationModel } from '../projections/operation.ts';
import { OperationRunner } from '../operations/runner.ts';
import { closeOrphans, type RecoveryReport } from '../operations/recover.ts';
import { LogDirWriter } from '../export/logDirWriter.ts';
import type { Forwarder } from '../fleet/forwarder.ts';
import { WEBHOOK_CONSUMER_PREFIX, WebhookDeliverer } from '../deliver/webhooks.ts';
import { parseEndpoint } from '../deliver/endpoint.ts';
import { createApp, type RouterFactory, type Services } from './app.ts';
import type { ApiSpec } from './openapi/spec.ts';
import type { ViewerTokens } from './auth.ts';
import { countConnections, serverState } from './limits.ts';
import { guardProcess } from './processGuard.ts';
import { healthOf } from './health.ts';
import { RulesHolder } from '../detect/rulesHolder.ts';
import { DetectorConsumer } from '../detect/consumer.ts';
import { loadRulesFile } from '../detect/rules.ts';
import { AppError } from '../errors.ts';
import { attachRtcstatsSocket } from './rtcstatsSocket.ts';

/** A part of the server that brings routes and takes part in start-up and shutdown. */
export type Plugin = {
  name: string;
  routers?: RouterFactory[];
  /** Its routes' tables for the OpenAPI document (src/http/openapi/spec.ts). */
  api?: ApiSpec[];
  /** Where the viewer tokens of its streams are known (src/http/auth.ts). */
  viewerTokens?: ViewerTokens;
  /** Runs after the database is ready, before the server listens. */
  start?(): Promise<void>;
  /** Runs first at shutdown, while the runner still accepts work (to close peers through it). */
  shutdown?(): Promise<void>;
};
export type PluginFactory = (services: Services) => Plugin;

export type RunningServer = {
  url: string;
  port: number;
  services: Services;
  recovered: RecoveryReport;
  logDirWriter: LogDirWriter | null;
  forwarder: Forwarder | null;
  /** One per `--webhook` endpoint. */
  webhooks: WebhookDeliverer[];
  server: Server;
  /** The rtcstats WebSocket (viewer-side telemetry). */
  telemetry: ReturnType<typeof attachRtcstatsSocket>;
  close(): Promise<void>;
};

export { makeLogger };

export async function startServer(
  config: Config,
  options: { logger?: Logger; plugins?: PluginFactory[] } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? makeLogger(config);
  // A rules file that is bad at start stops the start: there are no rules in force to keep yet.
  const initialRules = config.rulesPath ? loadRulesFile(config.rulesPath) : null;
  if (initialRules && !initialRules.ok) throw new AppError('RULES_INVALID', `invalid rules (--rules): ${initialRules.error}`);
  // The server holds the database while it runs (`rebuild` and `prune` refuse
  // meanwhile), and its read models are brought to this version's first.
  const opened = await openStore(config.persistencePath, {
    synchronous: config.synchronous,
    hold: 'server',
    onRebuild: (models) => logger.warn({ models }, 'read models were built by another version: rebuilding them from the log before serving'),
  });
  const { store, reads } = opened;
  if (opened.rebuilt) logger.info({ events: opened.rebuilt.report.events, ms: Math.round(opened.rebuilt.report.durationMs) }, 'read models rebuilt');
  let unguard = () => {};
  let logDirWriter: LogDirWriter | null = null;
  let forwarder: Forwarder | null = null;
  let webhooks: WebhookDeliverer[] = [];
  let server: Server;
  let telemetry!: ReturnType<typeof attachRtcstatsSocket>;
  let services: Services;
  let plugins: Plugin[];
  let runner: OperationRunner;
  let recovered: RecoveryReport;
  let rules: RulesHolder;
  let detectors: DetectorConsumer;
  try {
    unguard = guardProcess(logger);
    runner = new OperationRunner(store, { defaultTimeoutMs: config.operationTimeoutMs });
    forwarder = config.forwardTo ? await makeForwarder(config, store, logger) : null;
    rules = new RulesHolder(config.rulesPath, store, logger, initialRules?.ok ? initialRules.rules : undefined);
    detectors = new DetectorConsumer(store, rules, logger);
    const consumer = detectors;
    rules.onChange(() => consumer.rulesChanged());
    webhooks = await makeWebhooks(config, store, logger);
    services = {
      config, store, reads, runner, logger, startedAt: Date.now(), forwarder, webhooks, responseCache: new ResponseCache(), detectors: { rules, consumer },
    };

    recovered = await closeOrphans(store, await findOrphans(store, reads));
    if (recovered.connections + recovered.operations + recovered.tasks + recovered.abandoned_tasks + recovered.servers + recovered.clients > 0) {
      logger.warn(recovered, 'closed out what the previous run left open (reason: process_restart)');
    }

    plugins = (options.plugins ?? []).map((make) => make(services));
    for (const plugin of plugins) await plugin.start?.();

    if (config.logDir) {
      logDirWriter = new LogDirWriter(store, reads, config.logDir, logger);
      await logDirWriter.start();
    }

    const { app } = createApp(
      services,
      plugins.flatMap((p) => p.routers ?? []),
      plugins.flatMap((p) => p.api ?? []),
      plugins.find((p) => p.viewerTokens)?.viewerTokens ?? null,
    );
    server = createServer(
      {
        // Node's defaults hold a slow request body for 300 s; past these the
        // client gets 408 and its connection is closed.
        requestTimeout: config.requestTimeoutMs,
        headersTimeout: config.headersTimeoutMs,
        connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(config.headersTimeoutMs / 4))),
      },
      app.callback(),
    );
    server.keepAliveTimeout = 5_000;
    countConnections(services, server);
    telemetry = attachRtcstatsSocket(server, services, plugins.find((p) => p.viewerTokens)?.viewerTokens ?? null);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
  } catch (err) {
    // Not serving: let go of the database (and its hold) for the next start.
    unguard();
    await logDirWriter?.stop().catch(() => {});
    await store.close();
    throw err;
  }
  // After listen, an 'error' (accept failing with EMFILE, say) must not end
  // the process: libuv retries the accept, and the limits refuse the rest.
  server.on('error', (err) => logger.warn({ err }, 'the HTTP server reported an error'));
  // In the background, once serving: a node serves whether or not the centre is reachable.
  await forwarder?.start();
  // With a rules file, what was loaded is recorded (the defaults need no record on every start).
  if (config.rulesPath) await rules.reload('start');
  await detectors.start();
  // SIGHUP reloads the rules (a refused file keeps the rules in force; both are recorded).
  const onHangUp = () => void rules.reload('signal');
  process.on('SIGHUP', onHangUp);
  for (const webhook of webhooks) await webhook.start();
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      // Nothing new starts from here (requests already being read get 503 SHUTTING_DOWN).
      serverState(services).draining = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Long-lived responses (the SSE feed) would hold close() open forever.
      server.closeIdleConnections();
      await telemetry.close();
      for (const plugin of [...plugins].reverse()) {
        try {
          await plugin.shutdown?.();
        } catch (err) {
          logger.error({ err, plugin: plugin.name }, 'plugin shutdown failed');
        }
      }
      const result = await runner.shutdown(config.shutdownGraceMs);
      if (result.cancelled) logger.warn(result, 'operations cancelled at shutdown');
      if (result.unrecorded) logger.error(result, 'outcomes storage refused are still unrecorded; the next start closes those operations out');
      // One turn for answers to operations that just ended to be written
      // before their connections are cut.
      await new Promise((resolve) => setImmediate(resolve));
      server.closeAllConnections();
      await stopped;
      await logDirWriter?.stop();
      process.off('SIGHUP', onHangUp);
      await detectors.stop();
      // Delivers what the shutdown recorded to endpoints that answer, within the grace period; the rest goes on the next start.
      await Promise.all(webhooks.map((webhook) => webhook.stop({ drainMs: config.shutdownGraceMs })));
      // Ships what the shutdown recorded, if the centre is there, within the grace period.
      await forwarder?.stop({ drainMs: config.shutdownGraceMs });
      await store.close();
      const gap = store.pendingGap;
      if (gap) logger.error(gap, 'events that could not be recorded before shutdown (no log.gap marker could be written)');
      healthOf(services).stop();
      unguard();
    })());

  return { url, port, services, recovered, logDirWriter, forwarder, webhooks, server, telemetry, close };
}

/** Loaded only when forwarding: node-postgres is no cost to a node that does not. */
async function makeForwarder(config: Config, store: EventStore, logger: Logger): Promise<Forwarder> {
  const { Forwarder } = await import('../fleet/forwarder.ts');
  return new Forwarder(
    store,
    {
      url: config.forwardTo!,
      node: config.nodeId,
      batchSize: config.forwardBatchSize,
      backoff: { initialMs: config.forwardBackoffInitialMs, maxMs: config.forwardBackoffMaxMs },
      behindAfterMs: config.forwardBehindAfterMs,
    },
    logger,
  );
}

async function makeWebhooks(config: Config, store: EventStore, logger: Logger): Promise<WebhookDeliverer[]> {
  const endpoints = config.webhooks.map(parseEndpoint);
  // An endpoint taken out of the configuration must not hold back prune for ever; put back, it starts afresh.
  const dropped = await store.dropCheckpoints(WEBHOOK_CONSUMER_PREFIX, endpoints.map((e) => WEBHOOK_CONSUMER_PREFIX + e.key));
  if (dropped.length > 0) logger.info({ dropped }, 'webhook endpoints no longer configured: their checkpoints are dropped');
  return endpoints.map(
    (endpoint) =>
      new WebhookDeliverer(
        store,
        {
          endpoint,
          secret: config.webhookSecret!,
          node: config.nodeId,
          timeoutMs: config.webhookTimeoutMs,
          backoff: { initialMs: config.webhookBackoffInitialMs, maxMs: config.webhookBackoffMaxMs },
          maxAttempts: config.webhookMaxAttempts,
        },
        logger,
      ),
  );
}

/** Everything the read models say is not finished, which the log says is still open: what a crashed run left. */
async function findOrphans(store: EventStore, reads: MonitorReads) {
  const page = 1000;
  const connections = await allOf<ConnectionModel>((cursor) =>
    reads.connectionRows({ categories: ['new', 'connecting', 'connected', 'disconnected', 'failed'], limit: page, cursor }),
  );
  const operations = await allOf<OperationModel>((cursor) => reads.operationRows({ statuses: ['running'], limit: page, cursor }));
  const tasks = await allOf<TaskModel>((cursor) => reads.taskRows({ statuses: [...PENDING_TASK_STATUSES], limit: page, cursor }));
  const abandoned = await allOf<TaskModel>((cursor) => reads.taskRows({ statuses: [], abandoned: true, limit: page, cursor }));
  const servers = await store.openStreams('server', 'server.created', 'server.stopped');
  const clients = await store.openStreams('client', 'client.created', 'client.closed');
  return {
    connectionIds: connections.map((c) => c.id),
    operations: operations.map((o) => ({ id: o.id, startedAtMs: Date.parse(o.started_at) })),
    tasks: tasks.map((t) => ({ id: t.id, createdAtMs: Date.parse(t.created_at) })),
    abandonedTasks: abandoned.map((t) => ({ id: t.id, createdAtMs: Date.parse(t.created_at), endedAtMs: Date.parse(t.ended_at ?? t.created_at) })),
    serverIds: servers.map((s) => s.id),
    clientIds: clients.map((c) => c.id),
  };
}
