// Event builders for tests: stored events for the pure reducers, and a seeded
// generator of realistic, interleaved event sequences (connections, operations
// and their tasks, servers) for the log and the rebuild == inline checks.
import { validateEvent, EVENT_SCHEMA_VERSION, type NewEvent, type StoredEvent } from '../../src/log/catalogue.ts';
import type { EventStore, ExpectedVersion } from '../../src/log/store.ts';

/** mulberry32: a small seeded generator, the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export type Rand = () => number;
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
export const between = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/**
 * Builds stored events the way the log would store them (validated, defaults
 * applied, positions and versions counted up), for feeding reducers directly.
 */
export class EventFactory {
  private position = 0;
  private readonly versions = new Map<string, number>();
  constructor(public now = Date.UTC(2026, 0, 1, 12, 0, 0)) {}

  event(stream: string, event: NewEvent, options: { at?: number; advanceMs?: number } = {}): StoredEvent {
    const checked = validateEvent(event);
    if (!checked.ok) throw new Error(`test event is invalid: ${checked.problem}`);
    this.now = options.at ?? this.now + (options.advanceMs ?? 10);
    const version = (this.versions.get(stream) ?? 0) + 1;
    this.versions.set(stream, version);
    return {
      position: ++this.position,
      stream,
      version,
      type: checked.type,
      data: checked.data,
      meta: { schema: EVENT_SCHEMA_VERSION },
      recordedAt: this.now,
    } as StoredEvent;
  }

  /** Shorthand: `f.on('connection:a')('connection.created', {...})`. */
  on(stream: string) {
    return <E extends NewEvent>(type: E['type'], data: E['data'], options?: { at?: number; advanceMs?: number }) =>
      this.event(stream, { type, data } as NewEvent, options);
  }
}

/**
 * given/when/then for a pure reducer: `given(events).when(event).then(check)`.
 * `then` receives the state folded from scratch over given + when.
 */
export function specFor<S>(reduce: (state: S | null, event: StoredEvent) => S | null) {
  const fold = (events: StoredEvent[]) => events.reduce<S | null>((s, e) => reduce(s, e), null);
  return function given(...givenEvents: StoredEvent[]) {
    const whenEvents: StoredEvent[] = [];
    const step = {
      when(...events: StoredEvent[]) {
        whenEvents.push(...events);
        return step;
      },
      then(check: (state: S | null, before: S | null) => void) {
        const before = fold(givenEvents);
        check(whenEvents.reduce<S | null>((s, e) => reduce(s, e), before), before);
      },
    };
    return step;
  };
}

// ---------------------------------------------------------------------------
// The realistic generator.

/** One append as a producer would make it. */
export type Step = { stream: string; events: NewEvent[]; meta?: Record<string, string> };

const STATES = ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'];
const ICE = ['new', 'checking', 'connected', 'completed', 'disconnected', 'failed', 'closed'];

/** A fixed id list with hostile shapes, mixed into the random ids. */
export const HOSTILE_IDS = ['../../x', 'a/b\\c', '%2e%2e', 'tab\there', 'x'.repeat(190), 'ünïcödé', 'dots...'];

function idFor(r: Rand, prefix: string, n: number): string {
  if (r() < 0.05) return `${pick(r, HOSTILE_IDS)}-${n}`;
  return `${prefix}-${n.toString(36)}-${Math.floor(r() * 1e9).toString(36)}`;
}

