// Per-track RTCP statistics against real werift viewers, which pins what
// src/webrtc/rtcpObserver.ts relies on in the installed werift: the DTLS
// transport's `onRtcp` (receiver reports, NACK), its `sendRtcp` carrying our
// sender reports (the RTT needs them), and the outbound-rtp retransmission
// counter. A viewer dropping 10% of what arrives (werift's debug option)
// makes real loss, NACKs and retransmissions.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MONITOR, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import type { TrackSample } from '../../src/log/catalogue.ts';

type Sample = { bitrate_out_bps: number | null; interval_ms: number | null; jitter_ms: number | null; fraction_lost: number | null; rtt_ms: number | null; tracks: TrackSample[] };

let server: WebRtcTestServer;
const viewers: Viewer[] = [];

async function samples(id: string): Promise<Sample[]> {
  const body = (await server.json(`${MONITOR}/events?stream=${encodeURIComponent(`connection:${id}`)}&type=connection.stats_sampled&limit=1000`)).body;
  return body.events.map((e: { data: Sample }) => e.data);
}

const test = suite('RtcpObserver with werift viewers');
test.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 200 });
});
test.after(async () => {
  for (const v of viewers) await v.close().catch(() => {});
  await server.stop();
});

test('fills jitter, fraction lost and an RTT that changes between samples for every track, and leaves the first bitrate unknown', async () => {
  const stream = await server.stream({ mode: 'media' });
  const viewer = await connectViewer(stream.whep_url, { expect: 'media' });
  viewers.push(viewer);
  const all = await waitFor(async () => {
    const s = await samples(viewer.connectionId);
    const withRtt = s.filter((x) => x.tracks.length === 2 && x.tracks.every((t) => t.rtt_ms !== null));
    return new Set(withRtt.map((x) => x.tracks[0].rtt_ms)).size >= 2 ? s : null;
  }, 20_000, 'two samples with different RTTs on both tracks');
  assert.equal([all[0].bitrate_out_bps, all[0].interval_ms], [null, null], 'the first sample has no previous one');
  const last = all.at(-1)!;
  assert.equal(last.tracks.map((t) => t.kind).sort(), ['audio', 'video']);
  for (const t of last.tracks) {
    assert.ok(t.receiver_reports > 0, `${t.kind}: receiver reports arrived (onRtcp)`);
    assert.type(t.jitter_ms, 'number', `${t.kind} jitter`);
    assert.type(t.fraction_lost, 'number', `${t.kind} fraction lost`);
    assert.type(t.rtt_ms, 'number', `${t.kind} RTT (our sender reports were seen leaving)`);
    assert.ok(t.packets_sent > 0 && t.bytes_sent > 0);
  }
  const video = last.tracks.find((t) => t.kind === 'video')!;
  assert.ok(video.frames_sent! > 0 && video.keyframes_sent! > 0 && video.keyframes_sent! <= video.frames_sent!);
  assert.is(last.tracks.find((t) => t.kind === 'audio')!.frames_sent, null);
  assert.type(last.jitter_ms, 'number');
  assert.type(last.fraction_lost, 'number');
  assert.type(last.rtt_ms, 'number');
});

test('counts the NACKs of a viewer that loses packets, and the retransmissions that answer them', async () => {
  const stream = await server.stream({ mode: 'media' });
  // werift 0.24 drops an inbound packet when inboundPacketLoss / 100 < Math.random(): 90 drops about 10%.
  const viewer = await connectViewer(stream.whep_url, { expect: 'media', peerConfig: { debug: { inboundPacketLoss: 90 } } });
  viewers.push(viewer);
  const video = await waitFor(async () => {
    const v = (await samples(viewer.connectionId)).map((s) => s.tracks.find((t) => t.kind === 'video')).filter((t) => t !== undefined);
    return v.find((t) => t.nack_count > 0 && t.retransmitted_packets_sent > 0 && t.receiver_reports > 0) ?? null;
  }, 20_000, 'a video sample with NACKs, retransmissions and a receiver report');
  assert.ok(video.retransmitted_bytes_sent > 0);
  // The retransmissions repair the loss, so what the reports say lost may be 0; it is known, though.
  assert.type(video.packets_lost, 'number');
  assert.type(video.fraction_lost, 'number');
  await viewer.close();
});

test.run();
