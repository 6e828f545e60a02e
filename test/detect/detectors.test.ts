import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { detect, emptyDetectorState, type DetectorInput, type DetectorState, type Emit } from '../../src/detect/detectors.ts';
import { parseRules, type Rules, type RulesInput } from '../../src/detect/rules.ts';
import { EventFactory } from '../helpers/events.ts';

function rulesOf(input: RulesInput = {}): Rules {
  const r = parseRules(input);
  if (!r.ok) throw new Error(r.error);
  return r.rules;
}

/** Runs inputs through detect from an empty state; returns every emit and the final state. */
function run(inputs: DetectorInput[], rules = rulesOf()) {
  let state: DetectorState = emptyDetectorState();
  let n = 0;
  const emits: Emit[] = [];
  for (const input of inputs) {
    const out = detect(state, input, { rules, newId: () => `i${++n}` });
    state = out.state;
    emits.push(...out.emits);
  }
  return { state, emits, types: emits.map((e) => `${e.event.type}:${e.event.type === 'issue.raised' ? e.event.data.type : e.stream}`) };
}

const tick = (at: number): DetectorInput => ({ type: 'tick', at });

function connection(f: EventFactory, id = 'c1') {
  const on = f.on(`connection:${id}`);
  return {
    created: () => on('connection.created', { connection_id: id }),
    connected: (advanceMs = 10) => on('connection.state_changed', { kind: 'connection', from: 'connecting', to: 'connected' }, { advanceMs }),
    failed: () => on('connection.state_changed', { kind: 'connection', from: 'connected', to: 'failed' }),
    closed: (initiator: 'local' | 'ice' = 'local') => on('connection.closed', { reason: 'x', initiator }),
    stalled: () => on('connection.stalled', { silent_ms: 1000, stall_after_ms: 1000, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } }),
    resumed: () => on('connection.resumed', { stalled_ms: 1000, via: ['rtcp'] }),
    sample: (s: { rtt?: number | null; jitter?: number | null; loss?: number | null; bps?: number | null }, advanceMs = 1000) =>
      on(
        'connection.stats_sampled',
        {
          bytes_sent: 0,
          bytes_received: 0,
          packets_sent: 0,
          packets_received: 0,
          packets_lost: null,
          fraction_lost: s.loss ?? null,
          rtt_ms: s.rtt ?? null,
          jitter_ms: s.jitter ?? null,
          bitrate_out_bps: s.bps ?? null,
          bitrate_in_bps: null,
          interval_ms: 1000,
        },
        { advanceMs },
      ),
  };
}

const Pure = suite('detect');

Pure('leaves the state it is given as it was', () => {
  const f = new EventFactory();
  const c = connection(f);
  const before = emptyDetectorState();
  const snapshot = JSON.stringify(before);
  detect(before, c.created(), { rules: rulesOf(), newId: () => 'x' });
  assert.is(JSON.stringify(before), snapshot);
});

const Stall = suite('stalled detector');

Stall('raises once on connection.stalled and resolves only after the hold time clear', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ stalled: { hold_ms: 2000 } });
  const stalled = [c.created(), c.connected(), c.stalled(), c.stalled()];
  const resumed = c.resumed();
  const out = run([...stalled, tick(resumed.recordedAt - 1), resumed, tick(resumed.recordedAt + 1999), tick(resumed.recordedAt + 2000)], rules);
  assert.equal(out.types, ['issue.raised:stalled', 'issue.resolved:issue:i1']);
  const raised = out.emits[0].event;
  assert.is(raised.type, 'issue.raised');
  if (raised.type === 'issue.raised') {
    assert.is(raised.data.connection_id, 'c1');
    assert.is(raised.data.cause_position, stalled[2].position);
  }
  const resolved = out.emits[1].event;
  if (resolved.type === 'issue.resolved') {
    assert.is(resolved.data.resolution, 'cleared');
    assert.is(resolved.data.clear_for_ms, 2000);
    assert.is(resolved.data.cause_position, null);
  }
  assert.equal(out.state.issues, {});
});

Stall('a stall that comes back within the hold time keeps the same issue open', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ stalled: { hold_ms: 5000 } });
  const out = run([c.created(), c.connected(), c.stalled(), c.resumed(), c.stalled(), c.resumed()], rules);
  assert.equal(out.types, ['issue.raised:stalled']);
});