function stats(r: Rand, i: number) {
  const first = i === 1;
  const track = (kind: 'audio' | 'video', ssrc: number) => ({
    ssrc,
    kind,
    mid: kind === 'video' ? '0' : '1',
    codec: kind === 'video' ? 'video/VP8' : 'audio/opus',
    packets_sent: i * between(r, 10, 60),
    bytes_sent: i * between(r, 1000, 60000),
    bitrate_bps: first ? null : between(r, 0, 2_000_000),
    packets_lost: r() < 0.3 ? null : between(r, 0, 5),
    fraction_lost: r() < 0.3 ? null : between(r, 0, 255) / 256,
    jitter_ms: r() < 0.3 ? null : r() * 10,
    rtt_ms: r() < 0.3 ? null : r() * 40,
    receiver_reports: between(r, 0, i),
    nack_count: between(r, 0, 3),
    pli_count: between(r, 0, 2),
    fir_count: 0,
    retransmitted_packets_sent: between(r, 0, 3),
    retransmitted_bytes_sent: between(r, 0, 3000),
    frames_sent: kind === 'video' ? i * 30 : null,
    keyframes_sent: kind === 'video' ? i : null,
  });
  // Older producers (schema 1) sent connection-level figures only.
  const detailed = r() < 0.6;
  return {
    bytes_sent: i * between(r, 1000, 90000),
    bytes_received: i * between(r, 10, 500),
    packets_sent: i * between(r, 10, 90),
    packets_received: i * between(r, 1, 10),
    packets_lost: r() < 0.2 ? null : between(r, 0, 5),
    rtt_ms: r() < 0.2 ? null : between(r, 1, 80),
    jitter_ms: r() < 0.2 ? null : r() * 10,
    frames_sent: r() < 0.5 ? null : i * 30,
    bitrate_out_bps: first && detailed ? null : between(r, 0, 3_000_000),
    bitrate_in_bps: first && detailed ? null : between(r, 0, 30_000),
    interval_ms: first && detailed ? null : 1000,
    ...(detailed
      ? {
          fraction_lost: r() < 0.3 ? null : between(r, 0, 255) / 256,
          keyframes_sent: r() < 0.5 ? null : i,
          nack_count: between(r, 0, 4),
          pli_count: between(r, 0, 2),
          fir_count: 0,
          retransmitted_packets_sent: between(r, 0, 4),
          tracks: r() < 0.7 ? [track('video', 1000 + i), track('audio', 2000 + i)] : [],
          data_channels:
            r() < 0.4
              ? [{ label: 'file', channel_id: 1, state: 'open', messages_sent: i * 10, bytes_sent: i * 16384, messages_received: 0, bytes_received: 0, buffered_amount: between(r, 0, 300_000) }]
              : [],
        }
      : {}),
  };
}

/** The viewer's own trace of a connection (rtcstats telemetry, src/telemetry), joined to it. */
function* viewerTrace(r: Rand, id: string): Generator<Step> {
  const s = `client:sess-${id}:PC_0`;
  const one = (...events: NewEvent[]): Step => ({ stream: s, events });
  yield one({ type: 'client.created', data: { session_id: `sess-${id}`, pc_id: 'PC_0', source: 'rtcstats', meeting: null, user_agent: 'test', identity: null, configuration: {}, client_ts: 1 } });
  yield one(
    { type: 'client.trace', data: { method: 'setRemoteDescription', value: { type: 'answer', sdp: `v=0\r\na=ice-ufrag:s${id}\r\n` }, client_ts: 2, client_seq: 2 } },
    { type: 'client.state_changed', data: { kind: 'connection', from: null, to: 'connected', client_ts: 3 } },
  );
  yield one({ type: 'client.correlated', data: { connection_id: id, by: 'ice_ufrag', key: `s${id}`.slice(0, 40) } });
  for (let i = 1; i <= between(r, 1, 3); i++) {
    yield one({
      type: 'client.stats_sampled',
      data: {
        client_ts: 1000 * i,
        interval_ms: i === 1 ? null : 1000,
        inbound: [
          {
            ssrc: 1000, kind: 'video', track_id: `v-${id}`, mid: '0', codec: 'video/VP8', packets_received: 100 * i, bytes_received: 90_000 * i,
            packets_lost: between(r, 0, 3), jitter_ms: between(r, 1, 30), jitter_buffer_delay_ms: 40 * i, jitter_buffer_emitted_count: 30 * i,
            frames_received: 30 * i, frames_decoded: 30 * i - between(r, 0, 2), frames_dropped: 0, key_frames_decoded: 1, freeze_count: between(r, 0, 1),
            total_freezes_duration_ms: between(r, 0, 800), concealed_samples: null, concealment_events: null, total_samples_received: null,
            total_decode_time_ms: 2 * i, frame_width: 640, frame_height: 360, frames_per_second: 30, nack_count: 0, pli_count: 0,
          },
        ],
        candidate_pair: { state: 'succeeded', rtt_ms: between(r, 1, 40), bytes_sent: 100 * i, bytes_received: 90_000 * i, available_incoming_bitrate_bps: null },
        data_channels: [],
      },
    });
  }
  yield one({ type: 'client.closed', data: { reason: 'pc_closed', client_ts: 9000 } });
}

