import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emptySummary, reduceSummary, type SummaryModel } from '../../src/projections/summary.ts';
import { reduceConnection, type ConnectionModel } from '../../src/projections/connection.ts';
import { reduceOperation, type OperationModel } from '../../src/projections/operation.ts';
import { reduceTask, holdsWork, type TaskModel } from '../../src/projections/task.ts';
import { parseStream, validateEvent, EVENT_SCHEMA_VERSION, type StoredEvent } from '../../src/log/catalogue.ts';
import { EventFactory, realisticSteps } from '../helpers/events.ts';

/** Folds the summary the way the projector does: each event with the before/after of what it changed. */
function foldAll(events: StoredEvent[]) {
  const connections = new Map<string, ConnectionModel | null>();
  const operations = new Map<string, OperationModel | null>();
  const tasks = new Map<string, TaskModel | null>();
  let s = emptySummary();
  for (const e of events) {
    const t = parseStream(e.stream);
    if (t?.kind === 'connection') {
      const before = connections.get(t.id) ?? null;
      const after = reduceConnection(before, t.id, e);
      connections.set(t.id, after);
      s = reduceSummary(s, e, { connection: { before, after } });
    } else if (t?.kind === 'operation') {
      const before = operations.get(t.id) ?? null;
      const after = reduceOperation(before, t.id, e);
      operations.set(t.id, after);
      s = reduceSummary(s, e, { operation: { before, after } });
    } else if (t?.kind === 'task') {
      const before = tasks.get(t.id) ?? null;
      const after = reduceTask(before, t.id, e);
      tasks.set(t.id, after);
      s = reduceSummary(s, e, { task: { before, after } });
    } else {
      s = reduceSummary(s, e, {});
    }
  }
  return { s, connections, operations, tasks };
}

const Reduce = suite('reduceSummary');

Reduce('counts every event and follows the log position', () => {
  const f = new EventFactory();
  const a = f.event('server:s', { type: 'server.created', data: { server_id: 's', content: 'x', mode: 'media', quality: 'low' } });
  const b = f.event('server:s', { type: 'server.stopped', data: { server_id: 's', reason: 'r' } });
  const { s } = foldAll([a, b]);
  assert.is(s.event_count, 2);
  assert.is(s.log_position, b.position);
  assert.is(s.connections.total, 0);
});

Reduce('moves a connection from one category counter to the next, keeping the total', () => {
  const f = new EventFactory();
  const on = f.on('connection:c');
  const steps: [StoredEvent, Partial<Record<keyof SummaryModel['connections'], number>>][] = [
    [on('connection.created', { connection_id: 'c' }), { total: 1, new: 1 }],
    [on('connection.state_changed', { kind: 'connection', from: 'new', to: 'connecting' }), { total: 1, new: 0, connecting: 1 }],
    [on('connection.state_changed', { kind: 'connection', from: 'connecting', to: 'connected' }), { connecting: 1, connected: 0 }],
    [on('connection.state_changed', { kind: 'ice', from: 'checking', to: 'completed' }), { connecting: 0, connected: 1 }],
    [on('connection.state_changed', { kind: 'connection', from: 'connected', to: 'disconnected' }), { connected: 0, disconnected: 1 }],
    [on('connection.closed', { reason: 'bye', initiator: 'remote' }), { disconnected: 0, closed: 1, total: 1 }],
    [on('connection.closed', { reason: 'twice', initiator: 'local' }), { closed: 1, total: 1 }],
  ];
  const seen: StoredEvent[] = [];
  for (const [event, expected] of steps) {
    seen.push(event);
    const { s } = foldAll(seen);
    for (const [k, v] of Object.entries(expected)) assert.is(s.connections[k as 'total'], v, `${event.type} ${JSON.stringify(event.data)}: ${k}`);
  }
});

Reduce('moves operations between running and their outcome', () => {
  const f = new EventFactory();
  const started = (id: string) => f.event(`operation:${id}`, { type: 'operation.started', data: { operation_id: id, type: 'x' } });
  const events = [
    started('a'), started('b'), started('c'), started('d'),
    f.event('operation:a', { type: 'operation.completed', data: { result: null, duration_ms: 1 } }),
    f.event('operation:b', { type: 'operation.failed', data: { error: { code: 'E', message: 'm' }, duration_ms: 1 } }),
    f.event('operation:c', { type: 'operation.cancelled', data: { reason: 'r', duration_ms: 1 } }),
  ];
  const { s } = foldAll(events);
  assert.equal(s.operations, { total: 4, running: 1, completed: 1, failed: 1, cancelled: 1 });
});

