// `npm run bench -- --quick --json` must keep working (CI runs it): every
// figure of the groups it runs is printed as a finite number. Speed is not
// asserted. Group 8 (the fleet) needs PostgreSQL, so the quick run leaves it
// out; test/interop/bench/fleet.test.ts runs it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

type Figure = { id: string; group: number; value: number; anchor?: { value: number }; ratio?: number; target?: { met: boolean } };

const Run = suite('bench/run.ts');

Run('prints every figure of the quick benchmark as a finite number, each beside its anchor', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--json'], {
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.is(r.status, 0, `bench exited ${r.status}: ${r.stderr.slice(-3000)}`);
  const { run, figures } = JSON.parse(r.stdout) as { run: { mode: string; machine: { load_average: number[] } }; figures: Figure[] };
  assert.is(run.mode, 'quick');
  assert.equal([...new Set(figures.map((f) => f.group))].sort(), [1, 10, 11, 2, 3, 4, 5, 6, 7, 9]);
  for (const id of ['append.eventlog_vs_raw', 'append.eventlog_vs_emmett', 'group_commit.latency_p99', 'rest.summary.rps', 'rest.tasks.p99', 'startup.first_summary', 'peers.cpu', 'peers.per_viewer', 'peers.held', 'export.events_per_s', 'export.peak_rss', 'rebuild.events_per_s', 'loop.sse_1.summary_wait', 'loop.sse_20.summary_wait', 'loop.sse_200.summary_wait', 'loop.sse_200.delay_p99', 'loop.offers.summary_wait', 'loop.offers.delay_p99', 'webhooks.latency_p50', 'webhooks.latency_p99', 'webhooks.backlog_per_s']) {
    assert.ok(figures.some((f) => f.id === id), `figure ${id} is missing`);
  }
  for (const f of figures) {
    assert.ok(Number.isFinite(f.value) && f.value >= 0, `${f.id}: value ${f.value}`);
    assert.ok(f.anchor && Number.isFinite(f.anchor.value) && f.anchor.value >= 0, `${f.id}: anchor ${JSON.stringify(f.anchor)}`);
    assert.ok(Number.isFinite(f.ratio), `${f.id}: ratio ${f.ratio}`);
    if (f.target) assert.type(f.target.met, 'boolean');
  }
});

Run.run();
