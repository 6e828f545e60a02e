import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyDerived, foldEvents, type ModelKind, type Models } from '../../src/projections/apply.ts';
import { streamsModel } from '../../src/projections/models/streams.ts';
import { reduceStream, type StreamModel } from '../../src/projections/stream.ts';
import { emptySummary } from '../../src/projections/summary.ts';
import type { StoredEvent } from '../../src/log/catalogue.ts';
import { EventFactory } from '../helpers/events.ts';

/** Folds events the way the inline projector does: entity changes first, then the streams they concern. */
function given(...events: StoredEvent[]) {
  const known: { [K in ModelKind]: Map<string, Models[K] | null> } = { connection: new Map(), operation: new Map(), task: new Map() };
  const models = {
    get: <K extends ModelKind>(kind: K, id: string) => (known[kind] as Map<string, Models[K] | null>).get(id) ?? null,
    put: <K extends ModelKind>(kind: K, id: string, m: Models[K] | null) => void (known[kind] as Map<string, Models[K] | null>).set(id, m),
  };
  const streams = new Map<string, StreamModel>();
  const access = { get: (id: string) => streams.get(id) ?? null, put: (id: string, m: StreamModel) => void streams.set(id, m) };
  foldEvents(models, emptySummary(), events, (event, changes) => applyDerived(streamsModel, access, event, changes));
  return streams;
}

const f = new EventFactory();
const server = f.on('server:s1');
const viewer = (id: string, serverId = 's1') => {
  const on = f.on(`connection:${id}`);
  return {
    created: () => on('connection.created', { connection_id: id, server_id: serverId, mode: 'media', content: 'clip.webm' }),
    connected: () => [
      on('connection.state_changed', { kind: 'ice', from: 'checking', to: 'connected' }),
      on('connection.state_changed', { kind: 'connection', from: 'connecting', to: 'connected' }),
    ],
    stalled: () => on('connection.stalled', { silent_ms: 600, stall_after_ms: 500, last_heard_ms: { stun: 600, dtls: null, rtp: null, rtcp: 700 } }),
    sample: (bytes: number) =>
      on('connection.stats_sampled', {
        bytes_sent: bytes, bytes_received: 10, packets_sent: bytes / 100, packets_received: 1, packets_lost: 0,
        rtt_ms: 1, jitter_ms: 0.1, bitrate_out_bps: 8000, bitrate_in_bps: 80, interval_ms: 1000,
      }),
    failed: () => on('connection.error', { code: 'ICE_FAILED', message: 'no route', fatal: true }),
    closed: (initiator: 'local' | 'remote' | 'ice' = 'remote') => on('connection.closed', { reason: 'bye', initiator }),
  };
};

const Reduce = suite('reduceStream (with its viewers\' connection changes)');

Reduce('a started stream is live with its content, mode and quality, and no viewers yet', () => {
  const created = server('server.created', { server_id: 's1', content: 'clip.webm', mode: 'media', quality: 'high' });
  const s = given(created).get('s1')!;
  assert.equal(
    { state: s.state, content: s.content, mode: s.mode, quality: s.quality, started_at: s.started_at, stopped_at: s.stopped_at, viewers: s.viewers },
    { state: 'live', content: 'clip.webm', mode: 'media', quality: 'high', started_at: new Date(created.recordedAt).toISOString(), stopped_at: null, viewers: { now: 0, connected: 0, stalled: 0, total: 0 } },
  );
  assert.is(s.created_position, created.position);
});

Reduce('counts viewers now and ever, connected and stalled now, and how each ended', () => {
  const a = viewer('a');
  const b = viewer('b');
  const c = viewer('c');
  const start = server('server.created', { server_id: 's1', content: 'clip.webm', mode: 'media', quality: 'low' });
  const events = [start, a.created(), ...a.connected(), b.created(), ...b.connected(), c.created(), b.stalled()];
  let s = given(...events).get('s1')!;
  assert.equal(s.viewers, { now: 3, connected: 2, stalled: 1, total: 3 });
  events.push(a.closed(), c.failed(), c.closed('ice'));
  s = given(...events).get('s1')!;
  assert.equal(s.viewers, { now: 1, connected: 1, stalled: 1, total: 3 });
  assert.equal(s.viewer_outcomes, { clean: 1, failed: 1, shutdown: 0, process_restart: 0 });
  const stop = server('server.stopped', { server_id: 's1', reason: 'stopped' });
  events.push(b.closed('local'), stop);
  s = given(...events).get('s1')!;
  assert.equal([s.state, s.stop_reason, s.stopped_at, s.viewers.now, s.viewers.stalled], ['stopped', 'stopped', new Date(stop.recordedAt).toISOString(), 0, 0]);
  assert.is(s.viewer_outcomes.clean, 2);
  assert.is(s.last_position, stop.position);
});

Reduce('sums its viewers\' traffic from their cumulative samples, once each', () => {
  const a = viewer('a');
  const b = viewer('b');
  const s = given(
    server('server.created', { server_id: 's1', content: 'x', mode: 'media', quality: 'low' }),
    a.created(), b.created(), a.sample(1000), b.sample(500), a.sample(3000), a.closed(),
  ).get('s1')!;
  assert.is(s.traffic_total.bytes_sent, 3500);
  assert.is(s.traffic_total.packets_sent, 35);
});

Reduce('keeps streams apart, and leaves a stream alone for events of other streams', () => {
  const a = viewer('a', 's1');
  const z = viewer('z', 's2');
  const streams = given(server('server.created', { server_id: 's1', content: 'x', mode: 'media', quality: 'low' }), a.created(), z.created());
  assert.is(streams.get('s1')!.viewers.total, 1);
  // A viewer of a stream whose start is not in the log (pruned): the stream exists, its state unknown.
  assert.equal([streams.get('s2')!.state, streams.get('s2')!.content, streams.get('s2')!.viewers.total], ['unknown', null, 1]);
  const before = streams.get('s1')!;
  assert.is(reduceStream(before, 's1', f.event('operation:o', { type: 'operation.started', data: { operation_id: 'o', type: 'x' } })), before);
});

Reduce.run();
