// The single entry point: `webrtc-monitor <command>`. Every command reads its
// settings through src/config.ts (defaults, environment, flags), so
// `WEBRTC_MONITOR_DB=x` means the same file to `serve`, `query`, `export-logs`,
// `rebuild` and `prune`. With no command it serves (the add-on's users start
// it with flags alone); a word that is not a command is refused, never served.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { constants } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { z } from 'zod';
import {
  COMMAND_SETTINGS,
  defaultsFor,
  FLEET_COMMAND_SETTINGS,
  FLEET_SERVE_HTTP_SETTINGS,
  FLEET_SETTINGS,
  isLoopback,
  loadConfig,
  loadFleetConfig,
  SETTINGS,
  tokenFileIsShared,
  type Flags,
  type SettingSource,
} from './config.ts';
import { openExistingStore, openReadOnlyStore, openStore } from './projections/sqlite/open.ts';
import { rebuild } from './projections/sqlite/rebuild.ts';
import { exportLogs } from './export/exporter.ts';
import { formatTable, RECENT_CONNECTIONS_SQL, runQueryWithTimeout } from './log/query.ts';
import type { PluginFactory } from './http/serve.ts';
import { AppError, exitCodeOf, isAppError } from './errors.ts';
import type { PrunePlan } from './log/store.ts';

const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const NAME = 'webrtc-monitor';

