// Bounds on a viewer's SDP offer, checked before werift sees it. werift
// parses and applies an offer on the event loop: 12,000 candidate lines
// (729 KB) held it for 56 s, 2,000 media sections (1 MB) for 5 s. Measured
// on werift 0.24 (two cores): each candidate costs ~0.3 ms and more as they
// grow (1,000 took 310 ms); 1,000 `a=rid` lines ~40 ms (simulcast needs a
// few per section); 1,000 `a=ssrc` lines ~20 ms; a plain offer ~10 ms. A
// browser's WHEP offer has two or three sections, a handful of candidates
// and under 250 lines; these limits leave room for that many times over and
// keep the worst allowed offer to tens of milliseconds (bench figure 9
// measures it).
import { AppError } from '../errors.ts';

export const MAX_OFFER_BYTES = 64 * 1024;
export const MAX_OFFER_LINES = 1000;
export const MAX_OFFER_MEDIA_SECTIONS = 8;
export const MAX_OFFER_CANDIDATES = 50;
export const MAX_OFFER_RIDS = 16;

/** Throws 413 (too large) or 400 (too many lines, sections, candidates or rids); one pass, no regex over the whole text. */
export function checkOfferLimits(sdp: string): void {
  const bytes = Buffer.byteLength(sdp, 'utf8');
  if (bytes > MAX_OFFER_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `the SDP offer is ${bytes} bytes; at most ${MAX_OFFER_BYTES} are accepted`);
  }
  let lines = 0;
  let sections = 0;
  let candidates = 0;
  let rids = 0;
  for (let at = 0; at < sdp.length; ) {
    const end = sdp.indexOf('\n', at);
    const next = end < 0 ? sdp.length : end + 1;
    lines++;
    if (sdp.startsWith('m=', at)) sections++;
    else if (sdp.startsWith('a=candidate:', at)) candidates++;
    else if (sdp.startsWith('a=rid:', at)) rids++;
    at = next;
  }
  const problems: string[] = [];
  if (lines > MAX_OFFER_LINES) problems.push(`${lines} lines (at most ${MAX_OFFER_LINES})`);
  if (sections > MAX_OFFER_MEDIA_SECTIONS) problems.push(`${sections} media sections (at most ${MAX_OFFER_MEDIA_SECTIONS})`);
  if (candidates > MAX_OFFER_CANDIDATES) problems.push(`${candidates} candidates (at most ${MAX_OFFER_CANDIDATES})`);
  if (rids > MAX_OFFER_RIDS) problems.push(`${rids} simulcast rids (at most ${MAX_OFFER_RIDS})`);
  if (problems.length) throw new AppError('BAD_REQUEST', `the SDP offer is too large to answer: ${problems.join(', ')}`);
}