/** A viewer connection from creation to (usually) close, possibly with errors and oddities. */
function* connectionActor(r: Rand, id: string, serverId: string | null): Generator<Step> {
  const s = `connection:${id}`;
  const one = (...events: NewEvent[]): Step => ({ stream: s, events });
  yield one({
    type: 'connection.created',
    data: { connection_id: id, server_id: serverId, mode: pick(r, ['media', 'data'] as const), content: 'clip.webm', quality: 'medium', remote: '127.0.0.1' },
  });
  yield one(
    { type: 'connection.state_changed', data: { kind: 'signaling', from: 'stable', to: 'have-remote-offer' } },
    { type: 'connection.state_changed', data: { kind: 'gathering', from: 'new', to: 'gathering' } },
  );
  for (let i = between(r, 0, 3); i > 0; i--) {
    yield one({ type: 'connection.candidate', data: { origin: pick(r, ['local', 'remote'] as const), candidate: `candidate:${i} 1 udp 2130706431 127.0.0.1 ${40000 + i} typ host`, type: 'host', protocol: 'udp', address: '127.0.0.1', port: 40000 + i } });
  }
  yield one({ type: 'connection.state_changed', data: { kind: 'connection', from: 'new', to: 'connecting' } });
  yield one({ type: 'connection.state_changed', data: { kind: 'ice', from: 'new', to: 'checking' } });
  const fate = r();
  if (fate < 0.15) {
    // Set-up fails.
    yield one({ type: 'connection.error', data: { code: 'ICE_FAILED', message: 'no candidate pair succeeded', fatal: true } });
    yield one({ type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'failed' } });
    if (r() < 0.7) yield one({ type: 'connection.closed', data: { reason: 'ice failed', initiator: 'ice' } });
    return;
  }
  yield one(
    { type: 'connection.state_changed', data: { kind: 'ice', from: 'checking', to: pick(r, ['connected', 'completed']) } },
    { type: 'connection.candidate_pair_selected', data: { local: '127.0.0.1:40001', remote: '127.0.0.1:50001' } },
    { type: 'connection.negotiated', data: { local_ice_ufrag: `s${id}`.slice(0, 40), remote_ice_ufrag: `v${id}`.slice(0, 40), local_fingerprint: 'AA:BB', remote_fingerprint: null } },
  );
  yield one({ type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'connected' } });
  yield one({ type: 'connection.state_changed', data: { kind: 'gathering', from: 'gathering', to: 'complete' } });
  if (r() < 0.6) {
    yield one({ type: 'connection.track_added', data: { track_id: `v-${id}`, kind: 'video', codec: 'VP8', direction: 'sendonly' } });
    yield one({ type: 'connection.track_added', data: { track_id: `a-${id}`, kind: 'audio', codec: 'opus' } });
  } else {
    yield one({ type: 'connection.datachannel_opened', data: { label: 'file', channel_id: between(r, 0, 10), protocol: '' } });
  }
  const samples = between(r, 0, 8);
  let stalled = false;
  for (let i = 1; i <= samples; i++) {
    yield one({ type: 'connection.stats_sampled', data: stats(r, i) });
    if (!stalled && r() < 0.12) {
      stalled = true;
      yield one({ type: 'connection.stalled', data: { silent_ms: 5000 + between(r, 0, 400), stall_after_ms: 5000, last_heard_ms: { stun: between(r, 5000, 6000), dtls: null, rtp: null, rtcp: between(r, 5000, 9000) } } });
    } else if (stalled && r() < 0.5) {
      stalled = false;
      yield one({ type: 'connection.resumed', data: { stalled_ms: between(r, 100, 9000), via: [pick(r, ['stun', 'rtcp', 'dtls'] as const)] } });
    }
    if (r() < 0.08) yield one({ type: 'connection.quality_changed', data: { from: 'medium', to: pick(r, ['low', 'high']) } });
    if (r() < 0.08) yield one({ type: 'connection.error', data: { code: 'RTP_SEND', message: 'send failed once', fatal: false } });
    if (r() < 0.05) {
      yield one({ type: 'connection.state_changed', data: { kind: 'connection', from: 'connected', to: 'disconnected' } });
      if (r() < 0.5) yield one({ type: 'connection.state_changed', data: { kind: 'connection', from: 'disconnected', to: 'connected' } });
    }
  }
  if (r() < 0.15) return; // still open when the log ends
  yield one(
    { type: 'connection.track_removed', data: { track_id: `v-${id}`, kind: 'video' } },
    { type: 'connection.datachannel_closed', data: { label: 'file', channel_id: null, bytes_sent: between(r, 0, 1e6), sha256: 'ab'.repeat(32) } },
  );
  yield one({ type: 'connection.closed', data: { reason: pick(r, ['viewer left', 'closed by operator']), initiator: pick(r, ['local', 'remote', 'shutdown', 'process_restart'] as const) } });
  yield one({ type: 'connection.state_changed', data: { kind: 'connection', from: 'connected', to: 'closed' } });
  // A second close must not count twice.
  if (r() < 0.1) yield one({ type: 'connection.closed', data: { reason: 'again', initiator: 'local' } });
}

