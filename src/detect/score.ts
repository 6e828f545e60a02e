// The quality score of one stats sample, 0-100 with the reasons it is not
// 100. Pure: the sampler (src/webrtc) stores it in `connection.stats_sampled`,
// so the connection read model, the SQL view `quality_samples` and a rebuild
// all read the same number.
//
// Audio: the E-model of ITU-T G.107 reduced to the three things the RTCP
// receiver reports tell us (RTT, jitter, loss), the simplification in common
// use since Cole & Rosenbluth (2001):
//   one-way delay d = RTT/2 + 2 x jitter (a jitter buffer) + 10 ms (codec)
//   Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)            (G.107 delay impairment)
//   Ie,eff = Ie + (95 - Ie) x Ppl / (Ppl + Bpl)              (G.107 eq. 7-29, random loss)
//   R = 93.2 - Id - Ie,eff;  MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R)
// with Ie = 0 and Bpl = 25.1 (G.113 Appendix I values for a codec with packet
// loss concealment; Opus has no ITU-T entry, so these are an approximation).
// The audio score is R clamped to 0..100.
//
// Video: from what the server knows of the stream it sends: the frame rate
// it achieved against a target, and the loss the viewer reports on the video
// track. Freezes and resolution are the viewer's to report (the both-ends
// issue); a sample without them scores on the rest and says so in no reason.
import type { QualityScore, TrackSample } from '../log/catalogue.ts';

export type ScoreOptions = {
  /** The frame rate that scores full marks. */
  targetFps: number;
};
export const DEFAULT_SCORE_OPTIONS: ScoreOptions = { targetFps: 30 };

export type ScoreInput = {
  tracks: Pick<TrackSample, 'kind' | 'rtt_ms' | 'jitter_ms' | 'fraction_lost'>[];
  /** Connection-level RTT / jitter / loss, used when no audio track carries its own reports. */
  rtt_ms: number | null;
  jitter_ms: number | null;
  fraction_lost: number | null;
  /** Video frames per second sent over the last interval; null when unknown. */
  video_fps: number | null;
  /** Frozen (or resolution) information from the viewer, when it reports it. */
  video_freezes?: number | null;
};

const round1 = (v: number) => Math.round(v * 10) / 10;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** G.107 simplified: R and MOS from RTT (ms), jitter (ms) and loss (0..1). */
export function eModel(rttMs: number, jitterMs: number, loss: number): { r: number; mos: number; id: number; ie: number } {
  const d = rttMs / 2 + 2 * jitterMs + 10;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const ppl = clamp(loss, 0, 1) * 100;
  const ie = 0 + (95 - 0) * (ppl / (ppl + 25.1));
  const r = clamp(93.2 - id - ie, 0, 100);
  const mos = r <= 0 ? 1 : r >= 100 ? 4.5 : 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
  return { r: round1(r), mos: Math.round(mos * 100) / 100, id, ie };
}

export function scoreSample(input: ScoreInput, options: ScoreOptions = DEFAULT_SCORE_OPTIONS): QualityScore {
  const reasons: string[] = [];
  const audioTrack = input.tracks.find((t) => t.kind === 'audio' && (t.rtt_ms !== null || t.fraction_lost !== null));
  const rtt = audioTrack?.rtt_ms ?? input.rtt_ms;
  const jitter = audioTrack?.jitter_ms ?? input.jitter_ms;
  const loss = audioTrack?.fraction_lost ?? input.fraction_lost;
  let audio: QualityScore['audio'] = null;
  const hasAudio = input.tracks.some((t) => t.kind === 'audio');
  if (hasAudio && (rtt !== null || loss !== null)) {
    // A missing part counts as perfect: a report without an RTT still tells the loss.
    const e = eModel(rtt ?? 0, jitter ?? 0, loss ?? 0);
    audio = { r: e.r, mos: e.mos, score: Math.round(e.r) };
    if (e.ie >= 5) reasons.push(`audio loss ${round1((loss ?? 0) * 100)}% costs ${Math.round(e.ie)} R`);
    if (e.id >= 5) reasons.push(`audio delay (RTT ${Math.round(rtt ?? 0)} ms, jitter ${Math.round(jitter ?? 0)} ms) costs ${Math.round(e.id)} R`);
  }

  let video: QualityScore['video'] = null;
  const videoTrack = input.tracks.find((t) => t.kind === 'video');
  if (videoTrack) {
    let score = 100;
    if (input.video_fps !== null) {
      const fpsCost = 50 * (1 - clamp(input.video_fps / options.targetFps, 0, 1));
      if (fpsCost >= 5) reasons.push(`video ${round1(input.video_fps)} fps of ${options.targetFps} costs ${Math.round(fpsCost)}`);
      score -= fpsCost;
    }
    const vloss = videoTrack.fraction_lost;
    if (vloss !== null) {
      const lossCost = Math.min(50, vloss * 100 * 3);
      if (lossCost >= 5) reasons.push(`video loss ${round1(vloss * 100)}% costs ${Math.round(lossCost)}`);
      score -= lossCost;
    }
    if (input.video_freezes) {
      const freezeCost = Math.min(40, input.video_freezes * 10);
      reasons.push(`${input.video_freezes} video freezes cost ${freezeCost}`);
      score -= freezeCost;
    }
    const known = input.video_fps !== null || vloss !== null;
    video = known ? { score: Math.round(clamp(score, 0, 100)), fps: input.video_fps === null ? null : round1(input.video_fps) } : null;
  }

  const parts = [audio?.score, video?.score].filter((s): s is number => s !== undefined && s !== null);
  return { score: parts.length ? Math.min(...parts) : null, audio, video, reasons: reasons.slice(0, 10) };
}
