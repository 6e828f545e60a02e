import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { candidateLines, mediaKinds, parseCandidate, unifyBundleCredentials } from '../../src/webrtc/sdpFixes.ts';

const aiortcOffer = [
  'v=0',
  'o=- 1 1 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 97',
  'a=mid:0',
  'a=ice-ufrag:aaaa',
  'a=ice-pwd:pwd-a',
  'a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host',
  'm=audio 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:1',
  'a=ice-ufrag:bbbb',
  'a=ice-pwd:pwd-b',
  'a=candidate:2 1 udp 2130706431 127.0.0.1 5001 typ host',
  '',
].join('\r\n');

const unify = suite('unifyBundleCredentials');

unify('gives every bundled section the first section\'s ICE credentials and drops the others\' candidates', () => {
  const fixed = unifyBundleCredentials(aiortcOffer);
  assert.equal(fixed.match(/a=ice-ufrag:aaaa/g)?.length, 2);
  assert.equal(fixed.match(/a=ice-pwd:pwd-a/g)?.length, 2);
  assert.not.ok(fixed.includes('bbbb'));
  assert.equal(candidateLines(fixed).length, 1);
  assert.ok(fixed.includes('\r\n'), 'keeps CRLF line ends');
});

unify('returns an offer whose sections already agree unchanged', () => {
  const browser = aiortcOffer.replace('bbbb', 'aaaa').replace('pwd-b', 'pwd-a');
  assert.is(unifyBundleCredentials(browser), browser);
});

unify('leaves an offer without BUNDLE alone', () => {
  const plain = aiortcOffer.replace('a=group:BUNDLE 0 1\r\n', '');
  assert.is(unifyBundleCredentials(plain), plain);
});
unify.run();

const kinds = suite('mediaKinds');
kinds('lists the m-section kinds in order', () => {
  assert.equal(mediaKinds(aiortcOffer), ['video', 'audio']);
  assert.equal(mediaKinds('v=0\r\n'), []);
});
kinds.run();

const cand = suite('parseCandidate');
cand('reads protocol, address, port and type', () => {
  assert.equal(parseCandidate('candidate:1 1 UDP 2130706431 192.0.2.2 5000 typ srflx raddr 0.0.0.0 rport 0'), {
    protocol: 'udp',
    address: '192.0.2.2',
    port: 5000,
    type: 'srflx',
  });
});
cand.run();
