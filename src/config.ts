// The one place configuration is read. Every command takes the same path:
// the defaults (declared once, in the zod schemas below), then the
// environment, then the command line, validated into one frozen object that
// everything else receives. The tables beside the schemas say which flag and
// which environment variable give each setting; src/cli.ts builds its options
// from them and never injects a default of its own (so a default can never
// hide an environment variable). Tests build their own with `makeConfig`.
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { redactWebhookUrl, webhookUrlProblem } from './deliver/endpoint.ts';

export const DEFAULT_DB_PATH = './data/monitor.db';
/** The bundled sample content, found from this file so the installed command finds it from any directory. */
export const BUNDLED_CONTENT_DIR = fileURLToPath(new URL('../content', import.meta.url));

/** A node's name in the fleet: it keys the node's events in the centre and names its forwarder stream. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const postgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s) && URL.canParse(s), 'must be a postgres:// or postgresql:// URL');

/** A Standard Webhooks signing secret: `whsec_` and base64 of 24 to 64 random bytes. */
const webhookSecret = z.string().refine((s) => {
  const b64 = s.startsWith('whsec_') ? s.slice(6) : s;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return false;
  const bytes = Buffer.from(b64, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}, 'must be whsec_ followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))');
const webhookUrl = z.string().superRefine((s, ctx) => {
  const problem = webhookUrlProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `${redactWebhookUrl(s)} ${problem}` });
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** `auto`: human-readable lines on a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;

/** `scheme://host[:port]` with nothing after it, as browsers send it in Origin. */
function isOrigin(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text.replace(/\/$/, '').toLowerCase();
}

const configSchema = z.object({
  port: z.number().int().min(0).max(65535).default(9999),
  host: z.string().min(1).default('127.0.0.1'),
  debug: z.boolean().default(false),
  persistencePath: z.string().min(1).default(DEFAULT_DB_PATH),
  logDir: z.string().min(1).nullable().default(null),
  /** Bearer token for mutating routes (and, when reads are protected, for reads too). */
  authToken: z.string().min(1).nullable().default(null),
  /** Bearer token that reads need when set (the admin token works for reads as well). */
  readToken: z.string().min(1).nullable().default(null),
  /** Host names (besides IP literals and localhost) clients may use to reach the server: DNS-rebinding protection. */
  allowedHosts: z.array(z.string().min(1).max(253)).default([]),
  /** Origins (scheme://host[:port]) other than the server's own whose pages may send mutating requests. */
  allowedOrigins: z.array(z.string().min(1).max(300)).default([]),
  /**
   * Origins (scheme://host[:port], or `*` for any) whose pages may use the
   * WHEP routes and read routes across origins (CORS): a WHEP player on
   * another site. Empty: no CORS headers, so browsers keep other sites out.
   */
  corsOrigins: z
    .array(
      z
        .string()
        .max(300)
        .refine((o) => o === '*' || isOrigin(o), 'must be * or an origin: scheme://host[:port], no path'),
    )
    .default([]),
  contentDir: z.string().min(1).default(BUNDLED_CONTENT_DIR),
  statsIntervalMs: z.number().int().min(50).default(1000),
  /** Nothing received from a viewer for this long records `connection.stalled` (the liveness watchdog). */
  stallAfterMs: z.number().int().min(50).default(5_000),
  /**
   * RFC 7675 consent: nothing received for this long fails the connection
   * (the server peers are ICE-lite and werift's lite agent runs no consent
   * checks). Independent of the stats interval.
   */
  consentTimeoutMs: z.number().int().min(100).default(30_000),
  operationTimeoutMs: z.number().int().min(1).default(10_000),
  shutdownGraceMs: z.number().int().min(0).default(5_000),
  enableTestRoutes: z.boolean().default(false),
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: z.number().int().min(1024).default(1024 * 1024),
  /** STUN/TURN URLs handed to werift; empty means host candidates only (docs/werift.md, "STUN fallback"). */
  iceServers: z.array(z.string()).default([]),
  /**
   * The host addresses the server peers offer candidates on. By default
   * loopback and every interface werift finds (`all`): aiortc, for one,
   * gathers no loopback candidate and reaches a local server only through
   * an interface address (docs/werift.md). `127.0.0.1` alone keeps them on
   * loopback (local browsers and werift viewers only).
   */
  iceAdditionalHostAddresses: z.array(z.string()).default(['127.0.0.1', 'all']),
  /** Peers admitted at once; null derives it from `ulimit -n` and the sockets each peer binds. */
  maxPeers: z.number().int().min(0).nullable().default(null),
  /** HTTP connections open at once (more are answered 503); null derives it from `ulimit -n`. */
  maxConnections: z.number().int().min(1).nullable().default(null),
  /** How long a client may take to send a whole request (Node's default is 300 s); 408 after it. */
  requestTimeoutMs: z.number().int().min(100).default(30_000),
  /** How long a client may take to send the request headers (at most requestTimeoutMs). */
  headersTimeoutMs: z.number().int().min(100).default(10_000),
  /** Exports running at once; more are answered 503 with Retry-After. */
  maxConcurrentExports: z.number().int().min(1).default(2),
  /** Most viewers one POST benchmark may start. */
  maxBenchmarkViewers: z.number().int().min(1).default(50),
  /**
   * Most events one time-travel question over the whole log replays
   * (`summary?at=`, `connections?at=`): a summary further back is refused
   * (400 TIME_TRAVEL_TOO_FAR), a list answers a shorter page with a cursor.
   */
  timeTravelMaxEvents: z.number().int().min(1).default(200_000),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  logFormat: z.enum(LOG_FORMATS).default('auto'),
  /** `synchronous` pragma for the database. */
  synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
  /** How long `query` lets a statement run before stopping it. */
  queryTimeoutMs: z.number().int().min(1).default(30_000),
  /** Viewer-side telemetry (the rtcstats WebSocket): largest message, in bytes (a whole first getStats() of a video call is ~20 KB). */
  telemetryMaxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
  /** Messages per second one reporting session may sustain (token bucket), and the burst it may send at once (rtcstats resends up to 1000 buffered messages on connecting). */
  telemetryMessagesPerSecond: z.number().int().min(1).default(50),
  telemetryBurst: z.number().int().min(1).default(1200),
  /** Reporting sessions connected at once (more are refused with 503). */
  telemetryMaxSessions: z.number().int().min(1).default(500),
  /** A session that sends nothing (not even its keepalive, every 30 s) for this long is closed. */
  telemetryIdleTimeoutMs: z.number().int().min(100).default(65_000),
  /** Traced peer connections per session. */
  telemetryMaxPeers: z.number().int().min(1).max(1000).default(16),
  /** Mask IP addresses in viewer traces (candidates, SDP, address fields) before they are recorded. */
  obfuscateIps: z.boolean().default(false),
  /** The central PostgreSQL the forwarder ships this node's log to; null: no forwarding. */
  forwardTo: postgresUrl.nullable().default(null),
  nodeId: z.string().regex(NODE_ID_PATTERN, 'letters, digits, ".", "_" and "-", up to 128, starting with a letter or digit').default(() => hostname()),
  /** Events per forwarded batch (one statement each). */
  forwardBatchSize: z.number().int().min(1).max(10_000).default(1000),
  /** First and longest wait between attempts while the centre is unreachable (exponential backoff). */
  forwardBackoffInitialMs: z.number().int().min(1).default(250),
  forwardBackoffMaxMs: z.number().int().min(1).default(10_000),
  /** The oldest unshipped event waiting this long makes the forwarder `behind`. */
  forwardBehindAfterMs: z.number().int().min(0).default(5_000),
  /** The detectors' rules file (JSON, src/detect/rules.ts); null: the built-in defaults. Reloaded on SIGHUP. */
  rulesPath: z.string().min(1).nullable().default(null),
  /** Endpoints that receive issue and connection-outcome events (src/deliver/), http(s) only. */
  webhooks: z.array(webhookUrl).max(20).default([]),
  /** The Standard Webhooks secret every delivery is signed with; required with webhooks. */
  webhookSecret: webhookSecret.nullable().default(null),
  /** How long one delivery attempt may take (Standard Webhooks recommends 15 to 30 s). */
  webhookTimeoutMs: z.number().int().min(10).default(15_000),
  /** First and longest wait between attempts at one event (exponential backoff with jitter). */
  webhookBackoffInitialMs: z.number().int().min(1).default(1_000),
  webhookBackoffMaxMs: z.number().int().min(1).default(300_000),
  /** Attempts at one event before it is given up (webhook.failed) and the endpoint moves on; the defaults span about an hour and a half. */
  webhookMaxAttempts: z.number().int().min(1).default(30),
});

export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;
export type Setting = keyof ConfigInput;

// The fleet commands (`webrtc-monitor fleet …`) run beside the central
// database, not on a node, and take a configuration of their own.
const fleetConfigSchema = z.object({
  databaseUrl: postgresUrl,
  logLevel: z.enum(LOG_LEVELS).default('info'),
  logFormat: z.enum(LOG_FORMATS).default('auto'),
  /** Events per projected page (one transaction each). */
  pageSize: z.number().int().min(1).max(10_000).default(1000),
  /** How often a projector with nothing to do looks again (notifications usually wake it first). */
  pollMs: z.number().int().min(10).default(1000),
  /** How often a standby projector tries to take the projection lock. */
  takeoverPollMs: z.number().int().min(10).default(1000),
  /** `fleet serve`: also project (take the projection lock when free, stand by otherwise); false: reads only. */
  project: z.boolean().default(true),
  /** `fleet serve`: the longest a live-feed client waits for a notification before it looks again. */
  feedPollMs: z.number().int().min(10).default(1000),
});

export type FleetConfig = Readonly<z.output<typeof fleetConfigSchema>>;
export type FleetConfigInput = Partial<z.input<typeof fleetConfigSchema>>;
export type FleetSetting = keyof FleetConfigInput;

// ---- where each setting comes from -------------------------------------------

/** How a setting's text (a flag's argument, an environment variable) becomes the schema's input. */
export type Reader = 'string' | 'int' | 'boolean' | 'list';

export type SettingSource = {
  /** The command-line flag in commander's syntax (`--port <n>`); none: environment only. */
  flag?: string;
  /** The environment variable that stands in for the flag. */
  env?: string;
  help: string;
  read?: Reader;
  /** Shown as the default in help instead of the schema's value (a derived or host-specific default). */
  defaultText?: string;
  /** For secrets: a flag and a variable naming a file whose first line is the value. */
  file?: { flag: string; env: string; help: string };
};

export const SETTINGS: Partial<Record<Setting, SettingSource>> = {
  port: { flag: '--port <n>', help: 'port to listen on (0 picks a free one)', read: 'int' },
  host: { flag: '--host <addr>', help: 'address to bind' },
  debug: { flag: '--debug', help: 'debug logging and the test routes', read: 'boolean' },
  persistencePath: { flag: '--persistence-path <file>', env: 'WEBRTC_MONITOR_DB', help: 'the SQLite database file' },
  logDir: { flag: '--log-dir <dir>', help: 'write connection/operation JSON logs as they finish' },
  authToken: {
    flag: '--auth-token <token>',
    env: 'WEBRTC_MONITOR_AUTH_TOKEN',
    help: 'bearer token required by mutating routes; a flag shows in the process list, so prefer --auth-token-file or the variable',
    file: { flag: '--auth-token-file <file>', env: 'WEBRTC_MONITOR_AUTH_TOKEN_FILE', help: 'read the bearer token for mutating routes (and reads) from this file' },
  },
  readToken: {
    env: 'WEBRTC_MONITOR_READ_TOKEN',
    help: 'protect reads too: GET routes need this token or the auth token',
    file: { flag: '--read-token-file <file>', env: 'WEBRTC_MONITOR_READ_TOKEN_FILE', help: 'protect reads too: GET routes need the token in this file or the auth token' },
  },
  allowedHosts: {
    flag: '--allowed-host <name...>',
    env: 'WEBRTC_MONITOR_ALLOWED_HOSTS',
    help: 'host names clients may use besides IP addresses and localhost (DNS-rebinding protection; the variable is comma-separated)',
    read: 'list',
  },
  corsOrigins: {
    flag: '--cors-origin <origin...>',
    env: 'WEBRTC_MONITOR_CORS_ORIGINS',
    help: 'origins (scheme://host:port, or * for any) whose pages may use the WHEP and read routes across origins (CORS); the variable is comma-separated',
    read: 'list',
  },
  allowedOrigins: { flag: '--allowed-origin <origin...>', help: "origins (scheme://host:port) whose pages may send mutating requests besides the server's own", read: 'list' },
  maxPeers: { flag: '--max-peers <n>', help: 'peers admitted at once', read: 'int', defaultText: 'derived from ulimit -n and the sockets per peer' },
  maxConnections: { flag: '--max-connections <n>', help: 'HTTP connections open at once', read: 'int', defaultText: 'derived from ulimit -n' },
  requestTimeoutMs: { flag: '--request-timeout <ms>', help: 'how long a client may take to send a whole request', read: 'int' },
  contentDir: { flag: '--content-dir <dir>', help: 'directory of streamable content', defaultText: "the package's bundled content/" },
  statsIntervalMs: { flag: '--stats-interval <ms>', help: 'getStats() sampling interval', read: 'int' },
  stallAfterMs: { flag: '--stall-after <ms>', help: 'record connection.stalled when nothing has arrived from a viewer for this long', read: 'int' },
  consentTimeoutMs: { flag: '--consent-timeout <ms>', help: 'fail a connection when nothing has arrived for this long (RFC 7675 consent)', read: 'int' },
  operationTimeoutMs: { flag: '--operation-timeout <ms>', help: 'how long a request waits for an operation before answering 202', read: 'int' },
  shutdownGraceMs: { flag: '--shutdown-grace <ms>', help: 'how long shutdown waits for running operations', read: 'int' },
  timeTravelMaxEvents: { flag: '--time-travel-max-events <n>', help: 'most events one ?at= question over the whole log (summary, connections) may replay', read: 'int' },
  iceServers: { flag: '--ice-server <url...>', help: 'STUN/TURN server URLs for the server peers (WHEP answers name them in Link headers)', read: 'list' },
  iceAdditionalHostAddresses: {
    flag: '--ice-host-address <addr...>',
    help: 'addresses the server peers offer host candidates on; "all" for every interface werift finds; 127.0.0.1 alone: loopback only',
    read: 'list',
  },
  enableTestRoutes: { flag: '--enable-test-routes', help: 'enable POST .../test/async_close without --debug', read: 'boolean' },
  logLevel: { flag: '--log-level <level>', env: 'WEBRTC_MONITOR_LOG_LEVEL', help: `log level: ${LOG_LEVELS.join(', ')}` },
  logFormat: { flag: '--log-format <format>', env: 'WEBRTC_MONITOR_LOG_FORMAT', help: 'log lines: pretty (for people), json, or auto (pretty on a terminal, else json)' },
  queryTimeoutMs: { flag: '--timeout <ms>', help: 'stop a query that runs longer than this', read: 'int' },
  telemetryMaxMessageBytes: { flag: '--telemetry-max-message <bytes>', help: 'largest viewer telemetry message (rtcstats WebSocket)', read: 'int' },
  telemetryMessagesPerSecond: { flag: '--telemetry-rate <n>', help: 'messages per second one reporting viewer may sustain', read: 'int' },
  telemetryMaxSessions: { flag: '--telemetry-max-sessions <n>', help: 'reporting viewers connected at once', read: 'int' },
  telemetryIdleTimeoutMs: { flag: '--telemetry-idle-timeout <ms>', help: 'close a reporting viewer silent for this long', read: 'int' },
  obfuscateIps: { flag: '--obfuscate-ips', help: 'mask IP addresses in viewer traces and imported dumps', read: 'boolean' },
  forwardTo: { flag: '--forward-to <url>', env: 'WEBRTC_MONITOR_FORWARD_TO', help: 'ship the log to this central PostgreSQL, postgres://…' },
  nodeId: { flag: '--node-id <name>', env: 'WEBRTC_MONITOR_NODE_ID', help: "this node's name in the fleet", defaultText: 'the host name' },
  forwardBackoffMaxMs: { flag: '--forward-backoff-max <ms>', help: 'longest wait between attempts while the centre is unreachable', read: 'int' },
  rulesPath: { flag: '--rules <file>', env: 'WEBRTC_MONITOR_RULES', help: "the detectors' rules (JSON; README \"Issues and rules\"); reloaded on SIGHUP", defaultText: 'built-in defaults' },
  webhooks: {
    flag: '--webhook <url...>',
    env: 'WEBRTC_MONITOR_WEBHOOKS',
    help: 'deliver issue and connection-outcome events to this http(s) URL, signed (Standard Webhooks); repeatable (the variable is comma-separated)',
    read: 'list',
  },
  webhookSecret: {
    env: 'WEBRTC_MONITOR_WEBHOOK_SECRET',
    help: 'the Standard Webhooks signing secret (whsec_…) for --webhook',
    file: { flag: '--webhook-secret-file <file>', env: 'WEBRTC_MONITOR_WEBHOOK_SECRET_FILE', help: 'read the Standard Webhooks signing secret (whsec_…) for --webhook from this file' },
  },
  webhookTimeoutMs: { flag: '--webhook-timeout <ms>', help: 'how long one webhook delivery attempt may take', read: 'int' },
  webhookBackoffMaxMs: { flag: '--webhook-backoff-max <ms>', help: 'longest wait between attempts at one webhook event', read: 'int' },
  webhookMaxAttempts: { flag: '--webhook-max-attempts <n>', help: 'attempts at one webhook event before giving it up (webhook.failed)', read: 'int' },
};

export const FLEET_SETTINGS: Partial<Record<FleetSetting, SettingSource>> = {
  databaseUrl: { flag: '--database-url <url>', env: 'WEBRTC_MONITOR_DATABASE_URL', help: 'the central PostgreSQL, postgres://…' },
  logLevel: SETTINGS.logLevel,
  logFormat: SETTINGS.logFormat,
  // Commander makes `--no-project` set `project` to false (flagAttribute reads it so too).
  project: { flag: '--no-project', help: 'serve reads only: leave projecting to another fleet process', read: 'boolean' },
};

/** The settings each command reads; a command never reads (or fails on) a variable it has no use for. */
export const COMMAND_SETTINGS = {
  serve: [
    'port', 'host', 'debug', 'persistencePath', 'logDir', 'authToken', 'readToken', 'allowedHosts', 'allowedOrigins', 'corsOrigins', 'maxPeers',
    'maxConnections', 'requestTimeoutMs', 'contentDir', 'statsIntervalMs', 'stallAfterMs', 'consentTimeoutMs', 'operationTimeoutMs',
    'shutdownGraceMs', 'iceServers', 'iceAdditionalHostAddresses', 'enableTestRoutes', 'logLevel', 'logFormat', 'forwardTo', 'nodeId', 'forwardBackoffMaxMs',
    'rulesPath', 'webhooks', 'webhookSecret', 'webhookTimeoutMs', 'webhookBackoffMaxMs', 'webhookMaxAttempts',
    'telemetryMaxMessageBytes', 'telemetryMessagesPerSecond', 'telemetryMaxSessions', 'telemetryIdleTimeoutMs', 'obfuscateIps',
    'timeTravelMaxEvents',
  ],
  'export-logs': ['persistencePath'],
  import: ['persistencePath', 'obfuscateIps'],
  query: ['persistencePath', 'queryTimeoutMs'],
  rebuild: ['persistencePath'],
  prune: ['persistencePath'],
} as const satisfies Record<string, readonly Setting[]>;

/** `fleet serve` takes its HTTP settings from the node's table (the same flags and variables as `serve`), its fleet ones from FLEET_SETTINGS. */
export const FLEET_SERVE_HTTP_SETTINGS = [
  'port', 'host', 'readToken', 'allowedHosts', 'allowedOrigins', 'maxConnections', 'requestTimeoutMs', 'logLevel', 'logFormat',
] as const satisfies readonly Setting[];

export const FLEET_COMMAND_SETTINGS = {
  project: ['databaseUrl', 'logLevel', 'logFormat'],
  rebuild: ['databaseUrl'],
  serve: ['databaseUrl', 'project'],
} as const satisfies Record<string, readonly FleetSetting[]>;

/** Commander's name for a flag's value: `--persistence-path <file>` -> `persistencePath`. */
export function flagAttribute(flag: string): string {
  const long = flag.split(/[ ,|]+/).find((part) => part.startsWith('--'))!.replace(/^--no-/, '--');
  return long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** What the command line gave, by commander's attribute names (`{ persistencePath: 'x.db' }`); undefined: not given. */
export type Flags = Record<string, unknown>;

type Layer = { values: Record<string, unknown>; origin: Record<string, string> };

function readText(text: string, reader: Reader | undefined, where: string): unknown {
  switch (reader) {
    case 'int': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isInteger(n)) throw new AppError('BAD_REQUEST', `${where} must be a whole number (got ${JSON.stringify(text)})`);
      return n;
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)?$/i.test(text)) return false;
      throw new AppError('BAD_REQUEST', `${where} must be true or false (got ${JSON.stringify(text)})`);
    case 'list':
      return text.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return text;
  }
}

