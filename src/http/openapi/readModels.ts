// The read models as the monitor answers them, as zod schemas for the
// OpenAPI document. The projections' TypeScript types are the truth; the
// checks at the end fail the type check when a field is added, renamed or
// retyped there and not here.
import { z } from 'zod';
import { CLOSE_INITIATORS, CONNECTION_OUTCOMES, EVENT_SCHEMAS, TASK_STATUSES } from '../../log/catalogue.ts';
import { CONNECTION_CATEGORIES, type ConnectionModel } from '../../projections/connection.ts';
import { OPERATION_STATUSES, type OperationModel } from '../../projections/operation.ts';
import type { TaskModel } from '../../projections/task.ts';
import type { ViewerModel } from '../../projections/viewer.ts';
import type { BothEnds } from '../../projections/bothEnds.ts';
import { STREAM_STATES, type StreamModel } from '../../projections/stream.ts';
import { TRAFFIC_FIELDS } from '../../projections/summary.ts';
import { FORWARDER_STATES, type ForwarderStatus } from '../../fleet/status.ts';
import { errorInfo, isoTime, named } from './components.ts';

const count = z.number().int().nonnegative();
const position = z.number().int().nonnegative();

/** The `?at=` a time-travel answer is for: an ISO time, a log position, or null for now. */
export const asOfSchema = z
  .union([isoTime, z.object({ position: count }), z.null()])
  .meta({ description: 'The `?at=` answered, or null for now.' });

export const connectionSchema = named(
  'Connection',
  z
    .object({
      id: z.string(),
      server_id: z.string().nullable(),
      role: z.enum(['server', 'client']),
      mode: z.string().nullable(),
      content: z.string().nullable(),
      quality: z.string().nullable(),
      remote: z.string().nullable(),
      user_agent: z.string().nullable(),
      created_at: isoTime,
      updated_at: isoTime,
      closed_at: isoTime.nullable(),
      category: z.enum(CONNECTION_CATEGORIES),
      connection_state: z.string(),
      ice_connection_state: z.string(),
      ice_gathering_state: z.string(),
      signaling_state: z.string(),
      connected_at: isoTime.nullable(),
      setup_ms: z.number().nullable().meta({ description: 'From creation to the first `connected` state.' }),
      close: z.object({ reason: z.string(), initiator: z.string().meta({ examples: [...CLOSE_INITIATORS] }) }).nullable(),
      outcome: z.enum(CONNECTION_OUTCOMES).nullable().meta({ description: 'How it ended, once it has; a failure followed by a close is `failed`.' }),
      failure: z.object({ code: z.string(), message: z.string(), at: isoTime }).nullable(),
      quality_score: z.number().min(0).max(100).nullable().meta({ description: "The latest sample's quality score 0-100 (reasons in latest_stats.score); null while unknown." }),
      stalled: z.boolean().meta({ description: 'Nothing has arrived from the viewer for --stall-after.' }),
      stalled_since: isoTime.nullable(),
      stall_count: count,
      candidates: z.object({ local: count, remote: count }),
      selected_pair: z.object({ local: z.string(), remote: z.string() }).nullable(),
      tracks: z.array(z.object({ track_id: z.string(), kind: z.string(), codec: z.string().nullable(), added_at: isoTime, removed_at: isoTime.nullable() })),
      track_count: count,
      data_channels: z.array(
        z.object({
          label: z.string(),
          channel_id: z.number().int().nullable(),
          opened_at: isoTime,
          closed_at: isoTime.nullable(),
          bytes_sent: z.number().nullable(),
          sha256: z.string().nullable(),
        }),
      ),
      data_channel_count: count,
      errors: z.array(z.object({ code: z.string(), message: z.string(), fatal: z.boolean(), at: isoTime })).meta({ description: 'The most recent errors; all are in the log.' }),
      error_count: count,
      latest_stats: EVENT_SCHEMAS['connection.stats_sampled'].extend({ at: isoTime }).nullable().meta({ description: 'The latest stats sample (unknown values are null, never 0).' }),
      stats_samples: count,
      event_count: count,
      version: count.meta({ description: 'The stream version this state reflects.' }),
      created_position: position,
      last_position: position,
    })
    .meta({ description: 'A connection read model: a fold of its events.' }),
);