Stall('ends with its connection (subject_ended), at once', () => {
  const f = new EventFactory();
  const c = connection(f);
  const out = run([c.created(), c.connected(), c.stalled(), c.closed()]);
  assert.equal(out.types, ['issue.raised:stalled', 'issue.resolved:issue:i1']);
  const resolved = out.emits[1].event;
  assert.is(resolved.type === 'issue.resolved' && resolved.data.resolution, 'subject_ended');
  assert.equal(out.state.conns, {}, 'a closed connection with no open issue is forgotten');
});

const Failure = suite('connection_failed detector');

Failure('raises on a failed state, once, and resolves after the hold time', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ connection_failed: { hold_ms: 1000 } });
  const failed = [c.created(), c.connected(), c.failed(), c.closed('ice')];
  const at = failed[2].recordedAt;
  const out = run([...failed, tick(at + 999), tick(at + 1000), tick(at + 5000)], rules);
  assert.equal(out.types, ['issue.raised:connection_failed', 'issue.resolved:issue:i1']);
});

Failure('a close by ICE with no failed state before it is a failure', () => {
  const f = new EventFactory();
  const c = connection(f);
  const out = run([c.created(), c.connected(), c.closed('ice')]);
  assert.equal(out.types, ['issue.raised:connection_failed']);
});

Failure('a clean close raises nothing', () => {
  const f = new EventFactory();
  const c = connection(f);
  assert.equal(run([c.created(), c.connected(), c.closed()]).types, []);
});

const Setup = suite('slow_setup detector');

Setup('raises on the clock when a connection is not connected by the threshold, resolves once connected and held', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ slow_setup: { threshold_ms: 1000, hold_ms: 0 } });
  const created = c.created();
  const out = run([created, tick(created.recordedAt + 1000), tick(created.recordedAt + 1001), c.connected(2000)], rules);
  assert.equal(out.types, ['issue.raised:slow_setup', 'issue.resolved:issue:i1']);
});

Setup('a set-up that completed late raises even when no tick saw it waiting', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ slow_setup: { threshold_ms: 1000, hold_ms: 500 } });
  const connected = [c.created(), c.connected(1500)];
  const out = run([...connected, tick(connected[1].recordedAt + 500)], rules);
  assert.equal(out.types, ['issue.raised:slow_setup', 'issue.resolved:issue:i1']);
});

const Windowed = suite('high_rtt / high_jitter / high_loss detectors');

Windowed('loss above the threshold over the window raises; below it, after the window and the hold, resolves', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ high_loss: { threshold: 5, window_ms: 3000, min_samples: 2, hold_ms: 1000 } });
  const inputs: DetectorInput[] = [c.created(), c.connected(), c.sample({ loss: 0.2 }), c.sample({ loss: 0.2 })];
  const lossy = run(inputs, rules);
  assert.equal(lossy.types, ['issue.raised:high_loss']);
  const raised = lossy.emits[0].event;
  assert.ok(raised.type === 'issue.raised' && raised.data.value === 20 && raised.data.threshold === 5);
  for (let i = 0; i < 6; i++) inputs.push(c.sample({ loss: 0 }));
  const out = run(inputs, rules);
  assert.equal(out.types, ['issue.raised:high_loss', 'issue.resolved:issue:i1']);
});

Windowed('one sample is not enough (min_samples)', () => {
  const f = new EventFactory();
  const c = connection(f);
  assert.equal(run([c.created(), c.connected(), c.sample({ rtt: 900 })]).types, []);
});

Windowed('RTT and jitter raise issues of their own types', () => {
  const f = new EventFactory();
  const c = connection(f);
  const out = run([c.created(), c.connected(), c.sample({ rtt: 900, jitter: 80 }), c.sample({ rtt: 900, jitter: 80 })]);
  assert.equal(out.types.sort(), ['issue.raised:high_jitter', 'issue.raised:high_rtt']);
});

Windowed('updates an open issue at most every update_interval_ms, and only when its value moved', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ update_interval_ms: 3000, high_rtt: { threshold: 100, window_ms: 2000, min_samples: 1 } });
  const inputs: DetectorInput[] = [c.created(), c.connected()];
  for (let i = 0; i < 10; i++) inputs.push(c.sample({ rtt: 500 }));
  for (let i = 0; i < 10; i++) inputs.push(c.sample({ rtt: 900 }));
  const out = run(inputs, rules);
  const updates = out.emits.filter((e) => e.event.type === 'issue.updated');
  assert.equal(out.types.filter((t) => t.startsWith('issue.raised')), ['issue.raised:high_rtt']);
  assert.ok(updates.length >= 1 && updates.length <= 4, `${updates.length} updates over 19 s at one per 3 s at most, only once it moved`);
});

