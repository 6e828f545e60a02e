import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { reduceConnection, foldConnection, categorize, KEPT_ERRORS, KEPT_ITEMS, type ConnectionModel } from '../../src/projections/connection.ts';
import { EventFactory, specFor } from '../helpers/events.ts';

const ID = 'c1';
const given = specFor<ConnectionModel>((s, e) => reduceConnection(s, ID, e));

function setup() {
  const f = new EventFactory();
  const on = f.on(`connection:${ID}`);
  const created = () => on('connection.created', { connection_id: ID, server_id: 's1', mode: 'media', content: 'clip.webm' });
  const state = (kind: 'connection' | 'ice' | 'signaling' | 'gathering', from: string, to: string) =>
    on('connection.state_changed', { kind, from, to });
  return { f, on, created, state };
}

const Reduce = suite('reduceConnection');

Reduce('starts a new connection from connection.created with its details', () => {
  const { created } = setup();
  const e = created();
  given(e).then((m) => {
    assert.ok(m);
    assert.is(m.id, ID);
    assert.is(m.server_id, 's1');
    assert.is(m.role, 'server');
    assert.is(m.mode, 'media');
    assert.is(m.category, 'new');
    assert.is(m.created_at, new Date(e.recordedAt).toISOString());
    assert.is(m.created_position, e.position);
    assert.is(m.event_count, 1);
    assert.is(m.version, 1);
  });
});

Reduce('is connecting while the connection state is connecting', () => {
  const { created, state } = setup();
  given(created()).when(state('connection', 'new', 'connecting')).then((m) => assert.is(m?.category, 'connecting'));
});

Reduce('counts as connected only when the connection is connected and ICE is connected', () => {
  const { created, state } = setup();
  given(created(), state('connection', 'new', 'connecting'), state('ice', 'new', 'checking'))
    .when(state('connection', 'connecting', 'connected'))
    .then((m) => assert.is(m?.category, 'connecting', 'ICE still checking'));
  const s2 = setup();
  given(s2.created(), s2.state('connection', 'new', 'connected'))
    .when(s2.state('ice', 'checking', 'connected'))
    .then((m) => assert.is(m?.category, 'connected'));
});

Reduce('counts ICE completed as connected too', () => {
  const { created, state } = setup();
  given(created(), state('ice', 'checking', 'completed'))
    .when(state('connection', 'connecting', 'connected'))
    .then((m) => assert.is(m?.category, 'connected'));
});

Reduce('records connected_at and setup_ms on the first connected only', () => {
  const { f, created, state } = setup();
  const c = created();
  const first = state('connection', 'connecting', 'connected');
  f.now += 5000;
  given(c, first, state('connection', 'connected', 'disconnected'))
    .when(state('connection', 'disconnected', 'connected'))
    .then((m) => {
      assert.is(m?.connected_at, new Date(first.recordedAt).toISOString());
      assert.is(m?.setup_ms, first.recordedAt - c.recordedAt);
    });
});

Reduce('follows disconnected and failed connection states', () => {
  const { created, state } = setup();
  given(created(), state('ice', 'x', 'connected'), state('connection', 'connecting', 'connected'))
    .when(state('connection', 'connected', 'disconnected'))
    .then((m) => assert.is(m?.category, 'disconnected'));
  const s = setup();
  given(s.created()).when(s.state('connection', 'connecting', 'failed')).then((m) => assert.is(m?.category, 'failed'));
});

Reduce('tracks every state kind in its own field', () => {
  const { created, state } = setup();
  given(created())
    .when(state('signaling', 'stable', 'have-remote-offer'), state('gathering', 'new', 'complete'), state('ice', 'new', 'checking'))
    .then((m) => {
      assert.is(m?.signaling_state, 'have-remote-offer');
      assert.is(m?.ice_gathering_state, 'complete');
      assert.is(m?.ice_connection_state, 'checking');
      assert.is(m?.connection_state, 'new');
    });
});

Reduce('records the close once: a second connection.closed changes neither reason nor time', () => {
  const { on, created } = setup();
  const close = on('connection.closed', { reason: 'viewer left', initiator: 'remote' });
  given(created(), close)
    .when(on('connection.closed', { reason: 'again', initiator: 'local' }, { advanceMs: 1000 }))
    .then((m, before) => {
      assert.equal(m?.close, { reason: 'viewer left', initiator: 'remote' });
      assert.is(m?.closed_at, before?.closed_at);
      assert.is(m?.closed_at, new Date(close.recordedAt).toISOString());
      assert.is(m?.category, 'closed');
      assert.is(m?.event_count, 3, 'the event is still counted');
    });
});

Reduce('stays closed whatever state change follows the close', () => {
  const { on, created, state } = setup();
  given(created(), on('connection.closed', { reason: 'bye', initiator: 'local' }))
    .when(state('ice', 'checking', 'connected'), state('connection', 'connecting', 'connected'))
    .then((m) => assert.is(m?.category, 'closed'));
});