export const operationSchema = named(
  'Operation',
  z.object({
    id: z.string(),
    type: z.string(),
    status: z.enum(OPERATION_STATUSES),
    params: z.record(z.string(), z.unknown()),
    connection_id: z.string().nullable(),
    server_id: z.string().nullable(),
    timeout_ms: z.number().int().nullable(),
    started_at: isoTime,
    ended_at: isoTime.nullable(),
    duration_ms: z.number().int().nullable(),
    result: z.unknown().meta({ description: 'What the operation produced, once completed.' }),
    error: errorInfo.nullable(),
    task_ids: z.array(z.string()),
    task_count: count,
    version: count,
    created_position: position,
    last_position: position,
  }),
);

export const taskSchema = named(
  'Task',
  z.object({
    id: z.string(),
    name: z.string(),
    status: z.enum(TASK_STATUSES),
    operation_id: z.string().nullable(),
    connection_id: z.string().nullable(),
    timeout_ms: z.number().int().nullable(),
    created_at: isoTime,
    started_at: isoTime.nullable(),
    ended_at: isoTime.nullable(),
    duration_ms: z.number().int().nullable(),
    result: z.unknown(),
    error: errorInfo.nullable(),
    abandoned: z.boolean().meta({ description: 'Given up on (timed out or cancelled) while its work still ran; pending until it settles.' }),
    settled_late: z.object({ outcome: z.string(), at: isoTime, late_ms: z.number(), error: errorInfo.nullable() }).nullable(),
    transitions: z.array(z.object({ status: z.enum(TASK_STATUSES), at: isoTime })),
    version: count,
    created_position: position,
    last_position: position,
  }),
);

export const forwarderSchema = named(
  'ForwarderStatus',
  z
    .object({
      node: z.string(),
      target: z.string().meta({ description: 'The central database URL without its password.' }),
      state: z.enum(FORWARDER_STATES),
      shipped_position: position.meta({ description: 'Every event up to this log position is in the centre.' }),
      head_position: position,
      lag_events: count,
      lag_seconds: z.number().nonnegative().meta({ description: 'Age of the oldest event not yet in the centre.' }),
      events_shipped: count,
      duplicates: count,
      batches: count,
      failures: count,
      last_error: z.object({ code: z.string(), message: z.string(), at: isoTime }).nullable(),
      last_shipped_at: isoTime.nullable(),
    })
    .meta({ description: 'The fleet forwarder (`serve --forward-to`).' }),
);

export const summarySchema = named(
  'Summary',
  z.object({
    uptime_seconds: count,
    timestamp: isoTime,
    debug_mode: z.boolean(),
    logging_enabled: z.boolean().meta({ description: 'Whether --log-dir is set.' }),
    connection_states: z.object({
      total: count, connected: count, disconnected: count, new: count, connecting: count, closed: count, failed: count,
    }).meta({ description: 'Connections by current state; `total` ever created.' }),
    connection_outcomes: z.object(Object.fromEntries(CONNECTION_OUTCOMES.map((o) => [o, count])) as Record<(typeof CONNECTION_OUTCOMES)[number], typeof count>)
      .meta({ description: 'Ended connections by outcome; a failure followed by a close counts as failed.' }),
    stalled_connections: count.meta({ description: 'Connections with nothing arriving for --stall-after, now.' }),
    connection_stalls: count.meta({ description: 'Stalls that began, in the whole log.' }),
    operation_stats: z.object({ total: count, started: count, completed: count, failed: count, canceled: count }),
    pending_tasks: count.meta({ description: 'Running tasks plus abandoned ones (timed out or cancelled, work still running).' }),
    abandoned_tasks: count,
    task_count: count,
    event_count: count,
    log_position: position,
    forwarder: forwarderSchema.nullable().meta({ description: 'null when this node does not forward, and in a summary of the past (`?at=`).' }),
    as_of: asOfSchema,
  }),
);

