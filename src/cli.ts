// The single entry point: `webrtc-monitor <command>`. Every command that opens
// the database takes the same --persistence-path with the same default.
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { z } from 'zod';
import {
  configFromEnv,
  DEFAULT_DB_PATH,
  fleetConfigFromEnv,
  isLoopback,
  loadConfig,
  loadFleetConfig,
  readTokenFile,
  tokenFileIsShared,
  type ConfigInput,
} from './config.ts';
import { openReadOnlyStore, openStore } from './projections/sqlite/open.ts';
import { rebuild } from './projections/sqlite/rebuild.ts';
import { exportLogs } from './export/exporter.ts';
import { formatTable, QUERY_TIMEOUT_MS, runQueryWithTimeout } from './log/query.ts';
import type { PluginFactory } from './http/serve.ts';
import { AppError, isAppError } from './errors.ts';

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};

// A calendar date (midnight UTC) or a time with Z or an offset: Date.parse
// alone takes 2026-02-30 for March 2nd and a zone-less time as local time.
const isoDateOrTime = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);
const time = (value: string) => {
  if (!isoDateOrTime.safeParse(value).success) throw new InvalidArgumentError('use an ISO-8601 time, e.g. 2026-01-31T12:00:00Z');
  return Date.parse(value);
};

/**
 * rebuild and prune work on a log that exists (a mistyped path must not
 * create an empty database), holding it: they refuse while a server holds it.
 */
function openExisting(path: string) {
  if (!existsSync(path)) throw new AppError(404, 'NOT_FOUND', `no database at ${resolve(path)} (check --persistence-path)`);
  return openStore(path, { hold: 'maintenance', rebuildStale: false });
}

const persistenceOption = () =>
  new Option('--persistence-path <file>', 'the SQLite database file').default(DEFAULT_DB_PATH);

/** Plugins are loaded lazily so commands that do not serve never load werift. */
async function defaultPlugins(): Promise<PluginFactory[]> {
  const { webrtcPlugin } = await import('./http/webrtcPlugin.ts');
  return [webrtcPlugin];
}

