import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyEvent, entitiesRead, type ModelAccess, type ModelKind, type Models } from '../../src/projections/apply.ts';
import { emptySummary, type SummaryModel } from '../../src/projections/summary.ts';
import type { StoredEvent } from '../../src/log/catalogue.ts';
import { EventFactory, realisticSteps } from '../helpers/events.ts';

/** An in-memory projector around applyEvent: what any store gives it. */
function memory() {
  const models: { [K in ModelKind]: Map<string, Models[K] | null> } = { connection: new Map(), operation: new Map(), task: new Map() };
  const puts: string[] = [];
  const access: ModelAccess = {
    get: (kind, id) => (models[kind] as Map<string, Models[typeof kind] | null>).get(id) ?? null,
    put: (kind, id, model) => {
      (models[kind] as Map<string, Models[typeof kind] | null>).set(id, model);
      puts.push(`${kind}:${id}`);
    },
  };
  let summary: SummaryModel = emptySummary();
  return {
    models,
    puts,
    apply(...events: StoredEvent[]) {
      for (const e of events) summary = applyEvent(access, summary, e);
      return summary;
    },
  };
}

const Apply = suite('applyEvent');

Apply('feeds each stream kind to its reducer and the summary', () => {
  const f = new EventFactory();
  const m = memory();
  const s = m.apply(
    f.event('connection:c', { type: 'connection.created', data: { connection_id: 'c' } }),
    f.event('operation:o', { type: 'operation.started', data: { operation_id: 'o', type: 'close' } }),
    f.event('task:t', { type: 'task.created', data: { task_id: 't', name: 'run' } }),
  );
  assert.is(m.models.connection.get('c')?.category, 'new');
  assert.is(m.models.operation.get('o')?.status, 'running');
  assert.is(m.models.task.get('t')?.status, 'created');
  assert.equal([s.connections.total, s.operations.total, s.tasks.total, s.event_count], [1, 1, 1, 3]);
});

Apply('lists a created task on its operation', () => {
  const f = new EventFactory();
  const m = memory();
  m.apply(
    f.event('operation:o', { type: 'operation.started', data: { operation_id: 'o', type: 'close' } }),
    f.event('task:t', { type: 'task.created', data: { task_id: 't', name: 'run', operation_id: 'o' } }),
  );
  assert.equal(m.models.operation.get('o')?.task_ids, ['t']);
  assert.is(m.models.operation.get('o')?.task_count, 1);
});

Apply("counts the forwarder's state changes in the summary and changes no entity", () => {
  const f = new EventFactory();
  const m = memory();
  const s = m.apply(
    f.event('forwarder:node-a', { type: 'forwarder.behind', data: { node: 'node-a', lag_events: 10, lag_ms: 6000 } }),
    f.event('forwarder:node-a', { type: 'forwarder.caught_up', data: { node: 'node-a', position: 12, behind_ms: 800 } }),
  );
  assert.equal(m.puts, []);
  assert.is(s.event_count, 2);
  assert.is(s.log_position, 2);
  assert.equal(s.connections, emptySummary().connections);
});

Apply.run();

const Reads = suite('entitiesRead');

Reads('names every entity applyEvent reads, for a whole realistic log', () => {
  // A projector that loads rows in bulk must load exactly what applyEvent will get.
  const f = new EventFactory();
  let read: string[] = [];
  const access: ModelAccess = {
    get: (kind, id) => {
      read.push(`${kind}:${id}`);
      return null;
    },
    put: () => {},
  };
  let checked = 0;
  for (const step of realisticSteps(7, { minEvents: 800 })) {
    for (const e of step.events) {
      const event = f.event(step.stream, e);
      read = [];
      applyEvent(access, emptySummary(), event);
      const named = entitiesRead(event).map((x) => `${x.kind}:${x.id}`);
      assert.equal([...new Set(read)].sort(), named.sort(), `${event.type} on ${event.stream}`);
      checked++;
    }
  }
  assert.ok(checked >= 800);
});

Reads('names the operation of a created task, and nothing for server or forwarder events', () => {
  const f = new EventFactory();
  const created = f.event('task:t', { type: 'task.created', data: { task_id: 't', name: 'run', operation_id: 'o' } });
  assert.equal(entitiesRead(created), [{ kind: 'task', id: 't' }, { kind: 'operation', id: 'o' }]);
  assert.equal(entitiesRead(f.event('server:s', { type: 'server.stopped', data: { server_id: 's', reason: 'r' } })), []);
  assert.equal(entitiesRead(f.event('forwarder:n', { type: 'forwarder.behind', data: { node: 'n', lag_events: 1, lag_ms: 1 } })), []);
});

Reads.run();