const wholeNumber = (flag: string, min = 0) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be a whole number${min > 0 ? ` of at least ${min}` : ''}`);
  return n;
};

// A calendar date (midnight UTC) or a time with Z or an offset: Date.parse
// alone takes 2026-02-30 for March 2nd and a zone-less time as local time.
const isoDateOrTime = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);
const time = (value: string) => {
  if (!isoDateOrTime.safeParse(value).success) throw new InvalidArgumentError('use an ISO-8601 time, e.g. 2026-01-31T12:00:00Z');
  return Date.parse(value);
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** `90s`, `30m`, `12h`, `7d`, `2w`, or several (`1d12h`), in milliseconds. */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(text)) throw new InvalidArgumentError('use a duration such as 90s, 30m, 12h, 7d or 1d12h');
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) ms += Number(n) * UNIT_MS[unit];
  return ms;
}

/** Help text for a setting: what it does, its default (from the schema) and the variable that stands in for it. */
function describe(help: string, source: SettingSource, fallback: unknown): string {
  const notes: string[] = [];
  const shown = source.defaultText ?? (fallback === undefined || fallback === null || fallback === false || (Array.isArray(fallback) && fallback.length === 0) ? undefined : String(fallback));
  if (shown !== undefined) notes.push(`default: ${shown}`);
  if (source.env) notes.push(`env ${source.env}`);
  return notes.length ? `${help} (${notes.join('; ')})` : help;
}

/**
 * The options of the settings a command reads, built from the tables in
 * src/config.ts. None carries a commander default: an option not given is
 * undefined, so the environment and then the schema's default decide.
 */
function addSettings(command: Command, keys: readonly string[], table: Partial<Record<string, SettingSource>>, defaults: Record<string, unknown>) {
  for (const key of keys) {
    const source = table[key];
    if (!source) continue;
    if (source.flag) {
      const option = new Option(source.flag, describe(source.help, source, defaults[key]));
      if (source.read === 'int') option.argParser(wholeNumber(source.flag.split(' ')[0]));
      command.addOption(option);
    }
    if (source.file) {
      const variables = [source.file.env, ...(source.env && !source.flag ? [`the token itself: ${source.env}`] : [])];
      command.addOption(new Option(source.file.flag, `${source.file.help} (env ${variables.join('; ')})`));
    }
  }
  return command;
}

/** Plugins are loaded lazily so commands that do not serve never load werift. */
async function defaultPlugins(): Promise<PluginFactory[]> {
  const { webrtcPlugin } = await import('./http/webrtcPlugin.ts');
  return [webrtcPlugin];
}

/** A line for the operator, not for a log collector: plain text on stderr whatever the log format. */
const warn = (text: string) => process.stderr.write(`${NAME}: warning: ${text}\n`);

export function buildCli(): Command {
  const nodeDefaults = defaultsFor('node');
  const program = new Command(NAME)
    .description('Real WebRTC peers with every event recorded in SQLite, and a monitor that is a projection of that log.')
    .version(PACKAGE.version, '-V, --version', 'print the version')
    .showHelpAfterError(`(run \`${NAME} --help\` for the commands, \`${NAME} <command> --help\` for their flags)`)
    .showSuggestionAfterError()
    .enablePositionalOptions()
    // Errors come back to main() as exceptions: exit codes are decided in one place.
    .exitOverride();

  const serve = program
    .command('serve')
    .description('serve the monitor, the WebRTC controller and the dashboard (the default command)')
    .allowExcessArguments(false);
  addSettings(serve, COMMAND_SETTINGS.serve, SETTINGS, nodeDefaults);
  serve
    .option('--run-tests', 'start on a free port, drive real WebRTC operations against this server over HTTP, report, exit 0/1')
    .action(async (opts: Flags & { runTests?: boolean; authToken?: string; authTokenFile?: string; readTokenFile?: string; webhookSecretFile?: string }) => {
      const config = loadConfig({
        env: process.env,
        flags: opts,
        only: COMMAND_SETTINGS.serve,
        // --run-tests picks a free port unless one is given, and needs the test route.
        base: opts.runTests ? { port: 0, enableTestRoutes: true } : undefined,
      });
      // Loaded here, not at the top: the HTTP stack costs over a second to
      // load, which every `query`, `export-logs` or `--help` would pay.
      const { makeLogger, startServer } = await import('./http/serve.ts');
      const logger = makeLogger(config);
      if (!isLoopback(config.host) && !config.authToken) {
        warn(
          `listening on ${config.host}, which is not a loopback address, without --auth-token: anyone who can reach it can start and close streams ` +
            '(give a token with --auth-token-file or WEBRTC_MONITOR_AUTH_TOKEN)',
        );
      }
      if (opts.authToken) warn('--auth-token shows in the process list; use --auth-token-file or WEBRTC_MONITOR_AUTH_TOKEN');
      if (config.readToken && !config.authToken) warn('a read token without an auth token: reads need a token, but mutating routes are open');
      for (const file of [
        opts.authTokenFile,
        opts.readTokenFile,
        opts.webhookSecretFile,
        process.env.WEBRTC_MONITOR_AUTH_TOKEN_FILE,
        process.env.WEBRTC_MONITOR_READ_TOKEN_FILE,
        process.env.WEBRTC_MONITOR_WEBHOOK_SECRET_FILE,
      ]) {
        if (file && tokenFileIsShared(file)) warn(`the token file can be read by other users: chmod 600 ${file}`);
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
            `${NAME}: ${signal}: shutting down (running operations get up to ${config.shutdownGraceMs} ms); ` +
              `a second ${signal} is ignored, a third stops at once\n`,
          );
          void stop(signal);
        } else if (signals === 2) {
          process.stderr.write(`${NAME}: ${signal} again: ignored, shutdown is in progress; send it once more (or SIGKILL) to stop at once\n`);
          logger.warn({ signal }, 'second signal during shutdown ignored');
        } else {
          process.stderr.write(`${NAME}: ${signal} a third time: stopping now; the next start closes out what is left open\n`);
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
      for (const webhook of running.webhooks) {
        const { endpoint, key, position } = webhook.status();
        logger.info({ endpoint, key, resumeAfter: position }, 'delivering webhooks');
      }
      process.stdout.write(`${NAME} listening on ${running.url} (database ${resolve(config.persistencePath)})\n`);

      if (opts.runTests) {
        const { runSelfTests } = await import('./selfTest.ts');
        const ok = await runSelfTests(running.url, { token: config.authToken });
        process.exitCode = ok ? 0 : 1;
        signals = 1;
        await stop('run-tests finished');
      }
    });

  const exportCommand = program
    .command('export-logs')
    .description('write connections/ and operations/ JSON logs from the database')
    .requiredOption('--out <dir>', 'directory to write into')
    .option('--since <time>', 'only what was active at or after this ISO-8601 time', time)
    .option('--connection <id>', 'only this connection (and operations naming it); an id the log does not have is an error')
    .addOption(new Option('--format <format>', 'json: connections/ and operations/ JSON logs; rtcstats: rtcstats/, one rtcstats dump per connection with both ends').choices(['json', 'rtcstats']));
  addSettings(exportCommand, COMMAND_SETTINGS['export-logs'], SETTINGS, nodeDefaults).action(
    async (opts: Flags & { out: string; since?: number; connection?: string; format?: 'json' | 'rtcstats' }) => {
      const config = loadConfig({ env: process.env, flags: opts, only: COMMAND_SETTINGS['export-logs'] });
      const { store, reads } = openReadOnlyStore(config.persistencePath);
      const tty = process.stderr.isTTY;
      let report;
      try {
        report = await exportLogs(store, reads, {
          out: resolve(opts.out),
          since: opts.since,
          connectionId: opts.connection,
          format: opts.format,
          onProgress: tty
            ? (p) => process.stderr.write(`\rexported ${p.connections} connections, ${p.operations} operations, ${p.events} events`)
            : undefined,
        });
      } finally {
        if (tty) process.stderr.write('\n');
        await store.close();
      }
      if (opts.connection !== undefined && report.connections === 0) {
        const since = opts.since === undefined ? '' : ` active at or after ${new Date(opts.since).toISOString()}`;
        throw new AppError(
          'NOT_FOUND',
          `no connection "${opts.connection}"${since} in ${resolve(config.persistencePath)}: nothing was exported for it ` +
            `(list the ids with: ${NAME} query "${RECENT_CONNECTIONS_SQL}")`,
        );
      }
      process.stdout.write(
        `wrote ${report.files} files (${report.connections} connections, ${report.operations} operations, ${report.events} events) to ${report.out}\n`,
      );
    },
  );

  const importCommand = program
    .command('import')
    .description('append a chrome://webrtc-internals dump (JSON, gzipped or not) or an rtcstats dump as client streams, joined to the server connections they talked to')
    .argument('<file>', 'the dump');
  addSettings(importCommand, COMMAND_SETTINGS.import, SETTINGS, nodeDefaults).action(async (file: string, opts: Flags) => {
    const config = loadConfig({ env: process.env, flags: opts, only: COMMAND_SETTINGS.import });
    // Loaded only for this command: the dump readers are no cost to every other start.
    const { readDumpText, translateDumpText } = await import('./telemetry/importFile.ts');
    const { appendDump } = await import('./telemetry/dump.ts');
    const text = readDumpText(file);
    // No hold: an import appends beside a running server as the server's own
    // producers do (one transaction, WAL, busy_timeout).
    const { store, close } = await openStore(config.persistencePath, { rebuildStale: false });
    try {
      const { kind, imported } = await translateDumpText(
        text,
        { obfuscateIps: config.obfuscateIps, maxPeers: config.telemetryMaxPeers },
        (key) => store.connectionNegotiatedWith(key.field, key.key),
      );
      const result = await appendDump(store, imported);
      process.stdout.write(`imported a ${kind.replace('_', '-')} dump: ${result.events} events in ${result.streams.length} client streams (${result.streams.join(', ')})\n`);
    } finally {
      await close();
    }
  });

  const queryCommand = program
    .command('query')
    .description('run read-only SQL over the database (tables: events, connections, operations, tasks; views: see README)')
    .argument('<sql>', 'one SQL statement')
    .option('--json', 'print rows as JSON');
  addSettings(queryCommand, COMMAND_SETTINGS.query, SETTINGS, nodeDefaults).action(async (sql: string, opts: Flags & { json?: boolean }) => {
    const config = loadConfig({ env: process.env, flags: opts, only: COMMAND_SETTINGS.query });
    const result = await runQueryWithTimeout(config.persistencePath, sql, config.queryTimeoutMs);
    process.stdout.write(opts.json ? `${JSON.stringify(result.rows, null, 2)}\n` : formatTable(result.columns, result.rows));
  });

  const rebuildCommand = program
    .command('rebuild')
    .description('replay the log into fresh read models (refused while a server holds the database)')
    .option('--force', 'rebuild even though old events were pruned (their streams lose that history)');
  addSettings(rebuildCommand, COMMAND_SETTINGS.rebuild, SETTINGS, nodeDefaults).action(async (opts: Flags & { force?: boolean }) => {
    const config = loadConfig({ env: process.env, flags: opts, only: COMMAND_SETTINGS.rebuild });
    const { store } = await openExistingStore(config.persistencePath);
    const tty = process.stderr.isTTY;
    let report;
    try {
      report = await rebuild(store, {
        force: opts.force ?? false,
        onProgress: tty ? (done, total) => process.stderr.write(`\rreplayed ${done} / ${total} events`) : undefined,
      });
    } finally {
      if (tty) process.stderr.write('\n');
      await store.close();
    }
    process.stdout.write(
      `rebuilt read models from ${report.events} events in ${Math.round(report.durationMs)} ms (${Math.round(report.eventsPerSecond)} events/s)\n`,
    );
  });

  const pruneCommand = program
    .command('prune')
    .description('delete the oldest events (never past a consumer checkpoint), archiving them first if asked; asks before deleting unless --yes')
    .option('--through <position>', 'delete events at or before this log position', wholeNumber('--through', 1))
    .option('--older-than <duration>', 'delete events recorded longer ago than this (90s, 30m, 12h, 7d, 2w, 1d12h)', parseDuration)
    .option('--archive <file>', 'write the deleted events as JSON lines to this new file first')
    .option('--dry-run', 'say what would be deleted, and delete nothing')
    .option('--yes', 'do not ask for confirmation (needed when stdin is not a terminal)');
  addSettings(pruneCommand, COMMAND_SETTINGS.prune, SETTINGS, nodeDefaults).action(
    async (opts: Flags & { through?: number; olderThan?: number; archive?: string; dryRun?: boolean; yes?: boolean }) => {
      if ((opts.through === undefined) === (opts.olderThan === undefined)) {
        throw new AppError('BAD_REQUEST', 'say what to prune: --through POSITION or --older-than DURATION (one of them)');
      }
      const config = loadConfig({ env: process.env, flags: opts, only: COMMAND_SETTINGS.prune });
      const file = resolve(config.persistencePath);
      const { store } = await openExistingStore(config.persistencePath);
      try {
        const cutoff = opts.olderThan === undefined ? null : Date.now() - opts.olderThan;
        const through = cutoff === null ? opts.through! : await store.lastPositionBefore(cutoff);
        const plan = await store.planPrune(through);
        const what = describePlan(plan, file, cutoff);
        if (plan.events === 0 || plan.throughPosition < 1) {
          process.stdout.write(`nothing to prune: ${what}\n`);
          return;
        }
        if (opts.dryRun) {
          process.stdout.write(`dry run: would delete ${what}; nothing was deleted\n`);
          return;
        }
        if (!opts.yes) await confirm(`delete ${what}?`);
        const report = await store.prune({ throughPosition: plan.throughPosition, archivePath: opts.archive && resolve(opts.archive) });
        process.stdout.write(
          `deleted ${report.deleted} events through position ${report.throughPosition}${report.archived ? `, archived to ${report.archived}` : ''}\n`,
        );
      } finally {
        await store.close();
      }
    },
  );

  const fleet = program
    .command('fleet')
    .description("the central side of a fleet: the nodes' forwarded events (serve --forward-to) in PostgreSQL");
  const fleetDefaults = defaultsFor('fleet');
  const fleetCommand = (name: keyof typeof FLEET_COMMAND_SETTINGS, description: string) =>
    addSettings(fleet.command(name).description(description), FLEET_COMMAND_SETTINGS[name], FLEET_SETTINGS, fleetDefaults);

  fleetCommand('project', 'project the central events into the fleet read models, as they arrive; one process projects at a time, others wait to take over').action(
    async (opts: Flags) => {
      const config = loadFleetConfig({ env: process.env, flags: opts, only: FLEET_COMMAND_SETTINGS.project });
      const { makeLogger } = await import('./logger.ts');
      const logger = makeLogger(config);
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
    },
  );

  const fleetServe = fleetCommand(
    'serve',
    'serve the monitor API, metrics and dashboard over every node from the fleet read models (read-only); also projects unless --no-project',
  );
  addSettings(fleetServe, FLEET_SERVE_HTTP_SETTINGS, SETTINGS, nodeDefaults).action(async (opts: Flags) => {
    const fleetConfig = loadFleetConfig({ env: process.env, flags: opts, only: FLEET_COMMAND_SETTINGS.serve });
    const http = loadConfig({ env: process.env, flags: opts, only: FLEET_SERVE_HTTP_SETTINGS });
    const { startFleetServer } = await import('./http/fleetServe.ts');
    const { makeLogger } = await import('./logger.ts');
    const logger = makeLogger(http);
    if (!isLoopback(http.host) && !http.readToken) warn(`listening on ${http.host}, which is not a loopback address, without a read token: anyone who can reach it reads every node`);
    const { redactUrl } = await import('./fleet/pg.ts');
    const target = redactUrl(fleetConfig.databaseUrl);
    const running = await startFleetServer(http, fleetConfig, {
      logger,
      // The same lines as `fleet project`, once listening: what an operator (or a test) watches for.
      onRole: (role) => process.stdout.write(`fleet projector ${role} (${target})\n`),
    });
    // One line on stdout once listening: what an operator (or a test) waits for.
    process.stdout.write(`fleet monitor listening on ${running.url}${fleetConfig.project ? '' : ' (reads only)'}\n`);
    await new Promise<void>((resolveStop) => {
      const stop = () => void running.close().then(resolveStop);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });

  fleetCommand('rebuild', "replay every node's central events into fresh fleet read models (stop every `fleet project` first)").action(async (opts: Flags) => {
    const config = loadFleetConfig({ env: process.env, flags: opts, only: FLEET_COMMAND_SETTINGS.rebuild });
    const { rebuildFleet } = await import('./fleet/projector.ts');
    const report = await rebuildFleet(config.databaseUrl, { pageSize: config.pageSize });
    process.stdout.write(
      `rebuilt the fleet read models from ${report.events} events of ${report.nodes} nodes in ${Math.round(report.durationMs)} ms (${Math.round(report.eventsPerSecond)} events/s)\n`,
    );
  });

  return program;
}

function describePlan(plan: PrunePlan, file: string, cutoff: number | null): string {
  const iso = (ms: number | null) => (ms === null ? '?' : new Date(ms).toISOString());
  const asked = cutoff === null ? `through position ${plan.requested}` : `recorded before ${iso(cutoff)}`;
  const held = plan.heldBy ? ` (held back at position ${plan.throughPosition} by the checkpoint of ${plan.heldBy})` : '';
  if (plan.events === 0) return `no events ${asked}${held} in ${file}`;
  return `${plan.events} events ${asked}${held}, recorded ${iso(plan.firstRecordedAt)} to ${iso(plan.lastRecordedAt)}, from ${file}`;
}

/** Asks on the terminal; refuses when there is nobody to ask. */
async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new AppError('BAD_REQUEST', `${question.replace(/\?$/, '')}: stdin is not a terminal, so this cannot ask; add --yes to go ahead, or --dry-run to see what would go`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new AppError('CANCELLED', 'nothing was deleted');
  } finally {
    rl.close();
  }
}

/**
 * `webrtc-monitor` alone, or followed by flags, serves (as the add-on did);
 * anything else must name a command, so a typo is reported as one instead of
 * starting a server.
 */
export function withDefaultCommand(args: string[]): string[] {
  const first = args[0];
  const topLevel = new Set(['-h', '--help', '-V', '--version']);
  if (first === undefined || (first.startsWith('-') && !topLevel.has(first))) return ['serve', ...args];
  return args;
}

export async function main(argv = process.argv) {
  try {
    await buildCli().parseAsync(withDefaultCommand(argv.slice(2)), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed the message (and the hint) already; --help and --version end here too.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const message = isAppError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
    process.stderr.write(`${NAME}: ${message}\n`);
    process.exitCode = exitCodeOf(err);
  }
}

await main();