const Collapse = suite('bitrate_collapse detector');

Collapse('a bitrate below ratio x its recent level raises, and recovering resolves', () => {
  const f = new EventFactory();
  const c = connection(f);
  const rules = rulesOf({ bitrate_collapse: { ratio: 0.3, min_baseline_bps: 100_000, min_samples: 2, hold_ms: 0 } });
  const inputs: DetectorInput[] = [c.created(), c.connected()];
  for (let i = 0; i < 5; i++) inputs.push(c.sample({ bps: 1_000_000 }));
  inputs.push(c.sample({ bps: 50_000 }), c.sample({ bps: 40_000 }), c.sample({ bps: 30_000 }));
  assert.equal(run(inputs, rules).types, ['issue.raised:bitrate_collapse']);
  inputs.push(c.sample({ bps: 900_000 }));
  assert.equal(run(inputs, rules).types, ['issue.raised:bitrate_collapse', 'issue.resolved:issue:i1']);
});

const Ops = suite('operation_overdue and task_abandoned detectors');

Ops('an operation running past its deadline plus grace raises on the clock and resolves when it ends', () => {
  const f = new EventFactory();
  const on = f.on('operation:o1');
  const rules = rulesOf({ operation_overdue: { grace_ms: 100, hold_ms: 0 } });
  const started = on('operation.started', { operation_id: 'o1', type: 'close', timeout_ms: 1000 });
  const out = run([started, tick(started.recordedAt + 1100), tick(started.recordedAt + 1101), on('operation.completed', { result: null, duration_ms: 2000 }, { advanceMs: 2000 })], rules);
  assert.equal(out.types, ['issue.raised:operation_overdue', 'issue.resolved:issue:i1']);
  const raised = out.emits[0].event;
  assert.ok(raised.type === 'issue.raised' && raised.data.operation_id === 'o1');
});

Ops('a task given up on raises until its work settles late', () => {
  const f = new EventFactory();
  const on = f.on('task:t1');
  const out = run([
    on('task.created', { task_id: 't1', name: 'work' }),
    on('task.timed_out', { timeout_ms: 10, duration_ms: 10, abandoned: true }),
    on('task.settled_late', { outcome: 'completed', late_ms: 50, duration_ms: 60 }),
  ]);
  assert.equal(out.types, ['issue.raised:task_abandoned', 'issue.resolved:issue:i1']);
  const raised = out.emits[0].event;
  assert.ok(raised.type === 'issue.raised' && raised.data.task_id === 't1');
});

const Forwarder = suite('forwarder_behind detector');

Forwarder('behind or failing raises for the node; caught up resolves after the hold', () => {
  const f = new EventFactory();
  const on = f.on('forwarder:n1');
  const rules = rulesOf({ forwarder_behind: { hold_ms: 0 } });
  const out = run([
    on('forwarder.behind', { node: 'n1', lag_events: 10, lag_ms: 9000 }),
    on('forwarder.caught_up', { node: 'n1', position: 10, behind_ms: 100 }),
  ], rules);
  assert.equal(out.types, ['issue.raised:forwarder_behind', 'issue.resolved:issue:i1']);
  const raised = out.emits[0].event;
  assert.ok(raised.type === 'issue.raised' && raised.data.node === 'n1');
});


/** A viewer's report stream (`client:<session>:<pc>`), with one video track whose counters the test sets. */
function viewer(f: EventFactory, stream = 'client:s1:PC_0') {
  const on = f.on(stream);
  let ts = 1_700_000_000_000;
  return {
    correlated: (connectionId = 'c1') => on('client.correlated', { connection_id: connectionId, by: 'ice_ufrag', key: 'VIEW' }),
    closed: () => on('client.closed', { reason: 'session_ended', client_ts: ts }),
    /** One report `advanceMs` after the last, by both clocks. */
    sample: (video: { decoded: number; freezeMs?: number | null; kind?: string }, advanceMs = 1000) => {
      ts += advanceMs;
      return on(
        'client.stats_sampled',
        {
          client_ts: ts,
          interval_ms: advanceMs,
          inbound: [
            {
              ssrc: 1234, kind: video.kind ?? 'video', track_id: 't', mid: '0', codec: 'video/VP8', packets_received: null, bytes_received: null, packets_lost: null,
              jitter_ms: null, jitter_buffer_delay_ms: null, jitter_buffer_emitted_count: null, frames_received: null, frames_decoded: video.decoded, frames_dropped: null,
              key_frames_decoded: null, freeze_count: null, total_freezes_duration_ms: video.freezeMs ?? null, concealed_samples: null, concealment_events: null,
              total_samples_received: null, total_decode_time_ms: null, frame_width: null, frame_height: null, frames_per_second: null, nack_count: null, pli_count: null,
            },
          ],
          candidate_pair: null,
          data_channels: [],
        },
        { advanceMs },
      );
    },
  };
}