/** An operation with its tasks, ending in any outcome (or left running). */
function* operationActor(r: Rand, id: string, n: number, connectionId: string | null): Generator<Step> {
  const os = `operation:${id}`;
  const meta = { operation_id: id };
  const type = pick(r, ['stream', 'close', 'close_all', 'quality', 'benchmark', 'export']);
  yield { stream: os, meta, events: [{ type: 'operation.started', data: { operation_id: id, type, params: { n, quality: 'low' }, connection_id: connectionId, server_id: null, timeout_ms: 10_000 } }] };
  const taskCount = between(r, 1, 3);
  let failed = false;
  for (let k = 0; k < taskCount; k++) {
    const tid = `${id}.t${k}`;
    const ts = `task:${tid}`;
    yield { stream: ts, meta, events: [{ type: 'task.created', data: { task_id: tid, name: k === 0 ? 'run' : pick(r, ['close-peer', 'negotiate', 'write-file']), operation_id: id, connection_id: connectionId, timeout_ms: r() < 0.5 ? null : 5000 } }] };
    yield { stream: ts, meta, events: [{ type: 'task.started', data: {} }] };
    const end = r();
    const d = between(r, 0, 900);
    if (end < 0.1 && k > 0) continue; // left running
    if (end < 0.65) yield { stream: ts, meta, events: [{ type: 'task.completed', data: { result: { ok: true, k }, duration_ms: d } }] };
    else if (end < 0.8) {
      failed = true;
      yield { stream: ts, meta, events: [{ type: 'task.failed', data: { error: { code: 'WEBRTC_ERROR', message: 'peer went away' }, duration_ms: d } }] };
    } else if (end < 0.9) {
      const abandoned = r() < 0.5;
      yield { stream: ts, meta, events: [{ type: 'task.cancelled', data: { reason: 'shutdown', duration_ms: d, abandoned } }] };
      if (abandoned && r() < 0.7) yield { stream: ts, meta, events: [{ type: 'task.settled_late', data: { outcome: pick(r, ['completed', 'failed'] as const), late_ms: between(r, 0, 900), duration_ms: d + 900 } }] };
    } else {
      const abandoned = r() < 0.6;
      yield { stream: ts, meta, events: [{ type: 'task.timed_out', data: { timeout_ms: 5000, duration_ms: 5000, abandoned } }] };
      if (abandoned && r() < 0.6) {
        yield { stream: ts, meta, events: [{ type: 'task.settled_late', data: { outcome: 'failed', error: { code: 'ABORTED', message: 'stopped late' }, late_ms: between(r, 0, 2000), duration_ms: 6000 } }] };
        // Settles once: a second report must change nothing.
        if (r() < 0.2) yield { stream: ts, meta, events: [{ type: 'task.settled_late', data: { outcome: 'completed', late_ms: 1, duration_ms: 1 } }] };
      }
    }
    // A late transition after a final state must be ignored by the reducer.
    if (r() < 0.05) yield { stream: ts, meta, events: [{ type: 'task.completed', data: { duration_ms: 1 } }] };
  }
  const end = r();
  if (end < 0.1) return; // still running
  const d = between(r, 1, 5000);
  if (failed || end < 0.25) yield { stream: os, meta, events: [{ type: 'operation.failed', data: { error: { code: 'WEBRTC_ERROR', message: 'a task failed' }, duration_ms: d } }] };
  else if (end < 0.35) yield { stream: os, meta, events: [{ type: 'operation.cancelled', data: { reason: 'cancelled by request', duration_ms: d } }] };
  else yield { stream: os, meta, events: [{ type: 'operation.completed', data: { result: { closed: between(r, 0, 3) }, duration_ms: d } }] };
}

