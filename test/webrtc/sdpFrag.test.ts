import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_FRAGMENT_LINES, iceCredentials, parseSdpFrag, restartAnswerFrag } from '../../src/webrtc/sdpFrag.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return `${(err as { status: number }).status} ${(err as { code: string }).code}`;
  }
  return 'accepted';
};

// What Chromium's WHIP/WHEP clients send (RFC 9725 appendix examples, shape).
const CHROMIUM_FRAG = [
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1',
  'a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2',
  'a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1',
  'a=candidate:2154773085 1 udp 1685987071 203.0.113.3 61764 typ srflx raddr 192.0.2.1 rport 61764 generation 0 ufrag EsAw network-id 1',
  'a=candidate:1 1 udp 2122260223 5c2a4b0e-2f7c-4a3b-8d0b-3f1d3a3c9e0a.local 50000 typ host generation 0',
  'a=end-of-candidates',
  '',
].join('\r\n');

const Parse = suite('parseSdpFrag');
Parse('reads credentials, sections by mid, candidates (mDNS and TCP included) and end-of-candidates', () => {
  const frag = parseSdpFrag(CHROMIUM_FRAG);
  assert.is(frag.ufrag, 'EsAw');
  assert.is(frag.pwd, 'bP+XJMM09aR8AiX1jdukzR6Y');
  assert.is(frag.media.length, 1);
  assert.is(frag.media[0].mid, '0');
  assert.is(frag.media[0].candidates.length, 5);
  assert.ok(frag.media[0].candidates[0].startsWith('candidate:1387637174 '));
  assert.is(frag.media[0].endOfCandidates, true);
});
Parse('takes a bare end-of-candidates, and LF line ends', () => {
  assert.equal(parseSdpFrag('a=end-of-candidates\n'), { ufrag: null, pwd: null, media: [], endOfCandidates: true });
});
Parse('refuses text that is not SDP with 400, and SDP it cannot apply with 422', () => {
  assert.is(code(() => parseSdpFrag('')), '400 BAD_REQUEST');
  assert.is(code(() => parseSdpFrag('hello')), '400 BAD_REQUEST');
  assert.is(code(() => parseSdpFrag('a=ice-ufrag:abcd\r\n')), '422 VALIDATION_FAILED', 'ufrag without pwd');
  assert.is(code(() => parseSdpFrag('a=ice-ufrag:ab\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\nm=audio 9 X 0\r\n')), '422 VALIDATION_FAILED', 'a ufrag too short');
  assert.is(code(() => parseSdpFrag('a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n')), '422 VALIDATION_FAILED', 'a candidate outside any section');
  assert.is(code(() => parseSdpFrag('m=audio 9 X 0\r\na=candidate:1 1 udp nope 192.0.2.1 1 typ host\r\n')), '422 VALIDATION_FAILED');
  assert.is(code(() => parseSdpFrag('a=ice-options:trickle\r\n')), '422 VALIDATION_FAILED', 'nothing to apply');
  assert.is(code(() => parseSdpFrag('a=ice-ufrag:EsAw\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n')), 'accepted', 'credentials alone: an ICE restart');
  assert.is(code(() => parseSdpFrag(`m=audio 9 X 0\r\n${'a=x\r\n'.repeat(MAX_FRAGMENT_LINES)}`)), '422 VALIDATION_FAILED', 'too many lines');
  const many = `m=audio 9 X 0\r\n${Array.from({ length: 51 }, (_, i) => `a=candidate:${i} 1 udp 1 192.0.2.1 ${i + 1} typ host`).join('\r\n')}\r\n`;
  assert.is(code(() => parseSdpFrag(many)), '422 VALIDATION_FAILED', 'too many candidates');
});
Parse.run();

const Answer = suite('restartAnswerFrag');
Answer("gives the server's new credentials, its first section's mid and candidates, and end-of-candidates", () => {
  const local = [
    'v=0', 'o=- 1 2 IN IP4 0.0.0.0', 's=-', 't=0 0', 'a=ice-lite', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:0', 'a=ice-ufrag:NeW1', 'a=ice-pwd:abcdefghijklmnopqrstuv',
    'a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:1',
    'a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host', '',
  ].join('\r\n');
  assert.is(
    restartAnswerFrag(local),
    'a=ice-lite\r\na=ice-ufrag:NeW1\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\na=end-of-candidates\r\n',
  );
  assert.equal(iceCredentials(local), { ufrag: 'NeW1', pwd: 'abcdefghijklmnopqrstuv' });
});
Answer.run();