const Viewer = suite('viewer_freeze and viewer_low_fps detectors');

Viewer('frames that stop advancing in the viewer\'s reports raise a freeze on the joined connection; frames moving again resolve it after the hold', () => {
  const f = new EventFactory();
  const c = connection(f);
  const v = viewer(f);
  const rules = rulesOf({ viewer_freeze: { threshold_ms: 1500, hold_ms: 1000 }, viewer_low_fps: { enabled: false } });
  const inputs: DetectorInput[] = [c.created(), c.connected(), v.correlated(), v.sample({ decoded: 30 }), v.sample({ decoded: 60 }), v.sample({ decoded: 90 })];
  // Standing still: 90, 90 (1 s), 90 (2 s).
  inputs.push(v.sample({ decoded: 90 }), v.sample({ decoded: 90 }));
  const raised = run(inputs, rules);
  assert.equal(raised.types, ['issue.raised:viewer_freeze']);
  const data = raised.emits[0].event.data as { connection_id: string; subject: string; value: number; cause_position: number };
  assert.is(data.connection_id, 'c1');
  assert.is(data.subject, 'connection:c1');
  assert.is(data.value, 2000);
  assert.is(data.cause_position, (inputs[inputs.length - 1] as { position: number }).position, 'decided by the report');
  // Frames again: clear from here, resolved once the hold has passed.
  inputs.push(v.sample({ decoded: 120 }), v.sample({ decoded: 150 }, 500), v.sample({ decoded: 165 }, 500));
  const out = run(inputs, rules);
  assert.equal(out.types, ['issue.raised:viewer_freeze', 'issue.resolved:issue:i1']);
  assert.ok(out.emits[1].event.type === 'issue.resolved' && out.emits[1].event.data.resolution === 'cleared');
});

Viewer('the freeze time the viewer\'s own stack counted within the window raises too', () => {
  const f = new EventFactory();
  const c = connection(f);
  const v = viewer(f);
  const rules = rulesOf({ viewer_freeze: { threshold_ms: 500, window_ms: 5000 }, viewer_low_fps: { enabled: false } });
  const out = run([c.created(), c.connected(), v.correlated(), v.sample({ decoded: 30, freezeMs: 0 }), v.sample({ decoded: 50, freezeMs: 700 })], rules);
  assert.equal(out.types, ['issue.raised:viewer_freeze']);
  assert.is((out.emits[0].event.data as { value: number }).value, 700);
});

Viewer('reports before the join, audio tracks and a video not yet started decide nothing', () => {
  const f = new EventFactory();
  const c = connection(f);
  const v = viewer(f);
  const rules = rulesOf({ viewer_freeze: { threshold_ms: 500 } });
  assert.equal(run([c.created(), c.connected(), v.sample({ decoded: 0 }), v.sample({ decoded: 0 }), v.sample({ decoded: 0 }), v.correlated(), v.sample({ decoded: 0 })], rules).types, []);
  assert.equal(run([c.created(), c.connected(), v.correlated(), v.sample({ decoded: 5, kind: 'audio' }), v.sample({ decoded: 5, kind: 'audio' }), v.sample({ decoded: 5, kind: 'audio' })], rules).types, []);
  // Not joined: the stream's reports are about no connection.
  assert.equal(run([c.created(), c.connected(), v.sample({ decoded: 30 }), v.sample({ decoded: 30 }), v.sample({ decoded: 30 })], rules).types, []);
});

