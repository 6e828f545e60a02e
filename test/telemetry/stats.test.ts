// Delta-compressed getStats() back to whole reports, and the viewer's numbers out of them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expandStats, statsKeys, viewerSample } from '../../src/telemetry/stats.ts';
import { chromeReport, deltaCompression } from '../helpers/rtcstats.ts';

const Expand = suite('expandStats');

Expand('restores every report the client compressed against the previous one, fields left out because unchanged included', () => {
  const one = chromeReport(1);
  const two = chromeReport(2);
  const first = expandStats({}, deltaCompression({}, one))!;
  assert.equal(first.report, one);
  const second = expandStats(first.report, deltaCompression(one, two))!;
  assert.equal(second.report, two);
  assert.is(second.timestamp, two.IT01V1.timestamp);
});

Expand('drops a report absent from the next sample (it no longer exists)', () => {
  const one = chromeReport(1);
  const { CIT01_96: _gone, ...two } = chromeReport(2);
  const second = expandStats(one, deltaCompression(one, two))!;
  assert.not.ok('CIT01_96' in second.report);
});

Expand('refuses what is not a stats object', () => {
  assert.is(expandStats({}, [1, 2]), null);
  assert.is(expandStats({}, 'x'), null);
});

const Sample = suite('viewerSample');

Sample('takes inbound RTP per track (seconds as milliseconds), the selected pair and its codec', () => {
  const s = viewerSample(chromeReport(3));
  assert.is(s.inbound.length, 1);
  const t = s.inbound[0];
  assert.is(t.ssrc, 1234);
  assert.is(t.codec, 'video/VP8');
  assert.is(t.frames_decoded, 90);
  assert.is(t.freeze_count, 1);
  assert.is(t.total_freezes_duration_ms, 700);
  assert.is(t.jitter_ms, 7);
  assert.is(t.frame_width, 1280);
  assert.equal(s.candidate_pair?.rtt_ms, 2);
});

Sample('reports unknown as null, never 0', () => {
  const s = viewerSample({ a: { id: 'a', type: 'inbound-rtp', kind: 'audio', ssrc: 5 } });
  assert.is(s.inbound[0].frames_decoded, null);
  assert.is(s.inbound[0].jitter_ms, null);
  assert.is(s.candidate_pair, null);
});

const Keys = suite('statsKeys');

Keys('finds the ICE username fragment and the remote certificate fingerprint', () => {
  assert.equal(statsKeys(chromeReport(1)), { remoteUfrag: null, localUfrag: 'VIEW', remoteFingerprint: 'AA:BB:CC' });
});

Expand.run();
Sample.run();
Keys.run();
