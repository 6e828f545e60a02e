// The viewer read model and the viewer_quality view give the same KPIs for the same log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshStore, type TestStore } from '../helpers/db.ts';
import { foldViewer } from '../../src/projections/viewer.ts';
import { TraceSession } from '../../src/telemetry/session.ts';
import { chromeReport, deltaCompression } from '../helpers/rtcstats.ts';

let store: TestStore;
let now = 1_000_000;
const STREAM = 'client:s-1:PC_0';

const Kpis = suite('foldViewer and viewer_quality');
Kpis.before(async () => {
  store = await freshStore({ clock: () => now });
  const session = new TraceSession('s-1', store.log, { source: 'rtcstats', meeting: null, userAgent: null, obfuscateIps: false }, { maxPeers: 4 }, () => null);
  await session.handleEntry({ method: 'create', pcId: 'PC_0', value: {}, clientTs: 1, seq: 1 });
  let prev = {};
  // Four samples a second apart; jitter 5, 6, 7, 8 ms; a freeze and a resolution change at t=3; one sample with nothing decoded yet.
  const reports = [chromeReport(0, { framesDecoded: 0 }), chromeReport(1), chromeReport(2), chromeReport(3), chromeReport(4)];
  for (const [i, r] of reports.entries()) {
    now += 1000;
    await session.handleEntry({ method: 'getstats', pcId: 'PC_0', value: deltaCompression(prev, r), clientTs: null, seq: i + 2 });
    prev = r;
  }
});
Kpis.after(() => store.cleanup());

Kpis('time to first frame, freezes, loss, jitter average and p95, decode rate and resolution changes', async () => {
  const v = foldViewer(STREAM, await store.log.readStream(STREAM))!;
  const t = v.tracks[0];
  assert.is(t.time_to_first_frame_ms, 2000);
  assert.is(t.freeze_count, 1);
  assert.is(t.total_freezes_duration_ms, 700);
  assert.is(t.packets_lost, 2);
  assert.ok(Math.abs(t.loss_pct! - (100 * 2) / 402) < 1e-9);
  assert.ok(Math.abs(t.avg_jitter_ms! - 6) < 1e-9);
  assert.is(t.p95_jitter_ms, 8);
  assert.is(t.decode_fps, 30);
  assert.is(t.resolution_changes, 1);
});

Kpis('the viewer_quality view agrees with the read model', async () => {
  const v = foldViewer(STREAM, await store.log.readStream(STREAM))!.tracks[0];
  const row = store.db.prepare('SELECT * FROM viewer_quality WHERE client_stream = ?').get(STREAM) as Record<string, number>;
  assert.is(row.samples, 5);
  for (const key of ['time_to_first_frame_ms', 'freeze_count', 'total_freezes_duration_ms', 'packets_lost', 'p95_jitter_ms', 'resolution_changes'] as const) {
    assert.is(row[key], v[key], key);
  }
  for (const key of ['loss_pct', 'avg_jitter_ms', 'decode_fps'] as const) assert.ok(Math.abs(row[key] - (v[key] as number)) < 1e-9, key);
  assert.is(store.db.prepare('SELECT count(*) FROM viewer_samples WHERE client_stream = ?').pluck().get(STREAM), 5);
});

Kpis.run();