export function buildCli(): Command {
  const program = new Command('webrtc-monitor')
    .description('Real WebRTC peers with every event recorded in SQLite, and a monitor that is a projection of that log.')
    .showHelpAfterError()
    .enablePositionalOptions();

  program
    .command('serve', { isDefault: true })
    .description('serve the monitor, the WebRTC controller and the dashboard')
    .option('--port <n>', 'port to listen on (0 picks a free one)', int('--port'), 9999)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--debug', 'debug logging and the test routes', false)
    .addOption(persistenceOption())
    .option('--log-dir <dir>', 'write connection/operation JSON logs as they finish')
    .option('--auth-token <token>', 'bearer token required by mutating routes (visible in the process list: prefer --auth-token-file or WEBRTC_MONITOR_AUTH_TOKEN)')
    .option('--auth-token-file <file>', 'read the bearer token for mutating routes (and reads) from this file (or WEBRTC_MONITOR_AUTH_TOKEN_FILE)')
    .option('--read-token-file <file>', 'protect reads too: GET routes need this token or the auth token (or WEBRTC_MONITOR_READ_TOKEN[_FILE])')
    .option('--allowed-host <name...>', 'host names clients may use besides IP addresses and localhost (DNS-rebinding protection; or WEBRTC_MONITOR_ALLOWED_HOSTS)')
    .option('--allowed-origin <origin...>', 'origins (scheme://host:port) whose pages may send mutating requests besides the server\'s own')
    .option('--max-peers <n>', 'peers admitted at once (default: derived from ulimit -n and the sockets per peer)', int('--max-peers'))
    .option('--max-connections <n>', 'HTTP connections open at once (default: derived from ulimit -n)', int('--max-connections'))
    .option('--request-timeout <ms>', 'how long a client may take to send a whole request', int('--request-timeout'), 30_000)
    .option('--content-dir <dir>', 'directory of streamable content', 'content')
    .option('--stats-interval <ms>', 'getStats() sampling interval', int('--stats-interval'), 1000)
    .option('--stall-after <ms>', 'record connection.stalled when nothing has arrived from a viewer for this long', int('--stall-after'), 5_000)
    .option('--consent-timeout <ms>', 'fail a connection when nothing has arrived for this long (RFC 7675 consent)', int('--consent-timeout'), 30_000)
    .option('--operation-timeout <ms>', 'how long a request waits for an operation before answering 202', int('--operation-timeout'), 10_000)
    .option('--shutdown-grace <ms>', 'how long shutdown waits for running operations', int('--shutdown-grace'), 5_000)
    .option('--ice-server <url...>', 'STUN/TURN server URLs for the server peers')
    .option('--enable-test-routes', 'enable POST .../test/async_close without --debug', false)
    .option('--run-tests', 'start, drive real WebRTC operations against this server over HTTP, report, exit 0/1', false)
    .option('--forward-to <url>', 'ship the log to this central PostgreSQL, postgres://… (or WEBRTC_MONITOR_FORWARD_TO)')
    .option('--node-id <name>', "this node's name in the fleet (or WEBRTC_MONITOR_NODE_ID; default: the host name)")
    .option('--forward-backoff-max <ms>', 'longest wait between attempts while the centre is unreachable (default 10000)', int('--forward-backoff-max'))
    .action(async (opts) => {
      const flags: ConfigInput = {
        port: opts.runTests && opts.port === 9999 ? 0 : opts.port,
        host: opts.host,
        debug: opts.debug,
        persistencePath: opts.persistencePath,
        logDir: opts.logDir ?? null,
        authToken: opts.authToken ?? (opts.authTokenFile ? readTokenFile(opts.authTokenFile) : undefined),
        readToken: opts.readTokenFile ? readTokenFile(opts.readTokenFile) : undefined,
        allowedHosts: opts.allowedHost,
        allowedOrigins: opts.allowedOrigin,
        maxPeers: opts.maxPeers,
        maxConnections: opts.maxConnections,
        requestTimeoutMs: opts.requestTimeout,
        contentDir: opts.contentDir,
        statsIntervalMs: opts.statsInterval,
        stallAfterMs: opts.stallAfter,
        consentTimeoutMs: opts.consentTimeout,
        operationTimeoutMs: opts.operationTimeout,
        shutdownGraceMs: opts.shutdownGrace,
        iceServers: opts.iceServer,
        enableTestRoutes: opts.enableTestRoutes || opts.runTests,
        forwardTo: opts.forwardTo,
        nodeId: opts.nodeId,
        forwardBackoffMaxMs: opts.forwardBackoffMax,
      };
      const config = loadConfig(configFromEnv(process.env), flags);
      // Loaded here, not at the top: the HTTP stack costs over a second to
      // load, which every `query`, `export-logs` or `--help` would pay.
      const { makeLogger, startServer } = await import('./http/serve.ts');
      const logger = makeLogger(config);
      if (!isLoopback(config.host) && !config.authToken) {
        logger.warn(
          { host: config.host },
          'listening on a non-loopback address without --auth-token: anyone who can reach it can start and close streams',
        );
      }
      if (opts.authToken) logger.warn('--auth-token shows in the process list; use --auth-token-file or WEBRTC_MONITOR_AUTH_TOKEN');
      if (config.readToken && !config.authToken) logger.warn('--read-token-file without an auth token: reads need a token, but mutating routes are open');
      for (const file of [opts.authTokenFile, opts.readTokenFile, process.env.WEBRTC_MONITOR_AUTH_TOKEN_FILE, process.env.WEBRTC_MONITOR_READ_TOKEN_FILE]) {
        if (file && tokenFileIsShared(file)) logger.warn({ file }, 'the token file can be read by other users (chmod 600 it)');
      }
      const running = await startServer(config, { logger, plugins: await defaultPlugins() });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        await running.close();
        process.exit(process.exitCode ?? 0);
      };
      // The first signal starts a clean shutdown (nothing new is accepted,
      // running work gets --shutdown-grace, then is cancelled on the record).
      // A second one during it is ignored, saying so: supervisors and impatient
      // operators often send two, and dying then would leave connections and
      // tasks open. A third ends the process at once; the next start closes
      // out what it left (process_restart).
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          process.stderr.write(
            `webrtc-monitor: ${signal}: shutting down (running operations get up to ${config.shutdownGraceMs} ms); ` +
              `a second ${signal} is ignored, a third stops at once\n`,
          );
          void stop(signal);
        } else if (signals === 2) {
          process.stderr.write(`webrtc-monitor: ${signal} again: ignored, shutdown is in progress; send it once more (or SIGKILL) to stop at once\n`);
          logger.warn({ signal }, 'second signal during shutdown ignored');
        } else {
          process.stderr.write(`webrtc-monitor: ${signal} a third time: stopping now; the next start closes out what is left open\n`);
          process.exit(128 + (constants.signals[signal] ?? 15));
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      // Said only once the handlers are in place: whoever waits for this line may signal at once.
      logger.info({ url: running.url, database: resolve(config.persistencePath) }, 'webrtc-monitor listening');
      if (running.forwarder) {
        const { node, target } = running.forwarder.destination;
        logger.info({ node, target }, 'forwarding the log to the central database');
      }
      process.stdout.write(`webrtc-monitor listening on ${running.url} (database ${resolve(config.persistencePath)})\n`);

      if (opts.runTests) {
        const { runSelfTests } = await import('./selfTest.ts');
        const ok = await runSelfTests(running.url, { token: config.authToken });
        process.exitCode = ok ? 0 : 1;
        signals = 1;
        await stop('run-tests finished');
      }
    });

  program
    .command('export-logs')
    .description('write connections/ and operations/ JSON logs from the database')
    .requiredOption('--out <dir>', 'directory to write into')
    .option('--since <time>', 'only what was active at or after this ISO-8601 time', time)
    .option('--connection <id>', 'only this connection (and operations naming it)')
    .addOption(persistenceOption())
    .action(async (opts) => {
      const { store, reads } = openReadOnlyStore(opts.persistencePath);
      const tty = process.stderr.isTTY;
      const report = await exportLogs(store, reads, {
        out: resolve(opts.out),
        since: opts.since,
        connectionId: opts.connection,
        onProgress: tty
          ? (p) => process.stderr.write(`\rexported ${p.connections} connections, ${p.operations} operations, ${p.events} events`)
          : undefined,
      });
      if (tty) process.stderr.write('\n');
      await store.close();
      process.stdout.write(
        `wrote ${report.files} files (${report.connections} connections, ${report.operations} operations, ${report.events} events) to ${report.out}\n`,
      );
    });

  program
    .command('query')
    .description('run read-only SQL over the database (tables: events, connections, operations, tasks; views: see README)')
    .argument('<sql>', 'one SQL statement')
    .option('--json', 'print rows as JSON', false)
    .option('--timeout <ms>', 'stop a query that runs longer than this', int('--timeout'), QUERY_TIMEOUT_MS)
    .addOption(persistenceOption())
    .action(async (sql: string, opts) => {
      const result = await runQueryWithTimeout(opts.persistencePath, sql, opts.timeout);
      process.stdout.write(opts.json ? `${JSON.stringify(result.rows, null, 2)}\n` : formatTable(result.columns, result.rows));
    });

  program
    .command('rebuild')
    .description('replay the log into fresh read models (refused while a server holds the database)')
    .option('--force', 'rebuild even though old events were pruned (their streams lose that history)', false)
    .addOption(persistenceOption())
    .action(async (opts) => {
      const { store } = await openExisting(opts.persistencePath);
      const tty = process.stderr.isTTY;
      let report;
      try {
        report = await rebuild(store, {
          force: opts.force,
          onProgress: tty ? (done, total) => process.stderr.write(`\rreplayed ${done} / ${total} events`) : undefined,
        });
      } finally {
        await store.close();
      }
      if (tty) process.stderr.write('\n');
      process.stdout.write(
        `rebuilt read models from ${report.events} events in ${Math.round(report.durationMs)} ms (${Math.round(report.eventsPerSecond)} events/s)\n`,
      );
    });

  program
    .command('prune')
    .description('delete events up to a log position (never past a consumer checkpoint), archiving them first if asked (refused while a server holds the database)')
    .requiredOption('--through <position>', 'delete events at or before this position', int('--through'))
    .option('--archive <file>', 'write the deleted events as JSON lines to this new file first')
    .addOption(persistenceOption())
    .action(async (opts) => {
      const { store } = await openExisting(opts.persistencePath);
      try {
        const report = await store.prune({ throughPosition: opts.through, archivePath: opts.archive && resolve(opts.archive) });
        process.stdout.write(
          `deleted ${report.deleted} events through position ${report.throughPosition}${report.archived ? `, archived to ${report.archived}` : ''}\n`,
        );
      } finally {
        await store.close();
      }
    });

  const fleet = program
    .command('fleet')
    .description("the central side of a fleet: the nodes' forwarded events (serve --forward-to) in PostgreSQL");
  const databaseUrlOption = () =>
    new Option('--database-url <url>', 'the central PostgreSQL, postgres://… (or WEBRTC_MONITOR_DATABASE_URL)');
  const fleetConfig = (opts: { databaseUrl?: string }) => {
    const env = fleetConfigFromEnv(process.env);
    if (!opts.databaseUrl && !env.databaseUrl) {
      throw new AppError(400, 'BAD_REQUEST', 'the central database is needed: --database-url postgres://… or WEBRTC_MONITOR_DATABASE_URL');
    }
    return loadFleetConfig(env, { databaseUrl: opts.databaseUrl });
  };

  fleet
    .command('project')
    .description('project the central events into the fleet read models, as they arrive; one process projects at a time, others wait to take over')
    .addOption(databaseUrlOption())
    .action(async (opts) => {
      const config = fleetConfig(opts);
      const { default: pino } = await import('pino');
      const logger = pino({ level: config.logLevel, base: undefined }, pino.destination(2));
      const { FleetProjector } = await import('./fleet/projector.ts');
      const { redactUrl } = await import('./fleet/pg.ts');
      const target = redactUrl(config.databaseUrl);
      const projector = new FleetProjector({
        url: config.databaseUrl,
        pageSize: config.pageSize,
        pollMs: config.pollMs,
        takeoverPollMs: config.takeoverPollMs,
        logger,
        // One line per role change on stdout: what an operator (or a test) watches for.
        onRole: (role) => process.stdout.write(`fleet projector ${role} (${target})\n`),
      });
      projector.start();
      await new Promise<void>((resolveStop) => {
        const stop = () => void projector.stop().then(resolveStop);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  fleet
    .command('rebuild')
    .description('replay every node\'s central events into fresh fleet read models (stop every `fleet project` first)')
    .addOption(databaseUrlOption())
    .action(async (opts) => {
      const config = fleetConfig(opts);
      const { rebuildFleet } = await import('./fleet/projector.ts');
      const report = await rebuildFleet(config.databaseUrl, { pageSize: config.pageSize });
      process.stdout.write(
        `rebuilt the fleet read models from ${report.events} events of ${report.nodes} nodes in ${Math.round(report.durationMs)} ms (${Math.round(report.eventsPerSecond)} events/s)\n`,
      );
    });

  return program;
}

export async function main(argv = process.argv) {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    const message = isAppError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
    process.stderr.write(`webrtc-monitor: ${message}\n`);
    process.exitCode = isAppError(err) && err.status < 500 ? 2 : 1;
  }
}

await main();