Reduce('keeps pending tasks at created + running, and drops them when they end', () => {
  const f = new EventFactory();
  const created = (id: string) => f.event(`task:${id}`, { type: 'task.created', data: { task_id: id, name: 'n' } });
  let { s } = foldAll([created('a'), created('b')]);
  assert.equal([s.tasks.total, s.tasks.pending], [2, 2]);
  const g = new EventFactory();
  const evs = [
    g.event('task:a', { type: 'task.created', data: { task_id: 'a', name: 'n' } }),
    g.event('task:b', { type: 'task.created', data: { task_id: 'b', name: 'n' } }),
    g.event('task:a', { type: 'task.started', data: {} }),
    g.event('task:a', { type: 'task.completed', data: { duration_ms: 1 } }),
    g.event('task:a', { type: 'task.failed', data: { error: { code: 'late', message: 'ignored' }, duration_ms: 1 } }),
  ];
  ({ s } = foldAll(evs));
  assert.equal(s.tasks, { total: 2, pending: 1, abandoned: 0, settled_late: 0, outcomes: { completed: 1, failed: 0, cancelled: 0, timed_out: 0 } });
});

Reduce('keeps an abandoned task pending until its work settles late, and counts the settling once', () => {
  const f = new EventFactory();
  const on = f.on('task:a');
  const given = [on('task.created', { task_id: 'a', name: 'n' }), on('task.started', {})];
  const timedOut = on('task.timed_out', { timeout_ms: 10, duration_ms: 10, abandoned: true });
  const settled = on('task.settled_late', { outcome: 'completed', late_ms: 40, duration_ms: 50 });
  let { s } = foldAll([...given, timedOut]);
  assert.equal([s.tasks.pending, s.tasks.abandoned, s.tasks.outcomes.timed_out, s.tasks.settled_late], [1, 1, 1, 0]);
  ({ s } = foldAll([...given, timedOut, settled, on('task.settled_late', { outcome: 'failed', late_ms: 41, duration_ms: 51 })]));
  assert.equal([s.tasks.pending, s.tasks.abandoned, s.tasks.outcomes.timed_out, s.tasks.settled_late], [0, 0, 1, 1]);
  // A timeout whose work had stopped is not pending at all.
  const g = new EventFactory();
  const other = g.on('task:b');
  ({ s } = foldAll([other('task.created', { task_id: 'b', name: 'n' }), other('task.cancelled', { reason: 'r', duration_ms: 1, abandoned: false })]));
  assert.equal([s.tasks.pending, s.tasks.abandoned, s.tasks.outcomes.cancelled], [0, 0, 1]);
});

Reduce('counts ended connections by outcome once, a failure that was then closed as failed', () => {
  const f = new EventFactory();
  const conn = (id: string, ...rest: [string, unknown][]) => {
    const on = f.on(`connection:${id}`);
    return [on('connection.created', { connection_id: id }), ...rest.map(([type, data]) => on(type as never, data as never))];
  };
  const events = [
    ...conn('clean', ['connection.closed', { reason: 'bye', initiator: 'remote' }], ['connection.closed', { reason: 'again', initiator: 'local' }]),
    ...conn('failed', ['connection.state_changed', { kind: 'connection', from: 'connected', to: 'failed' }], ['connection.closed', { reason: 'consent_expired', initiator: 'ice' }]),
    ...conn('fatal', ['connection.error', { code: 'NEGOTIATION_FAILED', message: 'bad offer', fatal: true }], ['connection.closed', { reason: 'negotiation_failed', initiator: 'local' }]),
    ...conn('stopping', ['connection.closed', { reason: 'server_shutdown', initiator: 'shutdown' }]),
    ...conn('crashed', ['connection.closed', { reason: 'process_restart', initiator: 'process_restart' }]),
    ...conn('open'),
  ];
  const { s } = foldAll(events);
  assert.equal(s.connection_outcomes, { clean: 1, failed: 2, shutdown: 1, process_restart: 1 });
  // The original's shape is kept: by state, both failures are closed now.
  assert.equal([s.connections.closed, s.connections.failed, s.connections.new, s.connections.total], [5, 0, 1, 6]);
});

Reduce('counts stalled connections as a level and stalls as a total; a close ends a stall', () => {
  const f = new EventFactory();
  const on = f.on('connection:c');
  const stalled = () => on('connection.stalled', { silent_ms: 5000, stall_after_ms: 5000, last_heard_ms: { stun: 5000, dtls: 6000, rtp: null, rtcp: 5000 } });
  const given = [on('connection.created', { connection_id: 'c' }), stalled()];
  let { s } = foldAll(given);
  assert.equal([s.connections.stalled, s.stalls], [1, 1]);
  const resumed = on('connection.resumed', { stalled_ms: 800, via: ['rtcp'] });
  const again = stalled();
  ({ s } = foldAll([...given, resumed, again]));
  assert.equal([s.connections.stalled, s.stalls], [1, 2]);
  ({ s } = foldAll([...given, resumed, again, on('connection.closed', { reason: 'consent_expired', initiator: 'ice' })]));
  assert.equal([s.connections.stalled, s.stalls, s.connection_outcomes.failed], [0, 2, 1]);
});