export const streamSchema = named(
  'Stream',
  z
    .object({
      id: z.string().meta({ description: 'The server id (stream `server:<id>` in the log).' }),
      state: z.enum(STREAM_STATES).meta({ description: '`unknown`: viewers name it but its start is not in the log (pruned).' }),
      content: z.string().nullable(),
      mode: z.enum(['media', 'data']).nullable(),
      quality: z.string().nullable(),
      started_at: isoTime.nullable(),
      stopped_at: isoTime.nullable(),
      stop_reason: z.string().nullable(),
      viewers: z
        .object({ now: count, connected: count, stalled: count, total: count })
        .meta({ description: '`now`: viewers not closed; `connected`, `stalled`: of those, now; `total`: ever.' }),
      viewer_outcomes: z
        .object(Object.fromEntries(CONNECTION_OUTCOMES.map((o) => [o, count])) as Record<(typeof CONNECTION_OUTCOMES)[number], typeof count>)
        .meta({ description: "How its viewers' connections ended (totals)." }),
      traffic_total: z
        .object(Object.fromEntries(TRAFFIC_FIELDS.map((f) => [f, z.number().nonnegative()])) as Record<(typeof TRAFFIC_FIELDS)[number], z.ZodNumber>)
        .meta({ description: "What its viewers' cumulative counters grew, summed over every stats sample." }),
      updated_at: isoTime,
      created_position: position,
      last_position: position,
    })
    .meta({ description: 'A stream and its viewers, projected from the log.' }),
);


const num = z.number().nullable();
const viewerTrackSchema = z.object({
  ssrc: count,
  kind: z.string(),
  track_id: z.string().nullable(),
  codec: z.string().nullable(),
  samples: count,
  packets_received: num,
  bytes_received: num,
  packets_lost: num,
  loss_pct: num,
  avg_jitter_ms: num,
  p95_jitter_ms: num,
  frames_received: num,
  frames_decoded: num,
  frames_dropped: num,
  freeze_count: num,
  total_freezes_duration_ms: num,
  concealment_events: num,
  decode_fps: num,
  frame_width: num,
  frame_height: num,
  frames_per_second: num,
  resolution_changes: count,
  first_frame_at: isoTime.nullable(),
  time_to_first_frame_ms: num.meta({ description: 'From the trace starting to the first sample with a decoded frame (server clock).' }),
});

export const viewerSchema = named(
  'Viewer',
  z
    .object({
      stream: z.string().meta({ description: 'The client stream, `client:<session>:<pc>`.' }),
      session_id: z.string().nullable(),
      pc_id: z.string().nullable(),
      source: z.string().nullable(),
      meeting: z.string().nullable(),
      user_agent: z.string().nullable(),
      created_at: isoTime,
      closed_at: isoTime.nullable(),
      close_reason: z.string().nullable(),
      connection_id: z.string().nullable(),
      correlated_by: z.string().nullable().meta({ description: 'ice_ufrag or dtls_fingerprint' }),
      states: z.record(z.string(), z.string()),
      samples: count,
      rtt_ms: num,
      data_channels: z.array(
        z.object({ label: z.string(), channel_id: z.number().int().nullable(), state: z.string().nullable(), bytes_received: num, messages_received: num }),
      ),
      tracks: z.array(viewerTrackSchema),
      event_count: count,
      created_position: position,
      last_position: position,
    })
    .meta({ description: 'A viewer-side trace (what the browser received, decoded and froze): a fold of its client stream.' }),
);

export const bothEndsSchema = named(
  'BothEnds',
  z
    .object({
      server: z.object({ packets_sent: num, bytes_sent: num, frames_sent: num, packets_lost_reported: num, at: isoTime.nullable() }),
      viewers: z.array(
        z.object({
          stream: z.string(),
          packets_received: num,
          bytes_received: num,
          packets_lost: num,
          frames_decoded: num,
          freeze_count: num,
          total_freezes_duration_ms: num,
        }),
      ),
    })
    .meta({ description: 'Server sent X; each viewer received Y, lost Z, froze N times.' }),
);

// ---- the types and the schemas describe the same objects ---------------------
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(_proof?: T) => undefined;
same<Same<z.output<typeof operationSchema>, OperationModel>>();
same<Same<z.output<typeof taskSchema>, TaskModel>>();
same<Same<z.output<typeof streamSchema>, StreamModel>>();
same<Same<z.output<typeof forwarderSchema>, ForwarderStatus>>();
same<Same<Omit<z.output<typeof connectionSchema>, 'latest_stats'>, Omit<ConnectionModel, 'latest_stats'>>>();
same<Same<z.output<typeof viewerSchema>, ViewerModel>>();
same<Same<z.output<typeof bothEndsSchema>, BothEnds>>();
