// The stats sample builder (src/webrtc/statsSample.ts), pure: a reading and
// the previous sample's memory in, the event payload out.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildStatsSample, type PeerReading, type TrackReading } from '../../src/webrtc/statsSample.ts';
import { validateEvent } from '../../src/log/catalogue.ts';
import type { RtcpTrackState } from '../../src/webrtc/rtcpLedger.ts';

const rtcp = (partial: Partial<RtcpTrackState> = {}): RtcpTrackState => ({
  reports: 3, fractionLost: 0.25, packetsLost: 7, jitter: 450, rttMs: 12.3456, rttMeasurements: 2, nack: 4, pli: 1, fir: 0, ...partial,
});

const video = (partial: Partial<TrackReading> = {}): TrackReading => ({
  ssrc: 11, kind: 'video', mid: '0', codec: 'video/VP8', clockRate: 90_000,
  packetsSent: 100, bytesSent: 80_000, retransmittedPacketsSent: 2, retransmittedBytesSent: 1600,
  frames: { frames: 30, keyframes: 1 }, rtcp: rtcp(), ...partial,
});
const audio = (partial: Partial<TrackReading> = {}): TrackReading => ({
  ssrc: 22, kind: 'audio', mid: '1', codec: 'audio/OPUS', clockRate: 48_000,
  packetsSent: 50, bytesSent: 8_000, retransmittedPacketsSent: 0, retransmittedBytesSent: 0,
  frames: null, rtcp: rtcp({ fractionLost: 0, packetsLost: 1, jitter: 96, rttMs: 10, nack: 0, pli: 0 }), ...partial,
});
const reading = (at: number, scale = 1, tracks: TrackReading[] = [video(), audio()]): PeerReading => ({
  at,
  totals: { bytesSent: 100_000 * scale, bytesReceived: 1000 * scale, packetsSent: 150 * scale, packetsReceived: 10 * scale },
  tracks: tracks.map((t) => ({ ...t, bytesSent: t.bytesSent * scale, packetsSent: t.packetsSent * scale })),
  channels: [],
});

const Build = suite('buildStatsSample');

Build('leaves what a first sample cannot know as null, never 0: rates and the interval', () => {
  const { data } = buildStatsSample(reading(1000), null);
  assert.equal([data.bitrate_out_bps, data.bitrate_in_bps, data.interval_ms], [null, null, null]);
  assert.equal(data.tracks!.map((t) => t.bitrate_bps), [null, null]);
  assert.is(data.bytes_sent, 100_000);
  assert.ok(validateEvent({ type: 'connection.stats_sampled', data }).ok, 'the catalogue takes it');
});

Build('turns counters into rates with the previous sample, per connection and per track', () => {
  const first = buildStatsSample(reading(1000), null);
  const { data } = buildStatsSample(reading(1500, 2), first.memory);
  assert.is(data.interval_ms, 500);
  assert.is(data.bitrate_out_bps, 1_600_000, '100,000 bytes in 0.5 s');
  assert.is(data.bitrate_in_bps, 16_000);
  assert.equal(data.tracks!.map((t) => t.bitrate_bps), [1_280_000, 128_000]);
});

Build('reads loss, jitter (in ms, by the codec clock) and RTT per track from the RTCP ledger', () => {
  const { data } = buildStatsSample(reading(1000), null);
  const [v, a] = data.tracks!;
  assert.equal([v.fraction_lost, v.packets_lost, v.jitter_ms, v.rtt_ms, v.receiver_reports], [0.25, 7, 5, 12.346, 3]);
  assert.equal([a.fraction_lost, a.packets_lost, a.jitter_ms, a.rtt_ms], [0, 1, 2, 10]);
  assert.equal([v.nack_count, v.pli_count, v.fir_count, v.retransmitted_packets_sent, v.retransmitted_bytes_sent], [4, 1, 0, 2, 1600]);
  assert.equal([v.frames_sent, v.keyframes_sent, a.frames_sent, a.keyframes_sent], [30, 1, null, null]);
  // The connection: worst loss and jitter, mean RTT, sums of counts.
  assert.equal(
    [data.fraction_lost, data.packets_lost, data.jitter_ms, data.rtt_ms, data.nack_count, data.pli_count, data.retransmitted_packets_sent, data.frames_sent, data.keyframes_sent],
    [0.25, 8, 5, 11.173, 4, 1, 2, 30, 1],
  );
});

Build('keeps a track without receiver reports unknown, not zero loss', () => {
  const { data } = buildStatsSample(reading(1000, 1, [video({ rtcp: rtcp({ reports: 0, fractionLost: null, packetsLost: null, jitter: null, rttMs: null, nack: 0, pli: 0 }) })]), null);
  const [v] = data.tracks!;
  assert.equal([v.fraction_lost, v.packets_lost, v.jitter_ms, v.rtt_ms, v.receiver_reports], [null, null, null, null, 0]);
  assert.equal([data.fraction_lost, data.packets_lost, data.jitter_ms, data.rtt_ms], [null, null, null, null]);
  const noClock = buildStatsSample(reading(1000, 1, [video({ clockRate: null })]), null).data.tracks![0];
  assert.is(noClock.jitter_ms, null, 'jitter needs the clock rate');
});

Build('has no RTP figures at all for a data-only connection, and lists its channels', () => {
  const r: PeerReading = {
    ...reading(1000, 1, []),
    channels: [{ label: 'data', channelId: 1, state: 'open', messagesSent: 9, bytesSent: 9000, messagesReceived: 1, bytesReceived: 10, bufferedAmount: 65_536 }],
  };
  const { data } = buildStatsSample(r, null);
  assert.equal(data.tracks, []);
  assert.equal([data.packets_lost, data.nack_count, data.retransmitted_packets_sent, data.frames_sent, data.rtt_ms], [null, null, null, null, null]);
  assert.equal(data.data_channels, [
    { label: 'data', channel_id: 1, state: 'open', messages_sent: 9, bytes_sent: 9000, messages_received: 1, bytes_received: 10, buffered_amount: 65_536 },
  ]);
});

Build('never reports a negative rate when a counter steps back', () => {
  const first = buildStatsSample(reading(1000, 2), null);
  const { data } = buildStatsSample(reading(2000, 1), first.memory);
  assert.equal([data.bitrate_out_bps, data.tracks![0].bitrate_bps], [0, 0]);
});

Build.run();
