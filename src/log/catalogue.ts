// The event catalogue: every event the log accepts, as one discriminated
// union. Events are validated here, where they enter the log, so nothing
// malformed is ever stored. Payloads evolve by adding optional fields; a
// breaking change bumps EVENT_SCHEMA_VERSION (kept in each event's meta).
//
// Schema versions:
//   1  the first catalogue
//   2  connection.stats_sampled: unknown values are null, never 0 (packets_lost,
//      bitrates and interval_ms on a first sample), with per-track and
//      per-data-channel detail; connection.stalled / resumed; task.settled_late;
//      later additions, all optional or new types: the quality score in
//      connection.stats_sampled, issue.raised / updated / resolved, rules.reloaded,
//      connection.negotiated, the client.* events of viewer-side traces on
//      `client:<session>:<pc>`
import { z } from 'zod';

export const EVENT_SCHEMA_VERSION = 2;

const id = z.string().min(1).max(200);
const ms = z.number().int().nonnegative();
const errorInfo = z.object({ code: z.string(), message: z.string() });
const count = z.number().nonnegative();

export const CONNECTION_STATE_KINDS = ['connection', 'ice', 'signaling', 'gathering'] as const;
export const CLOSE_INITIATORS = ['local', 'remote', 'ice', 'shutdown', 'process_restart'] as const;
/** How a connection ended: the read model derives it from the close and any failure before it. */
export const CONNECTION_OUTCOMES = ['clean', 'failed', 'shutdown', 'process_restart'] as const;
export type ConnectionOutcome = (typeof CONNECTION_OUTCOMES)[number];
/** What the liveness watchdog hears from a viewer (RFC 7983 demultiplexing of what arrives). */
export const ACTIVITY_KINDS = ['stun', 'dtls', 'rtp', 'rtcp'] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];
export const TASK_STATUSES = ['created', 'running', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** What the detectors (src/detect) raise issues about. */
export const ISSUE_TYPES = [
  'connection_failed',
  'slow_setup',
  'stalled',
  'high_rtt',
  'high_jitter',
  'high_loss',
  'bitrate_collapse',
  'operation_overdue',
  'task_abandoned',
  'forwarder_behind',
] as const;
export type IssueType = (typeof ISSUE_TYPES)[number];
export const ISSUE_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type IssueSeverity = (typeof ISSUE_SEVERITIES)[number];
/** How an issue ended: its condition stayed clear for the hold time, or what it was about ended. */
export const ISSUE_RESOLUTIONS = ['cleared', 'subject_ended'] as const;

/** One outbound RTP stream (SSRC) in a stats sample; RTCP values come from the viewer's reports. */
const trackSample = z.object({
  ssrc: z.number().int().nonnegative(),
  kind: z.string(),
  mid: z.string().nullable(),
  codec: z.string().nullable(),
  packets_sent: count,
  bytes_sent: count,
  bitrate_bps: count.nullable(),
  packets_lost: z.number().int().nullable(),
  fraction_lost: z.number().min(0).max(1).nullable(),
  jitter_ms: z.number().nonnegative().nullable(),
  /** From the latest receiver report that echoed a sender report (RFC 3550 A - LSR - DLSR). */
  rtt_ms: z.number().nonnegative().nullable(),
  receiver_reports: count,
  nack_count: count,
  pli_count: count,
  fir_count: count,
  retransmitted_packets_sent: count,
  retransmitted_bytes_sent: count,
  frames_sent: count.nullable(),
  keyframes_sent: count.nullable(),
});

const channelSample = z.object({
  label: z.string(),
  channel_id: z.number().int().nullable(),
  state: z.string(),
  messages_sent: count,
  bytes_sent: count,
  messages_received: count,
  bytes_received: count,
  buffered_amount: count,
});

/** A connection's quality, 0-100, with the reasons it is not 100 (src/detect/score.ts). null parts are unknown. */
export const qualityScore = z.object({
  score: z.number().min(0).max(100).nullable(),
  /** E-model (ITU-T G.107, simplified) transmission rating R and its MOS, from RTT, jitter and loss. */
  audio: z.object({ r: z.number(), mos: z.number(), score: z.number().min(0).max(100) }).nullable(),
  video: z.object({ score: z.number().min(0).max(100), fps: z.number().nullable() }).nullable(),
  reasons: z.array(z.string().max(200)).max(10),
});
export type QualityScore = z.output<typeof qualityScore>;

/** What every issue event carries (src/detect; webhooks read `subject`). */
const issueCommon = z.object({
  issue_id: id,
  type: z.enum(ISSUE_TYPES),
  severity: z.enum(ISSUE_SEVERITIES),
  subject: z.string().min(1).max(300),
});

const webhookAttempt = z.object({
  endpoint: z.string().max(2100),
  webhook_id: z.string().min(1).max(300),
  position: z.number().int().positive(),
  event_type: z.string(),
  /** 1 for the first attempt at this event (counted from this process's start). */
  attempt: z.number().int().positive(),
  duration_ms: ms,
});

/**
 * One inbound RTP stream as the viewer's browser reports it (getStats()
 * `inbound-rtp`), cumulative as the browser counts. Durations in
 * milliseconds; null: the browser did not report it.
 */
const inboundSample = z.object({
  ssrc: z.number().int().nonnegative(),
  kind: z.string().max(20),
  track_id: z.string().max(200).nullable(),
  mid: z.string().max(64).nullable(),
  codec: z.string().max(100).nullable(),
  packets_received: count.nullable(),
  bytes_received: count.nullable(),
  packets_lost: z.number().int().nullable(),
  jitter_ms: z.number().nonnegative().nullable(),
  jitter_buffer_delay_ms: z.number().nonnegative().nullable(),
  jitter_buffer_emitted_count: count.nullable(),
  frames_received: count.nullable(),
  frames_decoded: count.nullable(),
  frames_dropped: count.nullable(),
  key_frames_decoded: count.nullable(),
  freeze_count: count.nullable(),
  total_freezes_duration_ms: z.number().nonnegative().nullable(),
  concealed_samples: count.nullable(),
  concealment_events: count.nullable(),
  total_samples_received: count.nullable(),
  total_decode_time_ms: z.number().nonnegative().nullable(),
  frame_width: count.nullable(),
  frame_height: count.nullable(),
  frames_per_second: z.number().nonnegative().nullable(),
  nack_count: count.nullable(),
  pli_count: count.nullable(),
});

/** The viewer's selected ICE candidate pair. */
const clientPairSample = z.object({
  state: z.string().max(40).nullable(),
  rtt_ms: z.number().nonnegative().nullable(),
  bytes_sent: count.nullable(),
  bytes_received: count.nullable(),
  available_incoming_bitrate_bps: count.nullable(),
});

const clientChannelSample = z.object({
  label: z.string().max(200),
  channel_id: z.number().int().nullable(),
  state: z.string().max(40).nullable(),
  messages_sent: count.nullable(),
  bytes_sent: count.nullable(),
  messages_received: count.nullable(),
  bytes_received: count.nullable(),
});

export const CLIENT_STATE_KINDS = ['connection', 'ice', 'signaling', 'gathering', 'dtls'] as const;
/** How a viewer-side trace was joined to the server connection it talks to. */
export const CORRELATION_KEYS = ['ice_ufrag', 'dtls_fingerprint'] as const;
export type CorrelationKey = (typeof CORRELATION_KEYS)[number];
/** Where a viewer-side trace came from. */
export const CLIENT_SOURCES = ['rtcstats', 'rtcstats_dump', 'webrtc_internals'] as const;
/** Client clocks are kept as data, never used for ordering: epoch ms as the client said it. */
const clientTs = z.number().finite().nullable();

export type InboundSample = z.output<typeof inboundSample>;
export type ClientPairSample = z.output<typeof clientPairSample>;
export type ClientChannelSample = z.output<typeof clientChannelSample>;

export type TrackSample = z.output<typeof trackSample>;
export type ChannelSample = z.output<typeof channelSample>;

const eventSchemas = {
  'server.created': z.object({
    server_id: id,
    content: z.string(),
    mode: z.enum(['media', 'data']),
    quality: z.string(),
    /** SHA-256 (hex) of the stream's viewer token; the token itself is never recorded. Absent for streams without one. */
    viewer_token_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
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
  // Connection-level totals, then the detail per outbound track and per data
  // channel. null means unknown (no receiver report yet, no previous sample),
  // never 0. Fields added after schema 1 are optional so older producers and
  // logs stay valid.
  'connection.stats_sampled': z.object({
    bytes_sent: count,
    bytes_received: count,
    packets_sent: count,
    packets_received: count,
    /** Cumulative, from the viewer's receiver reports (RFC 3550 allows it to go negative with duplicates). */
    packets_lost: z.number().nullable(),
    /** The worst track's fraction lost in its latest receiver report (0..1). */
    fraction_lost: z.number().min(0).max(1).nullable().optional(),
    rtt_ms: z.number().nullable(),
    jitter_ms: z.number().nullable(),
    frames_sent: count.nullable().optional(),
    frames_received: count.nullable().optional(),
    keyframes_sent: count.nullable().optional(),
    nack_count: count.nullable().optional(),
    pli_count: count.nullable().optional(),
    fir_count: count.nullable().optional(),
    retransmitted_packets_sent: count.nullable().optional(),
    bitrate_out_bps: count.nullable(),
    bitrate_in_bps: count.nullable(),
    /** Milliseconds since the previous sample; null on the first. */
    interval_ms: ms.nullable(),
    tracks: z.array(trackSample).max(50).optional(),
    data_channels: z.array(channelSample).max(50).optional(),
    /** The quality score of this sample (src/detect/score.ts); absent from samples recorded before it existed. */
    score: qualityScore.optional(),
  }),
  'connection.stalled': z.object({
    /** Milliseconds since anything arrived from the remote peer. */
    silent_ms: ms,
    stall_after_ms: ms,
    /** Milliseconds since each kind of traffic last arrived; null if it never did. */
    last_heard_ms: z.record(z.enum(ACTIVITY_KINDS), ms.nullable()),
  }),
  'connection.resumed': z.object({
    /** How long the connection was stalled. */
    stalled_ms: ms,
    /** What arrived to end the stall. */
    via: z.array(z.enum(ACTIVITY_KINDS)),
  }),
  /**
   * What the server's answer committed to: its own ICE username fragment and
   * DTLS fingerprint, and the viewer's from the offer. Viewer-side traces are
   * joined to the connection by these (no application changes needed).
   */
  'connection.negotiated': z.object({
    local_ice_ufrag: z.string().max(256).nullable(),
    remote_ice_ufrag: z.string().max(256).nullable(),
    /** Upper-case hex pairs, without the hash name. */
    local_fingerprint: z.string().max(200).nullable(),
    remote_fingerprint: z.string().max(200).nullable(),
  }),
  'connection.quality_changed': z.object({ from: z.string(), to: z.string() }),
  'connection.error': errorInfo.extend({ fatal: z.boolean().default(false) }),
  'connection.closed': z.object({
    reason: z.string(),
    initiator: z.enum(CLOSE_INITIATORS),
  }),

  // Viewer-side traces, one stream per traced peer connection:
  // `client:<session>:<pc>` (src/telemetry). The order is the server's
  // (log position); the client's clock is kept as `client_ts`.
  'client.created': z.object({
    session_id: id,
    pc_id: z.string().min(1).max(100),
    source: z.enum(CLIENT_SOURCES),
    /** The path the client connected with (rtcstats' meeting name), if any. */
    meeting: z.string().max(500).nullable(),
    user_agent: z.string().max(500).nullable(),
    /** The application's identity message, as sent (bounded). */
    identity: z.record(z.string(), z.unknown()).nullable(),
    /** The RTCConfiguration, TURN credentials removed. */
    configuration: z.record(z.string(), z.unknown()).nullable(),
    client_ts: clientTs,
  }),
  /** An API call or event the client traced (createOffer, setRemoteDescription, ontrack, ...). */
  'client.trace': z.object({
    method: z.string().min(1).max(100),
    value: z.unknown(),
    client_ts: clientTs,
    client_seq: z.number().int().nullable(),
  }),
  'client.state_changed': z.object({
    kind: z.enum(CLIENT_STATE_KINDS),
    from: z.string().max(40).nullable(),
    to: z.string().max(40),
    client_ts: clientTs,
  }),
  /** One getStats() sample, decompressed: inbound RTP per track, the selected pair, data channels. */
  'client.stats_sampled': z.object({
    client_ts: clientTs,
    /** Client milliseconds since the previous sample of this peer connection; null on the first. */
    interval_ms: z.number().nonnegative().nullable(),
    inbound: z.array(inboundSample).max(50),
    candidate_pair: clientPairSample.nullable(),
    data_channels: z.array(clientChannelSample).max(50),
  }),
  /** This trace is the far end of a server connection. */
  'client.correlated': z.object({
    connection_id: id,
    by: z.enum(CORRELATION_KEYS),
    key: z.string().max(256),
  }),
  'client.closed': z.object({
    /** `pc_closed` (close() traced), `session_ended` (the report socket closed), `imported` (end of a dump), `process_restart` (the server died with the socket open; written at the next start). */
    reason: z.string().max(200),
    client_ts: clientTs,
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
  // `abandoned`: the work had not stopped when the task was given up on; it
  // stays counted until `task.settled_late` says it did. A `task.failed` is
  // abandoned when it stands for a give-up storage refused to record.
  'task.failed': z.object({ error: errorInfo, duration_ms: ms, abandoned: z.boolean().optional() }),
  'task.cancelled': z.object({ reason: z.string(), duration_ms: ms, abandoned: z.boolean().optional() }),
  'task.timed_out': z.object({ timeout_ms: ms, duration_ms: ms, abandoned: z.boolean().optional() }),
  'task.settled_late': z.object({
    /** How the abandoned work ended; `process_restart` when the process ended first. */
    outcome: z.enum(['completed', 'failed', 'process_restart']),
    error: errorInfo.optional(),
    /** Milliseconds from giving up on the task to its work settling. */
    late_ms: ms,
    duration_ms: ms,
  }),

  // The fleet forwarder's state changes, on the stream `forwarder:<node>`
  // (src/fleet/forwarder.ts). They record only transitions, never each retry.
  'forwarder.connected': z.object({
    node: id,
    /** The central database, without its password. */
    target: z.string(),
    /** Shipping resumes after this local position. */
    resume_after: z.number().int().nonnegative(),
    /** The highest position of this node the centre held on connecting. */
    centre_position: z.number().int().nonnegative(),
    /** How long the centre had been unreachable, when this ends an outage. */
    outage_ms: ms.nullable(),
    failed_attempts: z.number().int().nonnegative(),
  }),
  'forwarder.behind': z.object({ node: id, lag_events: z.number().int().nonnegative(), lag_ms: ms }),
  'forwarder.caught_up': z.object({
    node: id,
    /** Everything up to this local position is in the centre. */
    position: z.number().int().nonnegative(),
    /** How long it had been behind, when this ends a `behind` spell. */
    behind_ms: ms.nullable(),
  }),
  'forwarder.failing': z.object({
    node: id,
    target: z.string(),
    error: errorInfo,
    /** Local position shipped so far; what follows waits in the local log. */
    shipped_position: z.number().int().nonnegative(),
    retry_in_ms: ms,
  }),

  // Webhook delivery (src/deliver/), on the stream `webhook:<endpoint key>`:
  // one event per attempt. `endpoint` is the URL without its credentials;
  // `position` and `webhook_id` name the delivered event (the id is stable
  // across attempts so receivers deduplicate).
  'webhook.delivered': webhookAttempt.extend({ status: z.number().int() }),
  'webhook.attempt_failed': webhookAttempt.extend({
    status: z.number().int().nullable(),
    error: errorInfo,
    /** When the next attempt starts. */
    retry_in_ms: ms,
  }),
  /** The last attempt allowed failed too: the endpoint gives up on this event and moves on. */
  'webhook.failed': webhookAttempt.extend({ status: z.number().int().nullable(), error: errorInfo }),

  // Issues the detectors raise (src/detect), each on its own stream
  // `issue:<id>`: raised once, updated (at a bounded rate) while the
  // condition lasts, resolved once it has stayed clear for the hold time.
  // `cause_position` is the log position of the event that decided it (null
  // when the detectors' clock decided it: a deadline or a hold time passed).
  // Every issue event names the issue, its type, severity and `subject`, the
  // stream it is about (`connection:<id>`, `operation:<id>`, `task:<id>`,
  // `node:<name>`): webhooks deliver issues in their subject's order.
  'issue.raised': issueCommon.extend({
    /** What the issue is about: a connection, an operation, a task or a fleet node. */
    connection_id: id.nullable(),
    operation_id: id.nullable(),
    task_id: id.nullable(),
    node: id.nullable(),
    message: z.string().max(500),
    /** The measured value that crossed the threshold (ms, %, bps, ...), null for a fact such as a failure. */
    value: z.number().nullable(),
    threshold: z.number().nullable(),
    cause_position: z.number().int().nonnegative().nullable(),
  }),
  'issue.updated': issueCommon.extend({
    message: z.string().max(500),
    value: z.number().nullable(),
    /** The worst value since the issue was raised. */
    worst: z.number().nullable(),
    cause_position: z.number().int().nonnegative().nullable(),
  }),
  'issue.resolved': issueCommon.extend({
    resolution: z.enum(ISSUE_RESOLUTIONS),
    /** From issue.raised to now. */
    duration_ms: ms,
    /** How long the condition had been clear (the hold time, or more). */
    clear_for_ms: ms,
    worst: z.number().nullable(),
    cause_position: z.number().int().nonnegative().nullable(),
  }),
  /** A rules file (--rules) was loaded, or refused and the rules before it kept; on stream `detector:rules`. */
  'rules.reloaded': z.object({
    ok: z.boolean(),
    trigger: z.enum(['start', 'signal', 'admin', 'watch']),
    /** The file, or null for the built-in defaults. */
    path: z.string().nullable(),
    /** SHA-256 of the rules in force after this (the new ones, or the kept ones). */
    digest: z.string(),
    error: z.string().max(2000).nullable(),
  }),

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

/** Each event type's payload schema (read-only: the OpenAPI document describes the payloads with them). */
export const EVENT_SCHEMAS: Readonly<typeof eventSchemas> = eventSchemas;

type Schemas = typeof eventSchemas;
export type EventType = keyof Schemas;
export const EVENT_TYPES = Object.keys(eventSchemas) as EventType[];

/** An event as a producer hands it to append (payload before defaults). */
export type NewEvent = {
  [K in EventType]: { type: K; data: z.input<Schemas[K]> };
}[EventType];

/**
 * An event built by this process, its payload typed as the catalogue's
 * output (defaults filled in): what an append with `trusted: true` takes
 * without checking it again at run time.
 */
export type TrustedEvent = {
  [K in EventType]: { type: K; data: z.output<Schemas[K]> };
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
export const STREAM_KINDS = ['connection', 'operation', 'task', 'server', 'forwarder', 'log', 'issue', 'detector', 'webhook', 'client'] as const;
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