Reduce('gives an ended connection its outcome: clean when nothing failed before the close', () => {
  const { on, created, state } = setup();
  given(created(), state('connection', 'new', 'connected'))
    .when(on('connection.closed', { reason: 'whep_delete', initiator: 'remote' }))
    .then((m, before) => {
      assert.is(before?.outcome, null, 'no outcome while it lives');
      assert.is(m?.outcome, 'clean');
      assert.is(m?.failure, null);
    });
});

Reduce('keeps a failure as the outcome when failed -> closed happen in the same millisecond', () => {
  const { on, created, state } = setup();
  const at = Date.UTC(2026, 0, 1, 13);
  given(created(), state('connection', 'new', 'connected'))
    .when(
      on('connection.error', { code: 'CONSENT_EXPIRED', message: 'nothing received for 3000 ms', fatal: true }, { at }),
      state('connection', 'connected', 'failed'),
      on('connection.closed', { reason: 'consent_expired', initiator: 'ice' }, { at }),
    )
    .then((m) => {
      assert.is(m?.category, 'closed', 'the state shape is unchanged');
      assert.is(m?.outcome, 'failed');
      assert.equal(m?.close, { reason: 'consent_expired', initiator: 'ice' });
      assert.equal(m?.failure, { code: 'CONSENT_EXPIRED', message: 'nothing received for 3000 ms', at: new Date(at).toISOString() });
    });
});

Reduce('counts a fatal error, a failed state or a close by ICE as a failed outcome, whoever closes afterwards', () => {
  const cases: [string, (s: ReturnType<typeof setup>) => ReturnType<ReturnType<typeof setup>['on']>[], string][] = [
    ['fatal error then local close', (s) => [s.on('connection.error', { code: 'NEGOTIATION_FAILED', message: 'bad', fatal: true }), s.on('connection.closed', { reason: 'negotiation_failed', initiator: 'local' })], 'failed'],
    ['failed state then shutdown', (s) => [s.state('connection', 'connecting', 'failed'), s.on('connection.closed', { reason: 'server_shutdown', initiator: 'shutdown' })], 'failed'],
    ['close by ICE alone', (s) => [s.on('connection.closed', { reason: 'connect_timeout', initiator: 'ice' })], 'failed'],
    ['non-fatal error then remote close', (s) => [s.on('connection.error', { code: 'RTP', message: 'once', fatal: false }), s.on('connection.closed', { reason: 'bye', initiator: 'remote' })], 'clean'],
    ['shutdown', (s) => [s.on('connection.closed', { reason: 'server_shutdown', initiator: 'shutdown' })], 'shutdown'],
    ['process restart', (s) => [s.on('connection.closed', { reason: 'process_restart', initiator: 'process_restart' })], 'process_restart'],
  ];
  for (const [what, events, outcome] of cases) {
    const s = setup();
    given(s.created()).when(...events(s)).then((m) => assert.is(m?.outcome, outcome, what));
  }
});

Reduce('marks a stall and its end, counting stalls; a close ends a stall', () => {
  const { on, created } = setup();
  const stall = on('connection.stalled', { silent_ms: 1200, stall_after_ms: 1000, last_heard_ms: { stun: 1200, dtls: 1500, rtp: null, rtcp: 1200 } });
  given(created()).when(stall).then((m) => {
    assert.is(m?.stalled, true);
    assert.is(m?.stalled_since, new Date(stall.recordedAt).toISOString());
    assert.is(m?.stall_count, 1);
    assert.is(m?.category, 'new', 'a stall is not a state');
  });
  const s2 = setup();
  const first = s2.on('connection.stalled', { silent_ms: 1200, stall_after_ms: 1000, last_heard_ms: { stun: 1200, dtls: null, rtp: null, rtcp: null } });
  given(s2.created(), first)
    .when(s2.on('connection.resumed', { stalled_ms: 300, via: ['stun'] }))
    .then((m) => assert.equal([m?.stalled, m?.stalled_since, m?.stall_count], [false, null, 1]));
  const s3 = setup();
  const again = () => s3.on('connection.stalled', { silent_ms: 1000, stall_after_ms: 1000, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } });
  given(s3.created(), again())
    .when(again(), s3.on('connection.closed', { reason: 'consent_expired', initiator: 'ice' }))
    .then((m) => assert.equal([m?.stalled, m?.stalled_since, m?.stall_count, m?.outcome], [false, null, 1, 'failed'], 'a repeated stalled is one stall'));
});

Reduce('counts candidates by origin and keeps the selected pair', () => {
  const { on, created } = setup();
  given(created())
    .when(
      on('connection.candidate', { origin: 'local', candidate: 'a' }),
      on('connection.candidate', { origin: 'local', candidate: 'b' }),
      on('connection.candidate', { origin: 'remote', candidate: 'c' }),
      on('connection.candidate_pair_selected', { local: 'l', remote: 'r' }),
    )
    .then((m) => {
      assert.equal(m?.candidates, { local: 2, remote: 1 });
      assert.equal(m?.selected_pair, { local: 'l', remote: 'r' });
    });
});

