// `npm run bench -- --quick --only 8 --json`: figure 8 (the fleet) needs
// PostgreSQL, so it runs here rather than in test/bench/run.test.ts. Every
// figure is a finite number beside its anchor; speed is not asserted, but
// that every append committed while the centre was down is.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { requirePostgres } from '../../helpers/prerequisites.ts';

type Figure = { id: string; group: number; value: number; anchor?: { value: number }; ratio?: number };

const Bench = suite('bench/fleet.ts');

Bench('prints the fleet figures of the quick benchmark, each beside its anchor', () => {
  requirePostgres();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--only', '8', '--json'], {
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.is(r.status, 0, `bench exited ${r.status}: ${r.stderr.slice(-3000)}`);
  const { figures } = JSON.parse(r.stdout) as { figures: Figure[] };
  assert.equal(figures.map((f) => f.id), [
    'fleet.forward_rate',
    'fleet.catch_up_rate',
    'fleet.append_p99_centre_down',
    'fleet.appends_committed_centre_down',
    'fleet.end_to_end_lag_p50',
    'fleet.read.summary',
    'fleet.read.connections',
    'fleet.read.connection_detail',
  ]);
  for (const f of figures) {
    assert.is(f.group, 8);
    assert.ok(Number.isFinite(f.value) && f.value > 0, `${f.id}: value ${f.value}`);
    assert.ok(f.anchor && Number.isFinite(f.anchor.value) && f.anchor.value > 0, `${f.id}: anchor ${JSON.stringify(f.anchor)}`);
    assert.ok(Number.isFinite(f.ratio), `${f.id}: ratio ${f.ratio}`);
  }
  const committed = figures.find((f) => f.id === 'fleet.appends_committed_centre_down')!;
  assert.is(committed.value, committed.anchor!.value, 'every append made while the centre was down committed');
});

Bench.run();