/**
 * The environment, then the flags, for the settings `only` names, over the
 * schema's defaults (and `base`, for a command's own defaults such as
 * `--run-tests` picking a free port). A flag beats its variable; a value
 * beats a file of the same layer. Errors name the flag or variable that gave
 * the bad value.
 */
function layered<S extends z.ZodObject>(
  schema: S,
  table: Partial<Record<string, SettingSource>>,
  sources: { env?: NodeJS.ProcessEnv; flags?: Flags; only?: readonly string[]; base?: Record<string, unknown> },
): { data: z.output<S>; origin: Record<string, string> } {
  const keys = sources.only ?? Object.keys(table);
  const env = sources.env ?? {};
  const flags = sources.flags ?? {};
  const merged: Layer = { values: {}, origin: {} };
  const put = (key: string, value: unknown, where: string) => {
    if (value === undefined) return;
    merged.values[key] = value;
    merged.origin[key] = where;
  };
  for (const [key, value] of Object.entries(sources.base ?? {})) put(key, value, key);
  for (const key of keys) {
    const source = table[key];
    if (!source) continue;
    if (source.file) {
      const file = env[source.file.env];
      if (file) put(key, readTokenFile(file, source.file.env), source.file.env);
    }
    if (source.env) {
      const text = env[source.env];
      // An empty variable is unset: `VAR= command` is how a shell clears one for a run.
      if (text !== undefined && text !== '') put(key, readText(text, source.read, source.env), source.env);
    }
    if (source.file) {
      const file = flags[flagAttribute(source.file.flag)];
      if (typeof file === 'string') put(key, readTokenFile(file, flagName(source.file.flag)), flagName(source.file.flag));
    }
    if (source.flag) put(key, flags[flagAttribute(source.flag)], flagName(source.flag));
  }
  const parsed = schema.safeParse(merged.values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const where = merged.origin[key];
      const label = where && where !== key ? `${where} (${key})` : key;
      return `${label || 'configuration'}: ${issue.message}`;
    });
    throw new AppError('BAD_REQUEST', `invalid configuration: ${problems.join('; ')}`);
  }
  return { data: parsed.data, origin: merged.origin };
}