function* serverActor(r: Rand, id: string): Generator<Step> {
  yield { stream: `server:${id}`, events: [{ type: 'server.created', data: { server_id: id, content: 'clip.webm', mode: 'media', quality: 'high' } }] };
  if (r() < 0.7) yield { stream: `server:${id}`, events: [{ type: 'server.stopped', data: { server_id: id, reason: 'stopped by request' } }] };
}

/** The fleet forwarder's state changes, in the order an outage brings them. */
function forwarderEvents(node: string): NewEvent[] {
  const target = 'postgres://monitor@centre.example:5432/fleet';
  return [
    { type: 'forwarder.connected', data: { node, target, resume_after: 0, centre_position: 0, outage_ms: null, failed_attempts: 0 } },
    { type: 'forwarder.caught_up', data: { node, position: 120, behind_ms: null } },
    { type: 'forwarder.failing', data: { node, target, error: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, shipped_position: 240, retry_in_ms: 250 } },
    { type: 'forwarder.connected', data: { node, target, resume_after: 240, centre_position: 240, outage_ms: 4100, failed_attempts: 5 } },
    { type: 'forwarder.behind', data: { node, lag_events: 900, lag_ms: 6100 } },
    { type: 'forwarder.caught_up', data: { node, position: 1200, behind_ms: 2300 } },
  ];
}
/** One forwarder state change per this many events, so every log has them (they take nothing from the random stream). */
const FORWARDER_EVERY = 200;

/**
 * Interleaves many actors (and, now and then, a forwarder state change): `streams` is a lower bound on connection +
 * operation + task + server streams; the sequence ends once at least
 * `minEvents` events are out and every actor has finished or been cut.
 */
export function* realisticSteps(seed: number, options: { minEvents: number; concurrency?: number }): Generator<Step> {
  const r = prng(seed);
  const concurrency = options.concurrency ?? 12;
  const live: Generator<Step>[] = [];
  let n = 0;
  let emitted = 0;
  const forwarder = forwarderEvents(`node-${seed}`);
  let forwarderSteps = 0;
  const spawn = () => {
    n++;
    const kind = r();
    if (kind < 0.45) live.push(connectionActor(r, idFor(r, 'c', n), r() < 0.5 ? `srv-${n % 7}` : null));
    else if (kind < 0.92) live.push(operationActor(r, idFor(r, 'op', n), n, r() < 0.4 ? `c-linked-${n}` : null));
    else live.push(serverActor(r, `srv-${n}`));
  };
  while (emitted < options.minEvents || live.length) {
    while (emitted < options.minEvents && live.length < concurrency) spawn();
    const i = Math.floor(r() * live.length);
    const next = live[i].next();
    if (next.done) {
      live.splice(i, 1);
      continue;
    }
    emitted += next.value.events.length;
    yield next.value;
    if (emitted >= (forwarderSteps + 1) * FORWARDER_EVERY) {
      const event = forwarder[forwarderSteps++ % forwarder.length];
      emitted++;
      yield { stream: `forwarder:node-${seed}`, events: [event] };
    }
  }
  // Then what the detectors write (they take nothing from the random stream):
  // a rules reload, an issue raised, updated and resolved, and one left open.
  yield { stream: 'detector:rules', events: [{ type: 'rules.reloaded', data: { ok: true, trigger: 'start', path: '/etc/rules.json', digest: 'a'.repeat(64), error: null } }] };
  const common = (id: string) => ({ issue_id: id, type: 'high_loss' as const, severity: 'warning' as const, subject: 'connection:c-1' });
  const issue = (id: string, connection: string): NewEvent => ({
    type: 'issue.raised',
    data: { issue_id: id, type: 'high_loss', severity: 'warning', subject: `connection:${connection}`, connection_id: connection, operation_id: null, task_id: null, node: null, message: 'loss 12 %', value: 12, threshold: 5, cause_position: 1 },
  });
  yield { stream: `issue:i-${seed}-1`, events: [issue(`i-${seed}-1`, 'c-1')] };
  yield { stream: `issue:i-${seed}-2`, events: [issue(`i-${seed}-2`, 'c-2')] };
  yield { stream: `issue:i-${seed}-1`, events: [{ type: 'issue.updated', data: { ...common(`i-${seed}-1`), severity: 'warning', message: 'loss 20 %', value: 20, worst: 20, cause_position: 2 } }] };
  yield { stream: `issue:i-${seed}-1`, events: [{ type: 'issue.resolved', data: { ...common(`i-${seed}-1`), resolution: 'cleared', duration_ms: 20_000, clear_for_ms: 10_000, worst: 20, cause_position: null } }] };
  // The webhook attempts at them.
  const attempt = { endpoint: 'https://***@hooks.example/in', webhook_id: `msg_node-${seed}_1`, position: 1, event_type: 'issue.raised', duration_ms: 12 };
  yield {
    stream: 'webhook:0123456789abcdef',
    events: [
      { type: 'webhook.attempt_failed', data: { ...attempt, attempt: 1, status: 503, error: { code: 'HTTP_503', message: 'the endpoint answered 503' }, retry_in_ms: 1000 } },
      { type: 'webhook.delivered', data: { ...attempt, attempt: 2, status: 204 } },
      { type: 'webhook.failed', data: { ...attempt, position: 2, webhook_id: `msg_node-${seed}_2`, attempt: 30, status: null, error: { code: 'TIMEOUT', message: 'no answer within 15000 ms' } } },
    ],
  };
  // A viewer's own trace (rtcstats telemetry), from its own generator so the
  // rest of the log stays what each seed always gave.
  yield* viewerTrace(prng(seed + 1000), `c-viewer-${seed}`);
  // Last, a gap marker: what a log shows after storage refused some appends.
  yield {
    stream: 'log:gaps',
    events: [
      {
        type: 'log.gap',
        data: {
          events: between(r, 1, 50),
          appends: 1,
          first_failed_at: Date.UTC(2026, 0, 1, 9),
          last_failed_at: Date.UTC(2026, 0, 1, 9, 1),
          error: { code: 'STORAGE_FULL', message: 'storage is full' },
          types: { 'connection.stats_sampled': 1 },
          streams: ['connection:c-1'],
          streams_truncated: false,
        },
      },
    ],
  };
}

