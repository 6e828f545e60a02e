// npm run bench [-- --quick] [-- --json] [-- --only 1,3]
//
// Eleven figure groups, each measured beside its anchor in the same run (see
// bench/RESULTS.md). The benchmark reports; it never fails on speed. It exits
// non-zero only when something it measures did not work.
//
// Figure 8 (the fleet) needs Debian's postgresql; it is in every full run and
// left out of `--quick` unless asked for (`--quick --only 8`), because the
// quick run is part of `npm test`, which needs Node alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appendFigures, groupCommitFigures } from './append.ts';
import { cachedLog } from './make-log.ts';
import { restFigures } from './rest.ts';
import { startupFigures } from './startup.ts';
import { exportFigures } from './export.ts';
import { rebuildFigures } from './rebuild.ts';
import { peerFigures } from './peers.ts';
import { fleetFigures } from './fleet.ts';
import { loopFigures } from './loop.ts';
import { webhookFigures } from './webhooks.ts';
import { telemetryFigures } from './telemetry.ts';
import { machine, table, type Figure } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    viewers: { type: 'string' },
  },
});

const quick = values.quick;
const sizes = quick
  ? { append: 5_000, emmett: 1_000, emmettApi: 100, perProducer: 10, log: 20_000, restSeconds: 1, startupRuns: 1, viewers: 5, baseViewers: 0, floorViewers: 50, heldViewers: 5, peerSeconds: 3, peerRounds: 1, fleetEvents: 5_000, fleetRounds: 1, outageMs: 1_500, loopWindowMs: 1500, webhookLatency: 100, webhookBacklog: 200, telemetryViewers: 10, telemetryEntries: 20 }
  : { append: 50_000, emmett: 5_000, emmettApi: 500, perProducer: 100, log: 1_000_000, restSeconds: 5, startupRuns: 5, viewers: 100, baseViewers: 20, floorViewers: 100, heldViewers: 200, peerSeconds: 10, peerRounds: 3, fleetEvents: 50_000, fleetRounds: 3, outageMs: 4_000, loopWindowMs: 5000, webhookLatency: 2_000, webhookBacklog: 5_000, telemetryViewers: 200, telemetryEntries: 100 };
if (values.viewers) sizes.viewers = Number(values.viewers);
const only = values.only ? new Set(values.only.split(',').map(Number)) : null;
const FLEET = 8;
const LOOP = 9;
const wanted = (group: number) => (only ? only.has(group) : !(quick && group === FLEET));
const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);

const scratch = mkdtempSync(join(tmpdir(), 'wrm-bench-'));
const figures: Figure[] = [];
const started = performance.now();
const machineBefore = machine();
try {
  let appendRate = NaN;
  if (wanted(1) || wanted(7)) {
    progress(`1. append: ${sizes.append} events (Emmett ${sizes.emmett})`);
    const f = await appendFigures(scratch, { events: sizes.append, emmettEvents: sizes.emmett, emmettApiEvents: sizes.emmettApi });
    appendRate = f[0].value;
    if (wanted(1)) figures.push(...f);
  }
  if (wanted(2)) {
    progress(`2. group commit: 100 producers x ${sizes.perProducer} appends`);
    figures.push(...(await groupCommitFigures(scratch, sizes.perProducer)));
  }
  if ([3, 4, 6, 7, LOOP].some(wanted)) {
    const log = cachedLog(sizes.log, (n) => progress(`generating a ${n}-event log into bench/.cache/ (once per generator version)`));
    if (wanted(3)) {
      progress(`3. REST reads on the ${sizes.log}-event log`);
      figures.push(...(await restFigures(log.path, sizes.log, sizes.restSeconds)));
    }
    if (wanted(4)) {
      progress('4. start-up');
      figures.push(...(await startupFigures(log.path, sizes.log, sizes.startupRuns)));
    }
    if (wanted(6)) {
      progress('6. export');
      figures.push(...(await exportFigures(log.path)));
    }
    if (wanted(7)) {
      progress('7. rebuild');
      figures.push(...(await rebuildFigures(log.path, appendRate)));
    }
    if (wanted(LOOP)) {
      progress(`9. event loop: summary while 1, 20 and 200 SSE readers read the ${sizes.log}-event log from position 0, and while maximal offers are answered`);
      figures.push(...(await loopFigures(log.path, scratch, sizes.log, sizes.loopWindowMs, [1, 20, 200])));
    }
  }
  if (wanted(5)) {
    progress(`5. peers: ${sizes.baseViewers} and ${sizes.viewers} viewers, ${sizes.peerRounds} x ${sizes.peerSeconds} s, recording on and off, the SRTP + send floor; then ${sizes.heldViewers} viewers held`);
    figures.push(...(await peerFigures(scratch, sizes.viewers, sizes.peerSeconds, sizes.peerRounds, { base: sizes.baseViewers, held: sizes.heldViewers, floorViewers: sizes.floorViewers })));
  }
  if (wanted(11)) {
    progress(`11. viewer telemetry: ${sizes.telemetryViewers} rtcstats viewers x ${sizes.telemetryEntries} getstats entries`);
    figures.push(...(await telemetryFigures(scratch, sizes.telemetryViewers, sizes.telemetryEntries)));
  }
  if (wanted(FLEET)) {
    progress(`8. fleet: forwarding ${sizes.fleetEvents} events x ${sizes.fleetRounds}, a ${sizes.outageMs / 1000} s outage with 3 nodes appending`);
    figures.push(...(await fleetFigures(scratch, { events: sizes.fleetEvents, rounds: sizes.fleetRounds, outageMs: sizes.outageMs })));
  }
  if (wanted(10)) {
    progress(`10. webhooks: latency over ${sizes.webhookLatency} events with the receiver up, a backlog of ${sizes.webhookBacklog}`);
    figures.push(...(await webhookFigures(scratch, { latencyEvents: sizes.webhookLatency, backlogEvents: sizes.webhookBacklog })));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
figures.sort((a, b) => a.group - b.group);

const run = {
  mode: quick ? 'quick' : 'full',
  duration_s: Math.round((performance.now() - started) / 1000),
  machine: { ...machineBefore, load_average_after: machine().load_average },
};
if (values.json) {
  process.stdout.write(`${JSON.stringify({ run, figures }, null, 2)}\n`);
} else {
  const m = run.machine;
  process.stdout.write(
    `webrtc-monitor benchmark (${run.mode}, ${run.duration_s} s) on ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, Node ${m.node}, ` +
      `load average ${m.load_average.join(' ')} before, ${m.load_average_after.join(' ')} after\n\n${table(figures)}`,
  );
}