const flagName = (flag: string) => flag.split(/[ ,|]+/).find((part) => part.startsWith('--'))!;

/** Builds a validated, frozen config from explicit values (tests; the CLI goes through loadConfig). */
export function makeConfig(input: ConfigInput = {}): Config {
  const { data, origin } = layered(configSchema, {}, { base: input as Record<string, unknown>, only: [] });
  return freeze(data, origin.logLevel !== undefined);
}

/**
 * The node's configuration for one command: the schema's defaults, then
 * `base`, then the environment, then the flags, for the settings the command
 * reads (`COMMAND_SETTINGS`); every other setting keeps its default.
 */
export function loadConfig(sources: { env?: NodeJS.ProcessEnv; flags?: Flags; only?: readonly Setting[]; base?: ConfigInput } = {}): Config {
  const { data, origin } = layered(configSchema, SETTINGS, { ...sources, base: sources.base as Record<string, unknown> | undefined });
  // --debug means debug logging unless a level was given some other way.
  return freeze(data, origin.logLevel !== undefined);
}

function freeze(config: z.output<typeof configSchema>, levelGiven: boolean): Config {
  if (config.debug && !levelGiven) config.logLevel = 'debug';
  if (config.webhooks.length > 0 && !config.webhookSecret) {
    throw new AppError(
      'BAD_REQUEST',
      'invalid configuration: --webhook needs a signing secret: --webhook-secret-file FILE, WEBRTC_MONITOR_WEBHOOK_SECRET_FILE or WEBRTC_MONITOR_WEBHOOK_SECRET (whsec_…)',
    );
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) config.headersTimeoutMs = config.requestTimeoutMs;
  return Object.freeze({
    ...config,
    iceServers: Object.freeze([...config.iceServers]) as string[],
    iceAdditionalHostAddresses: Object.freeze([...config.iceAdditionalHostAddresses]) as string[],
    allowedHosts: Object.freeze([...config.allowedHosts]) as string[],
    allowedOrigins: Object.freeze([...config.allowedOrigins]) as string[],
    webhooks: Object.freeze([...config.webhooks]) as string[],
  });
}

