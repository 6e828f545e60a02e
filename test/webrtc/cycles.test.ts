// 200 open/close cycles through the HTTP surface leave nothing behind: no
// live peer, no pending task, and the process's UDP sockets back at their
// baseline (werift opens one per address per peer; docs/werift.md).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MONITOR, WEBRTC, startWebRtcServer, udpSocketCount, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { dbOf } from '../helpers/db.ts';

const CYCLES = 200;
const IN_FLIGHT = 4;
let server: WebRtcTestServer;

const test = suite('open/close cycles');
test.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 1000 });
});
test.after(() => server.stop());

test(`${CYCLES} cycles leave 0 open peers, 0 pending tasks and UDP sockets at baseline`, async () => {
  const stream = await server.stream({ mode: 'data', content: 'README.md', quality: 'low' });
  // One cycle first, so lazily created process-wide sockets (the loopback STUN responder) are in the baseline.
  const warm = await server.viewer(stream.whep_url, 'data');
  await warm.close();
  await waitFor(async () => (await server.json(`${WEBRTC}/connections`)).body.length === 0, 3000, 'warm-up closed');
  const baseline = udpSocketCount();
  const probe = await server.viewer(stream.whep_url, 'data');
  const whileOpen = udpSocketCount();
  assert.ok(whileOpen > baseline, `the count sees a live pair's sockets (${baseline} -> ${whileOpen})`);
  await probe.close();

  const t0 = performance.now();
  let done = 0;
  const setups: number[] = [];
  const worker = async (n: number) => {
    for (let i = n; i < CYCLES; i += IN_FLIGHT) {
      const viewer = await server.viewer(stream.whep_url, 'data');
      setups.push(viewer.setupMs);
      // Alternate the two ways a connection ends: the controller route (local) and WHEP DELETE (remote).
      if (i % 2 === 0) {
        const r = await server.json(`${WEBRTC}/connections/${viewer.connectionId}/close`, { method: 'POST' });
        assert.is(r.status, 200);
        await viewer.leave();
      } else {
        await viewer.close();
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, n) => worker(n)));
  const elapsed = performance.now() - t0;
  assert.is(done, CYCLES);

  await waitFor(async () => (await server.json(`${WEBRTC}/connections`)).body.length === 0, 5000, 'no live peers');
  const summary = await waitFor(async () => {
    const s = (await server.json(`${MONITOR}/summary`)).body;
    return s.pending_tasks === 0 ? s : null;
  }, 5000, 'no pending tasks');
  assert.is(summary.connection_states.closed, CYCLES + 2);
  assert.is(summary.operation_stats.failed, 0);
  const resources = (await server.json(`${WEBRTC}/stats/resources`)).body;
  assert.is(resources.webrtc.open_peers, 0);
  assert.is(resources.webrtc.pending_tasks, 0);
  const sockets = await waitFor(() => (udpSocketCount() <= baseline ? udpSocketCount() : null), 5000, `UDP sockets back at ${baseline} (now ${udpSocketCount()})`).catch(() => udpSocketCount());
  assert.is(sockets, baseline, `UDP sockets: baseline ${baseline}, after ${sockets}`);
  const closes = dbOf(server.services)
    .prepare("SELECT json_extract(data, '$.initiator') AS initiator, count(*) AS n FROM events WHERE type = 'connection.closed' GROUP BY 1")
    .all() as { initiator: string; n: number }[];
  assert.equal(Object.fromEntries(closes.map((c) => [c.initiator, c.n])), { local: CYCLES / 2, remote: CYCLES / 2 + 2 });
  setups.sort((a, b) => a - b);
  process.stdout.write(
    `  (${CYCLES} cycles in ${Math.round(elapsed)} ms, ${IN_FLIGHT} in flight; set-up median ${setups[CYCLES >> 1]} ms, p95 ${setups[Math.floor(CYCLES * 0.95)]} ms; UDP ${baseline} -> ${whileOpen} with one pair -> ${sockets}; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB)\n`,
  );
});

test.run();
