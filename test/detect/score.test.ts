import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eModel, scoreSample } from '../../src/detect/score.ts';

const EModel = suite('eModel');

EModel('a clean path rates R about 93 (MOS about 4.4), the G.107 default', () => {
  const e = eModel(0, 0, 0);
  assert.ok(e.r > 92.5 && e.r <= 93.2, String(e.r));
  assert.ok(e.mos > 4.3 && e.mos <= 4.5, String(e.mos));
});

EModel('loss costs more than delay at the usual magnitudes, and both lower R', () => {
  const clean = eModel(50, 5, 0).r;
  const lossy = eModel(50, 5, 0.05).r;
  const slow = eModel(600, 5, 0).r;
  assert.ok(lossy < clean - 10, `5% loss: ${lossy} vs ${clean}`);
  assert.ok(slow < clean - 10, `600 ms RTT: ${slow} vs ${clean}`);
  assert.ok(eModel(50, 5, 0.5).mos < 2, 'half the packets lost is poor');
});

const Score = suite('scoreSample');

const track = (kind: string, loss: number | null, rtt: number | null = 20) => ({ kind, rtt_ms: rtt, jitter_ms: 2, fraction_lost: loss });

Score('an unimpaired audio and video connection scores above 90 with no reasons', () => {
  const s = scoreSample({ tracks: [track('audio', 0), track('video', 0)], rtt_ms: 20, jitter_ms: 2, fraction_lost: 0, video_fps: 30 });
  assert.ok(s.score !== null && s.score > 90, JSON.stringify(s));
  assert.equal(s.reasons, []);
});

Score('loss lowers the score and says why', () => {
  const s = scoreSample({ tracks: [track('audio', 0.1), track('video', 0.1)], rtt_ms: 20, jitter_ms: 2, fraction_lost: 0.1, video_fps: 30 });
  assert.ok(s.score !== null && s.score < 70, JSON.stringify(s));
  assert.ok(s.reasons.some((r) => r.includes('audio loss 10%')));
  assert.ok(s.reasons.some((r) => r.includes('video loss 10%')));
});

Score('a low frame rate lowers the video score', () => {
  const s = scoreSample({ tracks: [track('video', 0)], rtt_ms: 20, jitter_ms: 2, fraction_lost: 0, video_fps: 10 });
  assert.ok(s.video && s.video.score < 70);
  assert.ok(s.reasons.some((r) => r.includes('10 fps')));
});

Score('no receiver report and no frame rate is unknown (null), never a perfect 100', () => {
  const s = scoreSample({ tracks: [track('audio', null, null), track('video', null, null)], rtt_ms: null, jitter_ms: null, fraction_lost: null, video_fps: null });
  assert.is(s.score, null);
  assert.is(s.audio, null);
  assert.is(s.video, null);
});

EModel.run();
Score.run();
