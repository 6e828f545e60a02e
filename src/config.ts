// The one place configuration is read: defaults, then environment, then flags,
// validated into one frozen object that everything else receives. Tests build
// their own with `makeConfig({...})`.
import { z } from 'zod';

export const DEFAULT_DB_PATH = './data/monitor.db';

const configSchema = z.object({
  port: z.number().int().min(0).max(65535).default(9999),
  host: z.string().min(1).default('127.0.0.1'),
  debug: z.boolean().default(false),
  persistencePath: z.string().min(1).default(DEFAULT_DB_PATH),
  logDir: z.string().min(1).nullable().default(null),
  authToken: z.string().min(1).nullable().default(null),
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
  /** Most viewers one POST benchmark may start. */
  maxBenchmarkViewers: z.number().int().min(1).default(50),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `synchronous` pragma for the database. */
  synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
});

export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;

/** Builds a validated, frozen config from explicit values (flags and env already merged). */
export function makeConfig(input: ConfigInput = {}): Config {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid configuration: ${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  if (config.debug && input.logLevel === undefined) config.logLevel = 'debug';
  return Object.freeze({ ...config, iceServers: Object.freeze([...config.iceServers]) as string[] });
}

/** Environment variables that stand in for flags, for secrets and containers. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const out: ConfigInput = {};
  if (env.WEBRTC_MONITOR_AUTH_TOKEN) out.authToken = env.WEBRTC_MONITOR_AUTH_TOKEN;
  if (env.WEBRTC_MONITOR_DB) out.persistencePath = env.WEBRTC_MONITOR_DB;
  if (env.WEBRTC_MONITOR_LOG_LEVEL) out.logLevel = env.WEBRTC_MONITOR_LOG_LEVEL as ConfigInput['logLevel'];
  return out;
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
