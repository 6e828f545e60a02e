import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emptySummary, reduceSummary, type SummaryModel } from '../../src/projections/summary.ts';
import { reduceConnection, type ConnectionModel } from '../../src/projections/connection.ts';
import { reduceOperation, type OperationModel } from '../../src/projections/operation.ts';
import { reduceTask, isPending, type TaskModel } from '../../src/projections/task.ts';
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
  assert.equal(s.tasks, { total: 2, pending: 2 });
  const g = new EventFactory();
  const evs = [
    g.event('task:a', { type: 'task.created', data: { task_id: 'a', name: 'n' } }),
    g.event('task:b', { type: 'task.created', data: { task_id: 'b', name: 'n' } }),
    g.event('task:a', { type: 'task.started', data: {} }),
    g.event('task:a', { type: 'task.completed', data: { duration_ms: 1 } }),
    g.event('task:a', { type: 'task.failed', data: { error: { code: 'late', message: 'ignored' }, duration_ms: 1 } }),
  ];
  ({ s } = foldAll(evs));
  assert.equal(s.tasks, { total: 2, pending: 1 });
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
  for (const [k, v] of Object.entries(s.connections)) assert.is(v, c[k] ?? 0, `connections.${k}`);
  const o = count(operations, (x) => x.status);
  for (const [k, v] of Object.entries(s.operations)) assert.is(v, o[k] ?? 0, `operations.${k}`);
  const t = [...tasks.values()].filter(Boolean) as TaskModel[];
  assert.is(s.tasks.total, t.length);
  assert.is(s.tasks.pending, t.filter((x) => isPending(x.status)).length);
  assert.ok(s.tasks.pending > 0 && s.tasks.pending < t.length, 'the log leaves some tasks pending, not all');
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

Reduce('sums each connection\'s latest stats sample under the category it is in, and moves it when the category changes', () => {
  const f = new EventFactory();
  const on = f.on('connection:c');
  const sample = (bytes: number) =>
    on('connection.stats_sampled', {
      bytes_sent: bytes,
      bytes_received: 10,
      packets_sent: bytes / 100,
      packets_received: 1,
      packets_lost: 0,
      rtt_ms: 1,
      jitter_ms: 0,
      bitrate_out_bps: 0,
      bitrate_in_bps: 0,
      interval_ms: 1000,
    });
  const events = [
    on('connection.created', { connection_id: 'c' }),
    on('connection.state_changed', { kind: 'connection', from: 'new', to: 'connected' }),
    on('connection.state_changed', { kind: 'ice', from: 'new', to: 'connected' }),
    sample(1000),
    sample(3000),
  ];
  const live = foldAll(events).s;
  assert.is(live.traffic.connected.bytes_sent, 3000, 'the latest sample replaces the previous one');
  assert.is(live.traffic.connected.packets_sent, 30);
  const closed = foldAll([...events, on('connection.closed', { reason: 'bye', initiator: 'remote' })]).s;
  assert.is(closed.traffic.connected.bytes_sent, 0);
  assert.is(closed.traffic.closed.bytes_sent, 3000, 'bytes follow the connection into closed');
  assert.is(closed.traffic.closed.bytes_received, 10);
});

Reduce.run();
