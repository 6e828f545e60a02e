// The SQL views of migrations/0001_views.sql and 0005_stats_views.sql over a generated log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freshStore, type TestStore } from '../helpers/db.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';

let store: TestStore;
const all = (sql: string, ...args: unknown[]) => store.db.prepare(sql).all(...args) as Record<string, any>[];
const one = (sql: string, ...args: unknown[]) => store.db.prepare(sql).pluck().get(...args) as any;

const Views = suite('SQL views');
Views.before(async () => {
  let now = 0;
  store = await freshStore({ clock: () => now });
  await appendSteps(store.log, realisticSteps(21, { minEvents: 1500 }), { seed: 21, maxBatch: 5, setNow: (ms) => (now = ms) });
});
Views.after(() => store.cleanup());

Views('connection_timeline has every connection event in log order with ISO times and state changes split out', () => {
  assert.is(one('SELECT count(*) FROM connection_timeline'), one("SELECT count(*) FROM events WHERE substr(stream, 1, 11) = 'connection:'"));
  const rows = all('SELECT * FROM connection_timeline ORDER BY position LIMIT 200');
  for (const r of rows) {
    assert.is(r.at, new Date(r.recorded_at).toISOString());
    assert.ok(one('SELECT count(*) FROM connections WHERE id = ?', r.connection_id) === 1, `${r.connection_id} is a connection`);
    if (r.type === 'connection.state_changed') assert.ok(r.kind && r.to_state, 'kind and to_state');
  }
});

Views('operation_durations gives one row per operation with its outcome and error code', () => {
  assert.is(one('SELECT count(*) FROM operation_durations'), one('SELECT count(*) FROM operations'));
  const failed = all("SELECT * FROM operation_durations WHERE status = 'failed'");
  assert.ok(failed.length > 0 && failed.every((r) => r.error_code && r.duration_ms !== null && r.ended));
  const running = all("SELECT * FROM operation_durations WHERE status = 'running'");
  assert.ok(running.length > 0 && running.every((r) => r.ended === null && r.duration_ms === null));
  const completed = all("SELECT * FROM operation_durations WHERE status = 'completed'");
  assert.ok(completed.every((r) => r.error_code === null && Date.parse(r.ended) >= Date.parse(r.started)));
});

Views('state_transitions gives the time spent in each state until the next change of the same kind', () => {
  assert.is(one('SELECT count(*) FROM state_transitions'), one("SELECT count(*) FROM events WHERE type = 'connection.state_changed'"));
  const rows = all('SELECT * FROM state_transitions ORDER BY connection_id, kind, recorded_at');
  let checked = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const next = rows[i + 1];
    if (next && next.connection_id === r.connection_id && next.kind === r.kind) {
      assert.is(r.ms_in_state, next.recorded_at - r.recorded_at);
      assert.ok(r.ms_in_state >= 0);
      checked++;
    } else {
      assert.is(r.ms_in_state, null, 'the current state has no end yet');
    }
  }
  assert.ok(checked > 100);
});

Views('task_outcomes counts tasks by name and status, adding up to the tasks table', () => {
  const rows = all('SELECT * FROM task_outcomes');
  assert.is(rows.reduce((n, r) => n + r.tasks, 0), one('SELECT count(*) FROM tasks'));
  assert.ok(new Set(rows.map((r) => r.status)).size >= 5, 'completed, failed, cancelled, timed_out, running');
  for (const r of rows.filter((x) => x.status === 'timed_out')) assert.is(r.max_ms, 5000);
  for (const r of rows.filter((x) => x.status === 'running' || x.status === 'created')) assert.is(r.avg_ms, null);
});

Views('stats_samples flattens every stats sample, unknown values as NULL', () => {
  assert.is(one('SELECT count(*) FROM stats_samples'), one("SELECT count(*) FROM events WHERE type = 'connection.stats_sampled'"));
  const rows = all('SELECT * FROM stats_samples');
  assert.ok(rows.length > 0);
  for (const r of rows) {
    assert.ok(typeof r.bytes_sent === 'number' && r.at.endsWith('Z'));
    const data = JSON.parse(one('SELECT data FROM events WHERE position = ?', r.position));
    for (const column of ['bitrate_out_bps', 'packets_lost', 'fraction_lost', 'interval_ms', 'rtt_ms', 'jitter_ms']) {
      assert.is(r[column], data[column] ?? null, `${column} at ${r.position}`);
    }
  }
  assert.ok(rows.some((r) => r.bitrate_out_bps === null) && rows.some((r) => typeof r.bitrate_out_bps === 'number'), 'first samples have no bitrate');
  assert.ok(rows.some((r) => typeof r.fraction_lost === 'number'));
});

Views('track_samples gives one row per outbound track of every sample', () => {
  const tracks = one("SELECT sum(json_array_length(data, '$.tracks')) FROM events WHERE type = 'connection.stats_sampled'");
  assert.ok(tracks > 0);
  assert.is(one('SELECT count(*) FROM track_samples'), tracks);
  const rows = all('SELECT * FROM track_samples');
  for (const r of rows) {
    assert.ok(['audio', 'video'].includes(r.kind) && typeof r.ssrc === 'number' && typeof r.packets_sent === 'number');
    assert.ok(r.fraction_lost === null || (r.fraction_lost >= 0 && r.fraction_lost <= 1));
    if (r.kind === 'audio') assert.is(r.frames_sent, null, 'audio packets are not frames');
  }
  assert.ok(rows.some((r) => r.jitter_ms === null) && rows.some((r) => typeof r.jitter_ms === 'number'));
});

Views('data_channel_samples gives one row per data channel of every sample', () => {
  const channels = one("SELECT sum(json_array_length(data, '$.data_channels')) FROM events WHERE type = 'connection.stats_sampled'");
  assert.ok(channels > 0);
  assert.is(one('SELECT count(*) FROM data_channel_samples'), channels);
  assert.ok(all('SELECT * FROM data_channel_samples').every((r) => r.label === 'file' && typeof r.buffered_amount === 'number'));
});

Views('stall_periods gives each stall with how and when it ended', () => {
  const rows = all('SELECT * FROM stall_periods ORDER BY connection_id, recorded_at');
  assert.is(rows.length, one("SELECT count(*) FROM events WHERE type = 'connection.stalled'"));
  assert.ok(rows.some((r) => r.ended_by === 'resumed') && rows.some((r) => r.ended_by === 'closed' || r.ended_by === null));
  for (const r of rows) {
    assert.ok([null, 'resumed', 'closed', 'stalled'].includes(r.ended_by), String(r.ended_by));
    if (r.ended_by !== null) assert.ok(r.silent_total_ms >= r.silent_ms);
    else assert.is(r.ended, null);
  }
});

Views.run();
