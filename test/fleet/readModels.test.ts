// What the fleet keeps for read models written before a field existed: its
// read models carry no version yet, so old rows are completed as they load
// (a node's are rebuilt at start instead: test/projections/sqlite/open.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { completeConnection, completeSummary } from '../../src/fleet/readModels.ts';
import { reduceConnection, type ConnectionModel } from '../../src/projections/connection.ts';
import { emptySummary, type SummaryModel } from '../../src/projections/summary.ts';
import { EventFactory } from '../helpers/events.ts';

const ID = 'c1';

const Connection = suite('completeConnection');

Connection('keeps a connection stored before outcomes and stalls were tracked working through the reducer', () => {
  const on = new EventFactory().on(`connection:${ID}`);
  const old = reduceConnection(null, ID, on('connection.created', { connection_id: ID })) as Partial<ConnectionModel>;
  delete old.stall_count;
  delete old.stalled;
  delete old.failure;
  delete old.outcome;
  const loaded = completeConnection(old as ConnectionModel);
  const m = reduceConnection(loaded, ID, on('connection.stalled', { silent_ms: 1, stall_after_ms: 1, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } }));
  assert.equal([m.stalled, m.stall_count], [true, 1]);
  assert.is(reduceConnection(m, ID, on('connection.closed', { reason: 'bye', initiator: 'remote' })).outcome, 'clean');
});

Connection('leaves a current connection as it is', () => {
  const on = new EventFactory().on(`connection:${ID}`);
  const current = reduceConnection(null, ID, on('connection.created', { connection_id: ID }));
  assert.equal(completeConnection(current), current);
});

Connection.run();

const Summary = suite('completeSummary');

Summary('gives a summary stored before the newer counters every field, at zero, keeping what it had', () => {
  const older = { event_count: 7, log_position: 9, connections: { total: 2, new: 1, closed: 1 }, operations: { total: 1, running: 1 } } as unknown as Partial<SummaryModel>;
  const s = completeSummary(older);
  const empty = emptySummary();
  assert.equal(Object.keys(s).sort(), Object.keys(empty).sort());
  assert.equal([s.event_count, s.log_position, s.connections.total, s.connections.closed, s.connections.stalled], [7, 9, 2, 1, 0]);
  assert.equal(s.connection_outcomes, empty.connection_outcomes);
  assert.equal(s.tasks, empty.tasks);
  assert.equal(completeSummary(null), empty);
});

Summary.run();
