// What viewer traces keep private: TURN credentials always, IP addresses on request.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { obfuscateIps, stripCredentials } from '../../src/telemetry/privacy.ts';

const Strip = suite('stripCredentials');

Strip('drops credential and password wherever they are, keeping the rest', () => {
  const config = { iceServers: [{ urls: 'turn:t.example', username: 'u', credential: 'secret' }], nested: { password: 'p', keep: 1 } };
  assert.equal(stripCredentials(config), { iceServers: [{ urls: 'turn:t.example', username: 'u' }], nested: { keep: 1 } });
});

const Mask = suite('obfuscateIps');

Mask('masks host and srflx candidate addresses and raddr, keeps relay addresses (they name the TURN server)', () => {
  const host = 'candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0';
  const srflx = 'candidate:2 1 udp 1686052607 203.0.113.7 40000 typ srflx raddr 192.168.1.20 rport 54321';
  const relay = 'candidate:3 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.7 rport 40000';
  const v6 = 'candidate:4 1 udp 2122262783 2001:db8::1 5000 typ host';
  assert.equal(obfuscateIps({ candidate: host }), { candidate: 'candidate:1 1 udp 2122260223 x.x.x.x 54321 typ host generation 0' });
  assert.is(obfuscateIps(srflx), 'candidate:2 1 udp 1686052607 x.x.x.x 40000 typ srflx raddr x.x.x.x rport 54321');
  assert.is(obfuscateIps(relay), 'candidate:3 1 udp 41885439 198.51.100.9 3478 typ relay raddr x.x.x.x rport 40000');
  assert.is(obfuscateIps(v6), 'candidate:4 1 udp 2122262783 x:x:x:x:x:x:x:x 5000 typ host');
});

Mask('masks a=candidate and c= lines in SDP, and address fields of candidate stats', () => {
  const sdp = 'v=0\r\nc=IN IP4 10.0.0.5\r\na=candidate:1 1 udp 1 10.0.0.5 9 typ host\r\n';
  assert.is((obfuscateIps({ type: 'offer', sdp }) as { sdp: string }).sdp, 'v=0\r\nc=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 1 x.x.x.x 9 typ host\r\n');
  assert.equal(obfuscateIps({ type: 'local-candidate', address: '10.0.0.5', candidateType: 'host' }), { type: 'local-candidate', address: 'x.x.x.x', candidateType: 'host' });
});

Strip.run();
Mask.run();
