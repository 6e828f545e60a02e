import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkOfferCodecs, offeredCodecs } from '../../src/webrtc/offerCodecs.ts';

const section = (kind: string, codecs: string[]) =>
  [`m=${kind} 9 UDP/TLS/RTP/SAVPF ${codecs.map((_, i) => 96 + i).join(' ')}`, ...codecs.map((c, i) => `a=rtpmap:${96 + i} ${c}/90000`)].join('\r\n');
const offer = (...sections: string[]) => ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0', ...sections, ''].join('\r\n');
const refusal = (fn: () => void) => {
  try {
    fn();
    return null;
  } catch (err) {
    return { status: (err as { status: number }).status, code: (err as { code: string }).code, details: (err as { details: unknown }).details };
  }
};

const Offered = suite('offeredCodecs');
Offered('lists each section\'s codecs, lower case, once', () => {
  assert.equal(offeredCodecs(offer(section('video', ['VP8', 'rtx', 'H264', 'H264']), section('audio', ['opus']))), [
    { kind: 'video', codecs: ['vp8', 'rtx', 'h264'] },
    { kind: 'audio', codecs: ['opus'] },
  ]);
});
Offered.run();

const Check = suite('checkOfferCodecs');
Check('accepts an offer that can receive the stream\'s codec for every kind it asks for', () => {
  const stream = { video: 'vp8', audio: 'opus' };
  assert.is(refusal(() => checkOfferCodecs(offer(section('video', ['H264', 'VP8']), section('audio', ['opus'])), stream)), null);
  assert.is(refusal(() => checkOfferCodecs(offer(section('audio', ['opus'])), stream)), null, 'audio only: the viewer does not want video');
});
Check('refuses an H.264-only offer to a VP8 stream with 406, naming both (rtx and FEC are not codecs of a stream)', () => {
  assert.equal(refusal(() => checkOfferCodecs(offer(section('video', ['H264', 'rtx']), section('audio', ['opus'])), { video: 'vp8', audio: 'opus' })), {
    status: 406,
    code: 'CODEC_NOT_SUPPORTED',
    details: { kind: 'video', stream_codec: 'vp8', offered: ['h264'] },
  });
});
Check.run();
