import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkOfferLimits, MAX_OFFER_BYTES, MAX_OFFER_CANDIDATES, MAX_OFFER_LINES, MAX_OFFER_MEDIA_SECTIONS, MAX_OFFER_RIDS } from '../../src/webrtc/offerLimits.ts';
import { maximalOffer } from '../../bench/loop.ts';
import { isAppError } from '../../src/errors.ts';
import { offerSdp } from '../helpers/webrtc.ts';

const refusal = (sdp: string) => {
  try {
    checkOfferLimits(sdp);
    return null;
  } catch (err) {
    assert.ok(isAppError(err));
    return [err.status, err.code, err.message] as const;
  }
};

/** A real offer with `lines` added right after its first media section's first line. */
const grow = (sdp: string, lines: string[]) => {
  const at = sdp.indexOf('\r\n', sdp.indexOf('\r\nm=') + 2);
  return `${sdp.slice(0, at)}\r\n${lines.join('\r\n')}${sdp.slice(at)}`;
};

const Limits = suite('checkOfferLimits');
let real = '';
Limits.before(async () => {
  real = await offerSdp('media');
});

Limits("accepts a real viewer's offer", () => {
  assert.is(refusal(real), null);
});

Limits('refuses more than 64 KiB with 413', () => {
  const big = grow(real, [`a=x-padding:${'x'.repeat(MAX_OFFER_BYTES)}`]);
  const r = refusal(big)!;
  assert.equal([r[0], r[1]], [413, 'PAYLOAD_TOO_LARGE']);
});

Limits('accepts the largest offer the bench answers (every limit reached, none passed)', async () => {
  assert.is(refusal(await maximalOffer()), null);
});

Limits('refuses too many candidates, media sections, rids or lines with 400, saying which', () => {
  const rids = grow(real, Array.from({ length: MAX_OFFER_RIDS + 1 }, (_, i) => `a=rid:r${i} recv`));
  assert.match(refusal(rids)![2], 'rids');
  const candidates = grow(real, Array.from({ length: MAX_OFFER_CANDIDATES + 1 }, (_, i) => `a=candidate:${i} 1 udp 1 10.0.0.${i % 250} ${40000 + i} typ host`));
  assert.match(refusal(candidates)![2], 'candidates');
  const sections = `${real}${Array.from({ length: MAX_OFFER_MEDIA_SECTIONS }, (_, i) => `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x${i}\r\n`).join('')}`;
  assert.match(refusal(sections)![2], 'media sections');
  const lines = grow(real, Array.from({ length: MAX_OFFER_LINES }, (_, i) => `a=ssrc:${i} cname:x`));
  assert.equal(refusal(lines)!.slice(0, 2), [400, 'BAD_REQUEST']);
  assert.match(refusal(lines)![2], 'lines');
});

Limits.run();