Reduce('adds and removes tracks, keeping at most KEPT_ITEMS while counting all', () => {
  const { on, created } = setup();
  const adds = Array.from({ length: KEPT_ITEMS + 7 }, (_, i) => on('connection.track_added', { track_id: `t${i}`, kind: 'video', codec: 'VP8' }));
  given(created(), ...adds)
    .when(on('connection.track_removed', { track_id: 't0' }))
    .then((m) => {
      assert.is(m?.tracks.length, KEPT_ITEMS);
      assert.is(m?.track_count, KEPT_ITEMS + 7);
      assert.ok(m?.tracks[0].removed_at, 't0 marked removed');
      assert.is(m?.tracks[1].removed_at, null);
      assert.is(m?.tracks[0].codec, 'VP8');
    });
});

Reduce('opens and closes data channels by label and id, keeping at most KEPT_ITEMS', () => {
  const { on, created } = setup();
  const opens = Array.from({ length: KEPT_ITEMS + 3 }, (_, i) => on('connection.datachannel_opened', { label: 'file', channel_id: i }));
  given(created(), ...opens)
    .when(on('connection.datachannel_closed', { label: 'file', channel_id: 1, bytes_sent: 42, sha256: 'ff' }))
    .then((m) => {
      assert.is(m?.data_channels.length, KEPT_ITEMS);
      assert.is(m?.data_channel_count, KEPT_ITEMS + 3);
      assert.is(m?.data_channels[1].bytes_sent, 42);
      assert.ok(m?.data_channels[1].closed_at);
      assert.is(m?.data_channels[0].closed_at, null);
    });
});

Reduce('keeps the last KEPT_ERRORS errors and counts every one', () => {
  const { on, created } = setup();
  const errors = Array.from({ length: KEPT_ERRORS + 5 }, (_, i) => on('connection.error', { code: `E${i}`, message: 'm' }));
  given(created(), ...errors).then((m) => {
    assert.is(m?.error_count, KEPT_ERRORS + 5);
    assert.is(m?.errors.length, KEPT_ERRORS);
    assert.is(m?.errors[0].code, 'E5');
    assert.is(m?.errors.at(-1)?.code, `E${KEPT_ERRORS + 4}`);
    assert.is(m?.errors[0].fatal, false, 'fatal defaults to false');
  });
});

Reduce('keeps the latest stats sample with its time, and counts samples', () => {
  const { on, created } = setup();
  const sample = (bytes: number) =>
    on('connection.stats_sampled', {
      bytes_sent: bytes, bytes_received: 0, packets_sent: 1, packets_received: 0, packets_lost: 0,
      rtt_ms: 3, jitter_ms: null, bitrate_out_bps: 8, bitrate_in_bps: 0, interval_ms: 1000,
    });
  const last = sample(200);
  given(created(), sample(100)).when(last).then((m) => {
    assert.is(m?.stats_samples, 2);
    assert.is(m?.latest_stats?.bytes_sent, 200);
    assert.is(m?.latest_stats?.at, new Date(last.recordedAt).toISOString());
  });
});

Reduce('follows quality changes', () => {
  const { on, created } = setup();
  given(created()).when(on('connection.quality_changed', { from: 'medium', to: 'low' })).then((m) => assert.is(m?.quality, 'low'));
});

Reduce('leaves the model unchanged for events of other streams', () => {
  const { created } = setup();
  const f = new EventFactory();
  const other = f.event('task:t', { type: 'task.started', data: {} });
  const m = foldConnection(ID, [created()])!;
  assert.is(reduceConnection(m, ID, other), m);
});

Reduce('does not mutate the state it is given', () => {
  const { on, created } = setup();
  const m = foldConnection(ID, [created()])!;
  const frozen = JSON.stringify(m);
  reduceConnection(m, ID, on('connection.error', { code: 'E', message: 'x' }));
  reduceConnection(m, ID, on('connection.track_added', { track_id: 't', kind: 'audio' }));
  assert.is(JSON.stringify(m), frozen);
});

Reduce.run();

const Categorize = suite('categorize');

Categorize('maps every connection state to its category', () => {
  const c = (connection_state: string, ice_connection_state = 'new', close: ConnectionModel['close'] = null) =>
    categorize({ connection_state, ice_connection_state, close });
  assert.is(c('new'), 'new');
  assert.is(c('connecting'), 'connecting');
  assert.is(c('connected', 'checking'), 'connecting');
  assert.is(c('connected', 'connected'), 'connected');
  assert.is(c('connected', 'completed'), 'connected');
  assert.is(c('disconnected', 'connected'), 'disconnected');
  assert.is(c('failed'), 'failed');
  assert.is(c('closed'), 'closed');
  assert.is(c('connected', 'connected', { reason: 'r', initiator: 'local' }), 'closed');
});

Categorize.run();

const Fold = suite('foldConnection');

Fold('answers null for no events', () => {
  assert.is(foldConnection(ID, []), null);
});

Fold.run();
