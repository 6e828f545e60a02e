// The SQL views of migrations/0001_views.sql over a generated log.
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
  store = freshStore({ clock: () => now });
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

Views('stats_samples flattens every stats sample', () => {
  assert.is(one('SELECT count(*) FROM stats_samples'), one("SELECT count(*) FROM events WHERE type = 'connection.stats_sampled'"));
  const rows = all('SELECT * FROM stats_samples LIMIT 100');
  assert.ok(rows.length > 0);
  for (const r of rows) assert.ok(typeof r.bytes_sent === 'number' && typeof r.bitrate_out_bps === 'number' && r.at.endsWith('Z'));
});

Views.run();
