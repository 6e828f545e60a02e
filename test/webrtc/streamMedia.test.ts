// One source per stream: every viewer of a media stream is fed by the
// stream's one file player (GET stats/resources counts the players), each
// viewer with its own sequence numbers, timestamps and quality. Frames are
// counted per second of media time (RTP timestamps), never per second of
// wall clock, and keyframes are read from the VP8 payload the viewer got.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MONITOR, VIDEO_HZ, WEBRTC, framesWithin, mediaTicks, startWebRtcServer, videoFrames, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import type { Viewer } from '../../src/webrtc/viewer.ts';

let server: WebRtcTestServer;
const open: Viewer[] = [];

type Players = { media_players: number; media_players_opened: number; media_players_stopped: number };
async function players(): Promise<Players> {
  const { media_players, media_players_opened, media_players_stopped } = (await server.json(`${WEBRTC}/stats/resources`)).body.webrtc;
  return { media_players, media_players_opened, media_players_stopped };
}

async function viewer(whepUrl: string): Promise<Viewer> {
  const v = await server.viewer(whepUrl, 'media');
  open.push(v);
  return v;
}

/** Waits for `seconds` of media from the next frame on; returns the frames in that span and whether the first was a keyframe. */
async function playSeconds(v: Viewer, seconds: number, what: string) {
  const frames = videoFrames(v);
  try {
    const first = (await frames.until((ts) => ts.length > 0 && ts, 15_000, `a first frame (${what})`))[0];
    await frames.until((ts) => mediaTicks(first, ts.at(-1)!) >= seconds * VIDEO_HZ && ts, 20_000, `${seconds} s of media (${what})`);
    return { first, count: framesWithin(frames.stamps, first, seconds * VIDEO_HZ), firstIsKeyframe: frames.keyframes.has(first), keyframes: frames.keyframes, stamps: frames.stamps };
  } finally {
    frames.stop();
  }
}

const fanOut = suite('one file player per stream, fanned out to every viewer');
fanOut.before(async () => {
  server = await startWebRtcServer();
});
fanOut.after.each(async () => {
  await Promise.all(open.splice(0).map((v) => v.close().catch(() => v.leave())));
});

fanOut('two viewers on one stream both play 30 frames per second of media from one player', async () => {
  const before = await players();
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const [a, b] = [await viewer(stream.whep_url), await viewer(stream.whep_url)];
  const [playedA, playedB] = await Promise.all([playSeconds(a, 1, 'first viewer'), playSeconds(b, 1, 'second viewer')]);
  assert.ok(playedA.count >= 25, `first viewer: ${playedA.count} frames in 1 s of media`);
  assert.ok(playedB.count >= 25, `second viewer: ${playedB.count} frames in 1 s of media`);
  const now = await players();
  assert.is(now.media_players_opened - before.media_players_opened, 1, 'one player opened for two viewers');
  assert.is(now.media_players - before.media_players, 1, 'and it is playing');
  // Each viewer's sender has its own SSRC and numbering: neither lost a packet.
  for (const v of [a, b]) assert.is((await v.stats()).packets_lost, 0);
});

fanOut('a viewer joining a playing stream starts at a keyframe', async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const first = await viewer(stream.whep_url);
  // The first viewer is well into the clip (past its first keyframe) before the second joins.
  const early = videoFrames(first);
  await early.until((ts) => ts.length >= 10 && ts, 15_000, 'ten frames on the first viewer');
  early.stop();
  const late = await viewer(stream.whep_url);
  const played = await playSeconds(late, 1, 'late joiner');
  assert.ok(played.firstIsKeyframe, 'the late joiner\'s first frame is a keyframe');
  assert.ok(played.count >= 25, `late joiner: ${played.count} frames in 1 s of media`);
});

fanOut('one viewer leaving leaves the other playing on the same player', async () => {
  const before = await players();
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const [a, b] = [await viewer(stream.whep_url), await viewer(stream.whep_url)];
  await playSeconds(b, 0.2, 'before the other leaves');
  await a.close();
  const closed = await server.json(`${MONITOR}/connections/${a.connectionId}`);
  assert.is(closed.body.connection.category, 'closed');
  const played = await playSeconds(b, 1, 'after the other left');
  assert.ok(played.count >= 25, `remaining viewer: ${played.count} frames in 1 s of media`);
  const now = await players();
  assert.is(now.media_players_opened - before.media_players_opened, 1, 'the player was not replaced');
  assert.is(now.media_players_stopped - before.media_players_stopped, 0, 'nor stopped');
});