/**
 * Appends steps through the real log in random batch shapes: each round
 * queues 1..maxBatch appends in the same tick (one group commit), with a
 * mix of expected-version styles and the occasional append that must
 * conflict. The clock moves on between rounds. Returns what happened.
 */
export async function appendSteps(
  log: EventStore,
  steps: Iterable<Step>,
  options: { seed: number; maxBatch?: number; setNow: (ms: number) => void; startMs?: number },
) {
  const r = prng(options.seed ^ 0x5bd1e995);
  const maxBatch = options.maxBatch ?? 40;
  const versions = new Map<string, number>();
  let now = options.startMs ?? Date.UTC(2026, 0, 1, 9, 0, 0);
  let appended = 0;
  let conflicts = 0;
  let batch: Promise<unknown>[] = [];
  let size = between(r, 1, maxBatch);
  const flush = async () => {
    await Promise.all(batch);
    batch = [];
    size = between(r, 1, maxBatch);
    now += between(r, 0, 1500);
    options.setNow(now);
  };
  options.setNow(now);
  for (const step of steps) {
    const current = versions.get(step.stream) ?? 0;
    const roll = r();
    let expectedVersion: ExpectedVersion = 'any';
    if (roll < 0.2) expectedVersion = current;
    else if (roll < 0.3) expectedVersion = current === 0 ? 'no_stream' : 'stream_exists';
    if (roll > 0.98) {
      // A stale writer: must fail alone and change nothing.
      const stale = current === 0 ? 'stream_exists' : current - 1 >= 1 ? current - 1 : 'no_stream';
      batch.push(
        log.append(step.stream, step.events, { expectedVersion: stale }).then((res) => {
          if (res.ok) throw new Error(`stale append to ${step.stream} was accepted`);
          conflicts++;
        }),
      );
    }
    batch.push(
      log.append(step.stream, step.events, { expectedVersion, meta: step.meta }).then((res) => {
        if (!res.ok) throw new Error(`append to ${step.stream} conflicted: ${JSON.stringify(res)}`);
      }),
    );
    versions.set(step.stream, current + step.events.length);
    appended += step.events.length;
    if (batch.length >= size) await flush();
  }
  await flush();
  return { appended, conflicts };
}
