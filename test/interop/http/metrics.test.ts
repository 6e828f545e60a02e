// `promtool check metrics` (Debian's prometheus package) on a real /metrics
// exposition, after real peers streamed and ended, so every family of ours
// has samples: it must report nothing about our metrics. prom-client's
// default Node.js metrics are not ours; what promtool says about them is
// printed, not asserted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { requireTool, TOOLS } from '../../helpers/prerequisites.ts';
import { MONITOR, startWebRtcServer, waitFor, type WebRtcTestServer } from '../../helpers/webrtc.ts';

const PROMTOOL = requireTool(TOOLS.promtool);

/** promtool's findings for an exposition, one per line (it exits 3 when it has some). */
function promtoolCheck(exposition: string): { status: number | null; lines: string[] } {
  const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw run.error;
  const lines = `${run.stdout}${run.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return { status: run.status, lines };
}

let server: WebRtcTestServer;

const test = suite('promtool check metrics');
test.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 100 });
});
test.after(() => server.stop());

test('finds a problem in a badly named counter (the check is real)', () => {
  const { status, lines } = promtoolCheck('# HELP webrtc_bad_bytes Bad.\n# TYPE webrtc_bad_bytes counter\nwebrtc_bad_bytes 1\n');
  assert.is(status, 3);
  assert.ok(lines.some((l) => l.startsWith('webrtc_bad_bytes') && /_total/.test(l)), lines.join('\n'));
});

test('reports nothing about our metrics after real peers streamed, one hung up and its stream was stopped under the other', async () => {
  const media = await server.stream({ mode: 'media' });
  const data = await server.stream({ mode: 'data', quality: 'low' });
  const viewers = [await server.viewer(media.whep_url, 'media'), await server.viewer(data.whep_url, 'data')];
  for (const v of viewers) {
    await waitFor(async () => (await server.json(`${MONITOR}/connections/${v.connectionId}`)).body.connection.stats_samples >= 2, 10_000, 'samples');
  }
  await viewers[0].close();
  const stop = await server.json(`/api/v0/mcp/webrtc/stream/stop/${data.server_id}`, { method: 'POST' });
  assert.is(stop.status, 200);
  await viewers[1].leave();

  const exposition = await (await server.api('/metrics')).text();
  const ours = exposition.split('\n').filter((l) => l.startsWith('# TYPE webrtc_')).length;
  assert.ok(ours >= 20, `${ours} families of ours`);
  const { lines } = promtoolCheck(exposition);
  const aboutOurs = lines.filter((l) => l.startsWith('webrtc_'));
  assert.equal(aboutOurs, [], aboutOurs.join('\n'));
  process.stdout.write(`  (promtool check metrics, ${ours} webrtc_ families: ${lines.length ? lines.join('; ') : 'no findings'})\n`);
});

test.run();