Reduce('adds up, over a long realistic log, to what the final models say', () => {
  const f = new EventFactory();
  const events: StoredEvent[] = [];
  for (const step of realisticSteps(7, { minEvents: 3000 })) {
    for (const e of step.events) events.push(f.event(step.stream, e));
  }
  const { s, connections, operations, tasks } = foldAll(events);
  const count = <T>(m: Map<string, T | null>, key: (x: T) => string) => {
    const out: Record<string, number> = { total: 0 };
    for (const v of m.values()) if (v) {
      out.total++;
      out[key(v)] = (out[key(v)] ?? 0) + 1;
    }
    return out;
  };
  const c = count(connections, (x) => x.category);
  for (const [k, v] of Object.entries(s.connections)) if (k !== 'stalled') assert.is(v, c[k] ?? 0, `connections.${k}`);
  const models = [...connections.values()].filter(Boolean) as ConnectionModel[];
  assert.is(s.connections.stalled, models.filter((m) => m.stalled).length);
  assert.ok(s.stalls > 0, 'the log has stalls');
  assert.is(s.stalls, models.reduce((n, m) => n + m.stall_count, 0));
  const outcomes = count(connections, (x) => x.outcome ?? 'open');
  for (const [k, v] of Object.entries(s.connection_outcomes)) assert.is(v, outcomes[k] ?? 0, `connection_outcomes.${k}`);
  assert.ok(Object.values(s.connection_outcomes).every((n) => n > 0), JSON.stringify(s.connection_outcomes));
  const o = count(operations, (x) => x.status);
  for (const [k, v] of Object.entries(s.operations)) assert.is(v, o[k] ?? 0, `operations.${k}`);
  const t = [...tasks.values()].filter(Boolean) as TaskModel[];
  assert.is(s.tasks.total, t.length);
  assert.is(s.tasks.pending, t.filter((x) => holdsWork(x)).length);
  assert.is(s.tasks.abandoned, t.filter((x) => x.abandoned).length);
  assert.ok(s.tasks.abandoned > 0, 'the log leaves some abandoned work unsettled');
  assert.is(s.tasks.settled_late, t.filter((x) => x.settled_late).length);
  assert.ok(s.tasks.pending > 0 && s.tasks.pending < t.length, 'the log leaves some tasks pending, not all');
  for (const [k, v] of Object.entries(s.tasks.outcomes)) assert.is(v, t.filter((x) => x.status === k).length, `tasks.outcomes.${k}`);
  for (const [type, byStatus] of Object.entries(s.operation_types)) {
    for (const [status, n] of Object.entries(byStatus)) {
      assert.is(n, [...operations.values()].filter((x) => x?.type === type && x.status === status).length, `${type} ${status}`);
    }
  }
  assert.is(s.event_count, events.length);
});

Reduce('does not mutate the state it is given', () => {
  const s = emptySummary();
  const before = JSON.stringify(s);
  const v = validateEvent({ type: 'connection.created', data: { connection_id: 'x' } });
  assert.ok(v.ok);
  const e = { position: 1, stream: 'connection:x', version: 1, type: v.type, data: v.data, meta: { schema: EVENT_SCHEMA_VERSION }, recordedAt: 0 } as StoredEvent;
  reduceSummary(s, e, { connection: { before: null, after: reduceConnection(null, 'x', e) } });
  assert.is(JSON.stringify(s), before);
});

Reduce('adds what each connection\'s counters grew since its previous sample to totals that never move back or between states', () => {
  const f = new EventFactory();
  const sample = (on: ReturnType<EventFactory['on']>, bytes: number, lost: number | null) =>
    on('connection.stats_sampled', {
      bytes_sent: bytes,
      bytes_received: 10,
      packets_sent: bytes / 100,
      packets_received: 1,
      packets_lost: lost,
      rtt_ms: 1,
      jitter_ms: 0,
      bitrate_out_bps: null,
      bitrate_in_bps: null,
      interval_ms: null,
    });
  const a = f.on('connection:a');
  const b = f.on('connection:b');
  const events = [
    a('connection.created', { connection_id: 'a' }),
    b('connection.created', { connection_id: 'b' }),
    sample(a, 1000, null),
    sample(b, 500, 2),
    sample(a, 3000, 4),
    // A remote loss count may step back (RFC 3550 duplicates); the total does not.
    sample(b, 700, 1),
  ];
  const live = foldAll(events).s;
  assert.equal(live.traffic_total, { bytes_sent: 3700, bytes_received: 20, packets_sent: 37, packets_received: 2, packets_lost: 6 });
  const closed = foldAll([...events, a('connection.closed', { reason: 'bye', initiator: 'remote' })]).s;
  assert.equal(closed.traffic_total, live.traffic_total, 'a close moves nothing');
});

Reduce.run();