Viewer('a freeze ends with the report stream or the connection (subject_ended), and a viewer that stops reporting decides nothing', () => {
  const rules = rulesOf({ viewer_freeze: { threshold_ms: 500, window_ms: 3000, hold_ms: 10_000 }, viewer_low_fps: { enabled: false } });
  for (const end of ['client', 'connection'] as const) {
    const f = new EventFactory();
    const c = connection(f);
    const v = viewer(f);
    const out = run([c.created(), c.connected(), v.correlated(), v.sample({ decoded: 30 }), v.sample({ decoded: 30 }), end === 'client' ? v.closed() : c.closed()], rules);
    assert.equal(out.types, ['issue.raised:viewer_freeze', 'issue.resolved:issue:i1'], end);
    assert.ok(out.emits[1].event.type === 'issue.resolved' && out.emits[1].event.data.resolution === 'subject_ended');
    assert.equal(out.state.viewers, {}, 'the ended stream is forgotten');
  }
  const f = new EventFactory();
  const c = connection(f);
  const v = viewer(f);
  const reports = [c.created(), c.connected(), v.correlated(), v.sample({ decoded: 30 }), v.sample({ decoded: 30 })];
  const last = reports[reports.length - 1];
  const out = run([...reports, tick(last.recordedAt + 3001), tick(last.recordedAt + 13_002)], rules);
  assert.equal(out.types, ['issue.raised:viewer_freeze', 'issue.resolved:issue:i1']);
  assert.ok(out.emits[1].event.type === 'issue.resolved' && out.emits[1].event.data.resolution === 'cleared');
});

Viewer('a decode rate below the threshold over the window raises viewer_low_fps with its lowest value; recovering resolves', () => {
  const f = new EventFactory();
  const c = connection(f);
  const v = viewer(f);
  const rules = rulesOf({ viewer_low_fps: { threshold: 10, window_ms: 3000, min_samples: 3, hold_ms: 0 }, viewer_freeze: { enabled: false }, update_interval_ms: 0 });
  const inputs: DetectorInput[] = [c.created(), c.connected(), v.correlated()];
  let decoded = 0;
  for (let i = 0; i < 4; i++) inputs.push(v.sample({ decoded: (decoded += 30) }));
  assert.equal(run(inputs, rules).types, []);
  for (let i = 0; i < 4; i++) inputs.push(v.sample({ decoded: (decoded += 4) }));
  const low = run(inputs, rules);
  assert.equal(low.types.filter((t) => !t.startsWith('issue.updated')), ['issue.raised:viewer_low_fps']);
  assert.is(low.state.issues['viewer_low_fps|connection:c1'].worst, 4);
  for (let i = 0; i < 4; i++) inputs.push(v.sample({ decoded: (decoded += 30) }));
  const out = run(inputs, rules);
  assert.equal(out.types.filter((t) => !t.startsWith('issue.updated')), ['issue.raised:viewer_low_fps', 'issue.resolved:issue:i1']);
  assert.is((out.emits[out.emits.length - 1].event.data as { worst: number }).worst, 4);
});

Viewer('a state saved before viewer tracking existed loads and goes on', () => {
  const f = new EventFactory();
  const c = connection(f);
  const v = viewer(f);
  const old = { now: 0, issues: {}, conns: {}, ops: {}, tasks: {}, forwarders: {} } as DetectorState;
  const rules = rulesOf({ viewer_freeze: { threshold_ms: 500 } });
  let state = old;
  const emits: Emit[] = [];
  for (const e of [c.created(), c.connected(), v.correlated(), v.sample({ decoded: 30 }), v.sample({ decoded: 30 })]) {
    const out = detect(state, e, { rules, newId: () => 'i1' });
    state = out.state;
    emits.push(...out.emits);
  }
  assert.equal(emits.map((e) => e.event.type), ['issue.raised']);
});

const Rules = suite('rules in detection');

Rules('a disabled detector raises nothing, and disabling it resolves what it had open', () => {
  const f = new EventFactory();
  const c = connection(f);
  const events = [c.created(), c.connected(), c.stalled()];
  assert.equal(run(events, rulesOf({ stalled: { enabled: false } })).types, []);
  const open = run(events);
  const later = detect(open.state, tick(events[2].recordedAt + 10), { rules: rulesOf({ stalled: { enabled: false, hold_ms: 0 } }), newId: () => 'x' });
  assert.equal(later.emits.map((e) => e.event.type), ['issue.resolved']);
});

Rules('forgets connections past max_tracked, oldest first', () => {
  const f = new EventFactory();
  const inputs = ['a', 'b', 'c', 'd'].map((id) => connection(f, id).created());
  const out = run(inputs, rulesOf({ max_tracked: 2 }));
  assert.equal(Object.keys(out.state.conns).sort(), ['c', 'd']);
});

Pure.run();
Stall.run();
Failure.run();
Setup.run();
Windowed.run();
Collapse.run();
Ops.run();
Forwarder.run();
Viewer.run();
Rules.run();
