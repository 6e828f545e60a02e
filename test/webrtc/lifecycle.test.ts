// A viewer receives the sample clip's RTP and a data transfer verifies its
// SHA-256; the monitor and the `events` table show each connection's whole
// lifecycle, in order, from created to closed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_DIR, MONITOR, VIDEO_HZ, WEBRTC, framesWithin, mediaTicks, startWebRtcServer, videoFrames, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { dbOf } from '../helpers/db.ts';

let server: WebRtcTestServer;
const typesOf = (id: string) =>
  dbOf(server.services).prepare('SELECT type, data FROM events WHERE stream = ? ORDER BY version').all(`connection:${id}`) as { type: string; data: string }[];

const media = suite('media stream');
media.before(async () => {
  server = await startWebRtcServer();
});

media('a viewer receives the clip as RTP video frames and audio, and the log holds the lifecycle', async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const viewer = await server.viewer(stream.whep_url, 'media');
  await waitFor(() => viewer.frames >= 30, 15_000, '30 video frames');
  const stats = await viewer.stats();
  assert.ok(stats.rtp.some((r) => r.kind === 'video' && r.packets > 0), 'video RTP');
  assert.ok(stats.rtp.some((r) => r.kind === 'audio' && r.packets > 0), 'audio RTP');
  assert.is(stats.packets_lost, 0);
  await waitFor(async () => (await server.json(`${MONITOR}/connections/${viewer.connectionId}`)).body.connection.latest_stats?.frames_sent >= 30, 15_000, 'server samples');
  await viewer.close();

  const events = typesOf(viewer.connectionId);
  const types = events.map((e) => e.type);
  assert.is(types[0], 'connection.created');
  assert.is(types[types.length - 1], 'connection.closed');
  assert.is(types.filter((t) => t === 'connection.closed').length, 1, 'closed exactly once');
  for (const t of ['connection.candidate', 'connection.candidate_pair_selected', 'connection.track_added', 'connection.stats_sampled']) {
    assert.ok(types.includes(t), t);
  }
  const states = events.filter((e) => e.type === 'connection.state_changed').map((e) => JSON.parse(e.data));
  const conn = states.filter((s) => s.kind === 'connection').map((s) => s.to);
  assert.equal(conn, ['connecting', 'connected', 'closed']);
  assert.ok(states.some((s) => s.kind === 'gathering' && s.to === 'complete'));
  assert.ok(states.some((s) => s.kind === 'signaling' && s.to === 'stable'));
  const tracks = events.filter((e) => e.type === 'connection.track_added').map((e) => JSON.parse(e.data));
  assert.equal(tracks.map((t) => t.codec).sort(), ['audio/OPUS', 'video/VP8']);

  const monitor = await server.json(`${MONITOR}/connections/${viewer.connectionId}`);
  const c = monitor.body.connection;
  assert.is(c.category, 'closed');
  assert.equal(c.close, { reason: 'whep_delete', initiator: 'remote' });
  assert.ok(c.setup_ms > 0 && c.stats_samples > 0 && c.track_count === 2);
  assert.ok(c.selected_pair.local && c.selected_pair.remote);
});

// Frames are counted per second of media time (RTP timestamps), not per
// second of wall clock: a loaded machine delivers late, never fewer frames of
// media. (At a loop restart of a keyframes-only stream the next keyframe
// follows one frame after the last one sent: mediaSource.ts.)
media('quality low sends video keyframes only (one frame a second), and auto all 30', async () => {
  const stream = await server.stream({ content: 'sample.webm', quality: 'low' });
  const viewer = await server.viewer(stream.whep_url, 'media');
  const low = videoFrames(viewer);
  const from = (await low.until((ts) => ts.length > 0 && ts, 15_000, 'a first keyframe'))[0];
  await low.until((ts) => mediaTicks(from, ts.at(-1)!) >= 2 * VIDEO_HZ && ts, 15_000, 'two seconds of media at low');
  low.stop();
  const lowFrames = framesWithin(low.stamps, from, 2 * VIDEO_HZ);
  assert.ok(lowFrames >= 1 && lowFrames <= 3, `low: ${lowFrames} frames in 2 s of media`);

  const auto = videoFrames(viewer);
  const r = await server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: viewer.connectionId, quality: 'auto' } });
  assert.is(r.status, 200);
  // All frames again from the next keyframe (up to one GOP): the first two frames less than half a second of media apart.
  const dense = await auto.until((ts) => {
    const i = ts.findIndex((t, k) => k > 0 && mediaTicks(ts[k - 1], t) < VIDEO_HZ / 2);
    return i > 0 && { at: ts[i] };
  }, 15_000, 'frames closer than keyframes');
  await auto.until((ts) => mediaTicks(dense.at, ts.at(-1)!) >= VIDEO_HZ && ts, 15_000, 'a second of media at auto');
  auto.stop();
  const autoFrames = framesWithin(auto.stamps, dense.at, VIDEO_HZ);
  assert.ok(autoFrames >= 25, `auto: ${autoFrames} frames in 1 s of media`);
  await viewer.close();
});
media.run();

const data = suite('data stream');
data('a data channel carries the file and the viewer verifies its SHA-256; the close records the bytes and hash', async () => {
  const expected = createHash('sha256').update(readFileSync(join(CONTENT_DIR, 'sample.webm'))).digest('hex');
  const stream = await server.stream({ content: 'sample.webm', mode: 'data', quality: 'auto' });
  const viewer = await server.viewer(stream.whep_url, 'data');
  await waitFor(() => viewer.sha256Verified, 5000, 'a verified pass');
  assert.is(viewer.lastSha256, expected);
  assert.is(viewer.sha256Mismatches, 0);
  await viewer.close();
  const events = typesOf(viewer.connectionId);
  const types = events.map((e) => e.type);
  assert.ok(types.includes('connection.datachannel_opened'));
  const closed = JSON.parse(events.find((e) => e.type === 'connection.datachannel_closed')!.data);
  assert.is(closed.sha256, expected);
  assert.ok(closed.bytes_sent >= readFileSync(join(CONTENT_DIR, 'sample.webm')).length);
  assert.is(types[types.length - 1], 'connection.closed');
});
data.after(() => server.stop());
data.run();
