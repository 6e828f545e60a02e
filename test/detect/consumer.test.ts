import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { DetectorConsumer, DETECTOR_CONSUMER } from '../../src/detect/consumer.ts';
import { RulesHolder } from '../../src/detect/rulesHolder.ts';
import { parseRules, type RulesInput } from '../../src/detect/rules.ts';
import { parsed } from '../../src/projections/reads.ts';
import type { IssueModel } from '../../src/projections/issue.ts';
import { rebuild, snapshotReadModels } from '../../src/projections/sqlite/rebuild.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';
import { waitFor } from '../helpers/webrtc.ts';

const logger = pino({ level: 'silent' });

function holder(store: TestStore, input: RulesInput) {
  const r = parseRules(input);
  if (!r.ok) throw new Error(r.error);
  return new RulesHolder(null, store.log, logger, r.rules);
}

const issueEvents = (store: TestStore) => store.log.readLog({ after: 0, limit: 1000, streamPrefix: 'issue:' });

async function stalledConnection(store: TestStore, id = 'c1') {
  const stream = `connection:${id}`;
  await store.log.append(stream, [
    { type: 'connection.created', data: { connection_id: id } },
    { type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'connected' } },
    { type: 'connection.stalled', data: { silent_ms: 1000, stall_after_ms: 1000, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } } },
  ]);
}
const resume = (store: TestStore, id = 'c1') =>
  store.log.append(`connection:${id}`, [{ type: 'connection.resumed', data: { stalled_ms: 1000, via: ['rtcp'] } }]);

const Consumer = suite('DetectorConsumer');

Consumer('raises from committed events and resolves on its own clock once the hold time passes, with no event arriving', async () => {
  const store = await freshStore();
  const consumer = new DetectorConsumer(store.log, holder(store, { tick_ms: 20, stalled: { hold_ms: 100 } }), logger);
  try {
    await consumer.start();
    await stalledConnection(store);
    const raised = await waitFor(async () => (await issueEvents(store)).find((e) => e.type === 'issue.raised'), 5000, 'issue.raised');
    await resume(store);
    const resumedAt = (await store.log.readLog({ after: 0, limit: 100, types: ['connection.resumed'] }))[0].recordedAt;
    const resolved = await waitFor(async () => (await issueEvents(store)).find((e) => e.type === 'issue.resolved'), 5000, 'issue.resolved');
    assert.is(resolved.stream, raised.stream);
    assert.ok(resolved.recordedAt - resumedAt >= 100, 'not before the hold time');
    const [issue] = parsed<IssueModel>(await store.reads.issueRows({ statuses: [], limit: 10 })).items;
    assert.is(issue.status, 'resolved');
    assert.is(issue.type, 'stalled');
    assert.is(issue.connection_id, 'c1');
  } finally {
    await consumer.stop();
    await store.cleanup();
  }
});

Consumer('restarted mid-issue, it neither loses nor repeats the issue', async () => {
  const store = await freshStore();
  const rules = holder(store, { tick_ms: 20, stalled: { hold_ms: 50 } });
  const first = new DetectorConsumer(store.log, rules, logger);
  await first.start();
  try {
    await stalledConnection(store);
    await waitFor(async () => (await issueEvents(store)).find((e) => e.type === 'issue.raised'), 5000, 'issue.raised');
    await first.stop();
    // While no detector runs: more stalls, then the recovery.
    await store.log.append('connection:c1', [
      { type: 'connection.stalled', data: { silent_ms: 1000, stall_after_ms: 1000, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } } },
    ]);
    await resume(store);
    const second = new DetectorConsumer(store.log, rules, logger);
    await second.start();
    try {
      await waitFor(async () => (await issueEvents(store)).find((e) => e.type === 'issue.resolved'), 5000, 'issue.resolved');
      await second.idle();
      const events = await issueEvents(store);
      assert.equal(events.map((e) => e.type), ['issue.raised', 'issue.resolved']);
      assert.is(events[0].stream, events[1].stream, 'the same issue resolved');
    } finally {
      await second.stop();
    }
  } finally {
    await first.stop();
    await store.cleanup();
  }
});

Consumer('writes its checkpoint and state in the transaction of its issue events', async () => {
  const store = await freshStore();
  const consumer = new DetectorConsumer(store.log, holder(store, { tick_ms: 20 }), logger);
  try {
    await consumer.start();
    await stalledConnection(store);
    const raised = await waitFor(async () => (await issueEvents(store)).find((e) => e.type === 'issue.raised'), 5000, 'issue.raised');
    const saved = await store.log.readConsumerState(DETECTOR_CONSUMER);
    assert.ok(saved && store.log.positionOf(saved.checkpoint) >= raised.position - 1, 'the checkpoint covers the event that raised it');
    const state = JSON.parse(saved!.state!);
    assert.is(Object.values(state.issues as Record<string, { id: string }>)[0].id, raised.stream.slice('issue:'.length));
  } finally {
    await consumer.stop();
    await store.cleanup();
  }
});

Consumer('the issues read model rebuilt from the log equals the one kept inline', async () => {
  const store = await freshStore();
  const consumer = new DetectorConsumer(store.log, holder(store, { tick_ms: 20, stalled: { hold_ms: 0 } }), logger);
  try {
    await consumer.start();
    await stalledConnection(store, 'a');
    await stalledConnection(store, 'b');
    await waitFor(async () => (await issueEvents(store)).filter((e) => e.type === 'issue.raised').length === 2, 5000, 'two issues');
    await resume(store, 'a');
    await waitFor(async () => (await issueEvents(store)).some((e) => e.type === 'issue.resolved'), 5000, 'a resolved');
    await consumer.stop();
    const inline = snapshotReadModels(store.db);
    assert.is(inline.issues.length, 2);
    await rebuild(store.log);
    assert.equal(snapshotReadModels(store.db), inline);
  } finally {
    await consumer.stop();
    await store.cleanup();
  }
});

Consumer.run();
