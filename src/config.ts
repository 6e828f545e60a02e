// The one place configuration is read: defaults, then environment, then flags,
// validated into one frozen object that everything else receives. Tests build
// their own with `makeConfig({...})`.
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';

export const DEFAULT_DB_PATH = './data/monitor.db';

/** A node's name in the fleet: it keys the node's events in the centre and names its forwarder stream. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const postgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s) && URL.canParse(s), 'must be a postgres:// or postgresql:// URL');

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
  contentDir: z.string().min(1).default('content'),
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
  /** STUN/TURN URLs handed to werift; empty means host candidates only (see WERIFT.md on the STUN fallback). */
  iceServers: z.array(z.string()).default([]),
  /** Extra host addresses werift gathers candidates on; loopback by default so local viewers work. */
  iceAdditionalHostAddresses: z.array(z.string()).default(['127.0.0.1']),
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
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `synchronous` pragma for the database. */
  synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
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
});

export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;

/** Builds a validated, frozen config from explicit values (flags and env already merged). */
export function makeConfig(input: ConfigInput = {}): Config {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid configuration: ${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  if (config.debug && input.logLevel === undefined) config.logLevel = 'debug';
  if (config.headersTimeoutMs > config.requestTimeoutMs) config.headersTimeoutMs = config.requestTimeoutMs;
  return Object.freeze({
    ...config,
    iceServers: Object.freeze([...config.iceServers]) as string[],
    allowedHosts: Object.freeze([...config.allowedHosts]) as string[],
    allowedOrigins: Object.freeze([...config.allowedOrigins]) as string[],
  });
}

/**
 * Environment variables that stand in for flags, for secrets and containers.
 * Tokens come from the environment or a file, so they never show in the
 * process list the way a `--auth-token` argument does.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const out: ConfigInput = {};
  if (env.WEBRTC_MONITOR_AUTH_TOKEN_FILE) out.authToken = readTokenFile(env.WEBRTC_MONITOR_AUTH_TOKEN_FILE);
  if (env.WEBRTC_MONITOR_AUTH_TOKEN) out.authToken = env.WEBRTC_MONITOR_AUTH_TOKEN;
  if (env.WEBRTC_MONITOR_READ_TOKEN_FILE) out.readToken = readTokenFile(env.WEBRTC_MONITOR_READ_TOKEN_FILE);
  if (env.WEBRTC_MONITOR_READ_TOKEN) out.readToken = env.WEBRTC_MONITOR_READ_TOKEN;
  if (env.WEBRTC_MONITOR_ALLOWED_HOSTS) out.allowedHosts = env.WEBRTC_MONITOR_ALLOWED_HOSTS.split(',').map((h) => h.trim()).filter(Boolean);
  if (env.WEBRTC_MONITOR_DB) out.persistencePath = env.WEBRTC_MONITOR_DB;
  if (env.WEBRTC_MONITOR_LOG_LEVEL) out.logLevel = env.WEBRTC_MONITOR_LOG_LEVEL as ConfigInput['logLevel'];
  if (env.WEBRTC_MONITOR_FORWARD_TO) out.forwardTo = env.WEBRTC_MONITOR_FORWARD_TO;
  if (env.WEBRTC_MONITOR_NODE_ID) out.nodeId = env.WEBRTC_MONITOR_NODE_ID;
  return out;
}

// The fleet commands (`webrtc-monitor fleet …`) run beside the central
// database, not on a node, and take a configuration of their own.
const fleetConfigSchema = z.object({
  databaseUrl: postgresUrl,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Events per projected page (one transaction each). */
  pageSize: z.number().int().min(1).max(10_000).default(1000),
  /** How often a projector with nothing to do looks again (notifications usually wake it first). */
  pollMs: z.number().int().min(10).default(1000),
  /** How often a standby projector tries to take the projection lock. */
  takeoverPollMs: z.number().int().min(10).default(1000),
});

export type FleetConfig = Readonly<z.output<typeof fleetConfigSchema>>;
export type FleetConfigInput = Partial<z.input<typeof fleetConfigSchema>>;

export function fleetConfigFromEnv(env: NodeJS.ProcessEnv): FleetConfigInput {
  const out: FleetConfigInput = {};
  if (env.WEBRTC_MONITOR_DATABASE_URL) out.databaseUrl = env.WEBRTC_MONITOR_DATABASE_URL;
  if (env.WEBRTC_MONITOR_LOG_LEVEL) out.logLevel = env.WEBRTC_MONITOR_LOG_LEVEL as FleetConfigInput['logLevel'];
  return out;
}

/** Merges layers left to right, ignoring undefined values, then validates and freezes. */
export function loadFleetConfig(...layers: FleetConfigInput[]): FleetConfig {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  const parsed = fleetConfigSchema.safeParse(merged);
  if (!parsed.success) throw new Error(`invalid configuration: ${z.prettifyError(parsed.error)}`);
  return Object.freeze(parsed.data);
}

/** A token kept in a file: its first line, without surrounding whitespace. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.split(/\r?\n/)[0].trim();
  if (!token) throw new Error(`the token file ${path} is empty`);
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

/** Merges layers left to right, ignoring undefined values, then validates. */
export function loadConfig(...layers: ConfigInput[]): Config {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  return makeConfig(merged as ConfigInput);
}

export const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || host.startsWith('127.');
