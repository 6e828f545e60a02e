// The forwarder_behind detector against a real outage: a node's log (real
// SQLite) forwarding to a real PostgreSQL that is stopped and started again,
// with the detectors' consumer running on the same log. The times from the
// stop to issue.raised and from the restart to issue.resolved are printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredEvent } from '../../../src/log/catalogue.ts';
import { DetectorConsumer } from '../../../src/detect/consumer.ts';
import { RulesHolder } from '../../../src/detect/rulesHolder.ts';
import { parseRules } from '../../../src/detect/rules.ts';
import { freshStore } from '../../helpers/db.ts';
import { forwarderFor, postgresFor, silent } from '../../helpers/fleet.ts';
import { waitFor } from '../../helpers/webrtc.ts';

const Behind = suite('forwarder_behind on a real outage of the centre');
const cluster = postgresFor(Behind);

Behind('a centre that goes down raises forwarder_behind for the node; back up and caught up, it resolves after the hold', async () => {
  const store = await freshStore();
  const parsed = parseRules({ tick_ms: 50, forwarder_behind: { hold_ms: 300 } });
  if (!parsed.ok) throw new Error(parsed.error);
  const rules = new RulesHolder(null, null, silent, parsed.rules);
  const detectors = new DetectorConsumer(store.log, rules, silent);
  await detectors.start();
  const url = await cluster.pg.createDatabase();
  const forwarder = forwarderFor(store.log, url, 'edge-d', { batchSize: 50, behindAfterMs: 200 });
  forwarder.start();
  // The node keeps working throughout: a few events every 20 ms, until told to stop.
  let producing = true;
  const produce = (async () => {
    for (let i = 0; producing; i++) {
      await store.log.append(`connection:c${i % 5}`, [{ type: 'connection.error', data: { code: 'E', message: String(i) } }]);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const issues = () => store.log.readLog({ after: 0, limit: 1000, streamPrefix: 'issue:' });
  try {
    await waitFor(async () => (await forwarder.status()).state === 'caught_up' && (await forwarder.status()).shipped_position > 20, 20_000, 'the first events shipped');
    assert.is((await issues()).length, 0, 'no issue while the centre is up');
    const downAt = Date.now();
    await cluster.pg.stop('immediate');
    const raised = await waitFor(async () => (await issues()).find((e) => e.type === 'issue.raised' && e.data.type === 'forwarder_behind'), 20_000, 'forwarder_behind raised');
    assert.ok(raised.type === 'issue.raised' && raised.data.node === 'edge-d' && raised.data.subject === 'node:edge-d');
    console.log(`    [measure] forwarder_behind: centre stopped -> issue.raised: ${raised.recordedAt - downAt} ms (${raised.data.message})`);
    const upAt = Date.now();
    await cluster.pg.start();
    const resolved = await waitFor(async () => (await issues()).find((e): e is StoredEvent => e.stream === raised.stream && e.type === 'issue.resolved'), 30_000, 'forwarder_behind resolved');
    assert.ok(resolved.type === 'issue.resolved' && resolved.data.resolution === 'cleared' && resolved.data.clear_for_ms >= 300, 'resolved once clear for the hold');
    const after = await store.log.readLog({ after: raised.position, limit: 1000, stream: 'forwarder:edge-d' });
    const back = after.find((e) => e.type === 'forwarder.connected');
    assert.ok(back && back.position < resolved.position, 'the forwarder reconnected first');
    console.log(
      `    [measure] forwarder_behind: centre started -> issue.resolved (hold 300 ms): ${resolved.recordedAt - upAt} ms (reconnected after ${back.recordedAt - upAt} ms; forwarder events ${after.map((e) => e.type).join(', ')})`,
    );
    assert.is((await issues()).filter((e) => e.type === 'issue.raised').length, 1, 'raised once for the whole outage');
  } finally {
    producing = false;
    await produce;
    await forwarder.stop();
    await detectors.stop();
    await store.cleanup();
  }
});

Behind.run();