fanOut('stopping the stream ends both viewers\' connections and stops its player once', async () => {
  const before = await players();
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const [a, b] = [await viewer(stream.whep_url), await viewer(stream.whep_url)];
  await Promise.all([playSeconds(a, 0.2, 'first viewer'), playSeconds(b, 0.2, 'second viewer')]);
  const r = await server.json(`${WEBRTC}/stream/stop/${stream.server_id}`, { method: 'POST' });
  assert.is(r.status, 200);
  assert.equal(new Set(r.body.connection_ids), new Set([a.connectionId, b.connectionId]));
  for (const v of [a, b]) {
    const c = (await server.json(`${MONITOR}/connections/${v.connectionId}`)).body.connection;
    assert.is(c.category, 'closed');
    assert.equal(c.close, { reason: 'stream_stopped', initiator: 'local' });
  }
  const now = await players();
  assert.is(now.media_players_opened - before.media_players_opened, 1);
  assert.is(now.media_players_stopped - before.media_players_stopped, 1, 'stopped exactly once');
  assert.is(now.media_players, before.media_players, 'none left playing');
});

fanOut('quality low applies to one viewer: it gets keyframes only while the other gets every frame', async () => {
  const before = await players();
  // Both start at low; one is raised, so the other never had a delta frame to receive.
  const stream = await server.stream({ content: 'sample.webm', mode: 'media', quality: 'low' });
  const [low, full] = [await viewer(stream.whep_url), await viewer(stream.whep_url)];
  const r = await server.json(`${WEBRTC}/connections/quality`, { method: 'POST', json: { connection_id: full.connectionId, quality: 'medium' } });
  assert.is(r.status, 200);
  const fullFrames = videoFrames(full);
  try {
    const playedLow = await playSeconds(low, 2, 'low');
    // The clip has a keyframe every 30 frames: 2 s of media hold 2 (3 at a loop restart).
    assert.ok(playedLow.count >= 1 && playedLow.count <= 3, `low: ${playedLow.count} frames in 2 s of media`);
    assert.ok(playedLow.stamps.every((ts) => playedLow.keyframes.has(ts)), 'low: every frame is a keyframe');
    // Every frame again from the next keyframe on: two frames less than half a second of media apart.
    const dense = await fullFrames.until((ts) => {
      const i = ts.findIndex((t, k) => k > 0 && mediaTicks(ts[k - 1], t) < VIDEO_HZ / 2);
      return i > 0 && { at: ts[i - 1] };
    }, 15_000, 'frames closer than keyframes on the medium viewer');
    await fullFrames.until((ts) => mediaTicks(dense.at, ts.at(-1)!) >= VIDEO_HZ && ts, 15_000, 'a second of media at medium');
    const count = framesWithin(fullFrames.stamps, dense.at, VIDEO_HZ);
    assert.ok(count >= 25, `medium: ${count} frames in 1 s of media`);
  } finally {
    fullFrames.stop();
  }
  assert.is((await players()).media_players_opened - before.media_players_opened, 1, 'one player serves both qualities');
});

fanOut('the player stops when the last viewer leaves, and a new viewer gets a new one', async () => {
  const before = await players();
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const a = await viewer(stream.whep_url);
  await playSeconds(a, 0.2, 'first viewer');
  await a.close();
  const idle = await players();
  assert.is(idle.media_players_stopped - before.media_players_stopped, 1, 'nobody watching: the player stopped');
  assert.is(idle.media_players, before.media_players);
  const b = await viewer(stream.whep_url);
  const played = await playSeconds(b, 1, 'next viewer');
  assert.ok(played.firstIsKeyframe && played.count >= 25, `next viewer: ${played.count} frames, first a keyframe: ${played.firstIsKeyframe}`);
  assert.is((await players()).media_players_opened - before.media_players_opened, 2);
});
fanOut.after(() => server.stop());
fanOut.run();