/** The fleet commands' configuration, the same way: defaults, environment, flags. */
export function loadFleetConfig(sources: { env?: NodeJS.ProcessEnv; flags?: Flags; only?: readonly FleetSetting[]; base?: FleetConfigInput } = {}): FleetConfig {
  const env = sources.env ?? {};
  if (!sources.base?.databaseUrl && !env.WEBRTC_MONITOR_DATABASE_URL && sources.flags?.databaseUrl === undefined) {
    throw new AppError('BAD_REQUEST', 'the central database is needed: --database-url postgres://… or WEBRTC_MONITOR_DATABASE_URL');
  }
  return Object.freeze(layered(fleetConfigSchema, FLEET_SETTINGS, { ...sources, base: sources.base as Record<string, unknown> | undefined }).data);
}

/** The defaults as help shows them. */
export function defaultsFor(which: 'node' | 'fleet'): Record<string, unknown> {
  if (which === 'fleet') return fleetConfigSchema.partial({ databaseUrl: true }).parse({});
  return configSchema.parse({});
}

/** A token kept in a file: its first line, without surrounding whitespace. */
export function readTokenFile(path: string, givenBy?: string): string {
  const by = givenBy ? ` (${givenBy})` : '';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AppError('BAD_REQUEST', `cannot read the token file ${path}${by}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.split(/\r?\n/)[0].trim();
  if (!token) throw new AppError('BAD_REQUEST', `the token file ${path}${by} is empty`);
  return token;
}

/** Whether a token file can be read by other users (its mode allows group or others). */
export function tokenFileIsShared(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

export const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || host.startsWith('127.');
