import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sumSummaries, withNode } from '../../src/fleet/reads.ts';
import { emptySummary } from '../../src/projections/summary.ts';

const WithNode = suite('withNode');

WithNode('puts the node first in stored read-model JSON, keeping the rest byte for byte', () => {
  assert.is(withNode('edge-1', '{"id":"a","x":[1,2]}'), '{"node":"edge-1","id":"a","x":[1,2]}');
  assert.is(withNode('edge-1', '{}'), '{"node":"edge-1"}');
  assert.equal(JSON.parse(withNode('e"1', '{ "id": 1 }')), { node: 'e"1', id: 1 });
});

WithNode.run();

const Sum = suite('sumSummaries');

Sum('adds every counter of the nodes, operation types by name', () => {
  const a = emptySummary();
  a.event_count = 10;
  a.connections.connected = 2;
  a.operation_types = { stream: { running: 1, completed: 2, failed: 0, cancelled: 0 } };
  const b = emptySummary();
  b.event_count = 5;
  b.connections.connected = 1;
  b.tasks.outcomes.completed = 4;
  b.operation_types = { connect: { running: 0, completed: 3, failed: 1, cancelled: 0 }, stream: { running: 0, completed: 1, failed: 0, cancelled: 0 } };
  const total = sumSummaries([a, b]);
  assert.is(total.event_count, 15);
  assert.is(total.connections.connected, 3);
  assert.is(total.tasks.outcomes.completed, 4);
  assert.equal(total.operation_types, { stream: { running: 1, completed: 3, failed: 0, cancelled: 0 }, connect: { running: 0, completed: 3, failed: 1, cancelled: 0 } });
  assert.equal(sumSummaries([]), emptySummary());
});

Sum.run();
