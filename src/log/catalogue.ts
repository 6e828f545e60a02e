// The event catalogue: every event the log accepts, as one discriminated
// union. Events are validated here, where they enter the log, so nothing
// malformed is ever stored. Payloads evolve by adding optional fields; a
// breaking change bumps EVENT_SCHEMA_VERSION (kept in each event's meta).
import { z } from 'zod';

export const EVENT_SCHEMA_VERSION = 1;

const id = z.string().min(1).max(200);
const ms = z.number().int().nonnegative();
const errorInfo = z.object({ code: z.string(), message: z.string() });

export const CONNECTION_STATE_KINDS = ['connection', 'ice', 'signaling', 'gathering'] as const;
export const CLOSE_INITIATORS = ['local', 'remote', 'ice', 'shutdown', 'process_restart'] as const;
export const TASK_STATUSES = ['created', 'running', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const eventSchemas = {
  'server.created': z.object({
    server_id: id,
    content: z.string(),
    mode: z.enum(['media', 'data']),
    quality: z.string(),
  }),
  'server.stopped': z.object({ server_id: id, reason: z.string() }),

  'connection.created': z.object({
    connection_id: id,
    server_id: id.nullable().optional(),
    role: z.enum(['server', 'client']).default('server'),
    mode: z.enum(['media', 'data']).optional(),
    content: z.string().optional(),
    quality: z.string().optional(),
    remote: z.string().optional(),
    user_agent: z.string().optional(),
  }),
  'connection.state_changed': z.object({
    kind: z.enum(CONNECTION_STATE_KINDS),
    from: z.string(),
    to: z.string(),
  }),
  'connection.candidate': z.object({
    origin: z.enum(['local', 'remote']),
    candidate: z.string(),
    type: z.string().optional(),
    protocol: z.string().optional(),
    address: z.string().optional(),
    port: z.number().int().optional(),
  }),
  'connection.candidate_pair_selected': z.object({
    local: z.string(),
    remote: z.string(),
  }),
  'connection.track_added': z.object({
    track_id: z.string(),
    kind: z.string(),
    codec: z.string().optional(),
    direction: z.string().optional(),
  }),
  'connection.track_removed': z.object({ track_id: z.string(), kind: z.string().optional() }),
  'connection.datachannel_opened': z.object({
    label: z.string(),
    channel_id: z.number().int().nullable().optional(),
    protocol: z.string().optional(),
  }),
  'connection.datachannel_closed': z.object({
    label: z.string(),
    channel_id: z.number().int().nullable().optional(),
    bytes_sent: z.number().int().nonnegative().optional(),
    sha256: z.string().optional(),
  }),
  'connection.stats_sampled': z.object({
    bytes_sent: z.number().nonnegative(),
    bytes_received: z.number().nonnegative(),
    packets_sent: z.number().nonnegative(),
    packets_received: z.number().nonnegative(),
    packets_lost: z.number(),
    rtt_ms: z.number().nullable(),
    jitter_ms: z.number().nullable(),
    frames_sent: z.number().nonnegative().nullable().optional(),
    frames_received: z.number().nonnegative().nullable().optional(),
    bitrate_out_bps: z.number().nonnegative(),
    bitrate_in_bps: z.number().nonnegative(),
    interval_ms: ms,
  }),
  'connection.quality_changed': z.object({ from: z.string(), to: z.string() }),
  'connection.error': errorInfo.extend({ fatal: z.boolean().default(false) }),
  'connection.closed': z.object({
    reason: z.string(),
    initiator: z.enum(CLOSE_INITIATORS),
  }),

  'operation.started': z.object({
    operation_id: id,
    type: z.string().min(1),
    params: z.record(z.string(), z.unknown()).default({}),
    connection_id: id.nullable().optional(),
    server_id: id.nullable().optional(),
    timeout_ms: ms.optional(),
  }),
  'operation.completed': z.object({ result: z.unknown(), duration_ms: ms }),
  'operation.failed': z.object({ error: errorInfo, duration_ms: ms }),
  'operation.cancelled': z.object({ reason: z.string(), duration_ms: ms }),

  'task.created': z.object({
    task_id: id,
    name: z.string().min(1),
    operation_id: id.nullable().optional(),
    connection_id: id.nullable().optional(),
    timeout_ms: ms.nullable().optional(),
  }),
  'task.started': z.object({}),
  'task.completed': z.object({ result: z.unknown().optional(), duration_ms: ms }),
  'task.failed': z.object({ error: errorInfo, duration_ms: ms }),
  'task.cancelled': z.object({ reason: z.string(), duration_ms: ms }),
  'task.timed_out': z.object({ timeout_ms: ms, duration_ms: ms }),

  /**
   * Events that could not be recorded (storage full, busy or gone), written
   * on stream `log:gaps` as soon as storage takes writes again: a counted
   * hole in the log instead of silence.
   */
  'log.gap': z.object({
    events: z.number().int().positive(),
    appends: z.number().int().positive(),
    /** Epoch ms of the first and last failed append. */
    first_failed_at: ms,
    last_failed_at: ms,
    /** The last failure's code (STORAGE_FULL, STORAGE_BUSY, ...) and message. */
    error: errorInfo,
    /** Events lost, by type. */
    types: z.record(z.string(), z.number().int().nonnegative()),
    /** The first streams that lost events (at most GAP_STREAMS_SHOWN). */
    streams: z.array(z.string()).max(20),
    streams_truncated: z.boolean(),
  }),
} as const;

type Schemas = typeof eventSchemas;
export type EventType = keyof Schemas;
export const EVENT_TYPES = Object.keys(eventSchemas) as EventType[];

/** An event as a producer hands it to append (payload before defaults). */
export type NewEvent = {
  [K in EventType]: { type: K; data: z.input<Schemas[K]> };
}[EventType];

/** The payload of a stored event of type K. */
export type EventData<K extends EventType> = z.output<Schemas[K]>;

export type EventMeta = {
  schema: number;
  operation_id?: string;
  request_id?: string;
  [key: string]: unknown;
};

/** An event as read back from the log. */
export type StoredEvent = {
  [K in EventType]: {
    position: number;
    stream: string;
    version: number;
    type: K;
    data: z.output<Schemas[K]>;
    meta: EventMeta;
    recordedAt: number;
  };
}[EventType];

export type EventOf<K extends EventType> = Extract<StoredEvent, { type: K }>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventSchemas, type);
}

/** Stream names: `<kind>:<id>`. */
export const STREAM_KINDS = ['connection', 'operation', 'task', 'server', 'log'] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];
export const streamName = (kind: StreamKind, entityId: string) => `${kind}:${entityId}`;
/** Where `log.gap` markers go. */
export const GAP_STREAM = 'log:gaps';
export const GAP_STREAMS_SHOWN = 20;
export function parseStream(stream: string): { kind: StreamKind; id: string } | null {
  const at = stream.indexOf(':');
  if (at < 0) return null;
  const kind = stream.slice(0, at) as StreamKind;
  if (!STREAM_KINDS.includes(kind)) return null;
  return { kind, id: stream.slice(at + 1) };
}

/** Validates one event; returns the normalised payload or a readable problem. */
export function validateEvent(
  event: { type: string; data: unknown },
): { ok: true; type: EventType; data: unknown } | { ok: false; problem: string } {
  if (!isEventType(event.type)) return { ok: false, problem: `unknown event type "${event.type}"` };
  const parsed = (eventSchemas[event.type] as z.ZodType).safeParse(event.data);
  if (!parsed.success) {
    return { ok: false, problem: `${event.type}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}` };
  }
  return { ok: true, type: event.type, data: parsed.data };
}
