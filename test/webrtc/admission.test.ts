import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetworkInterfaceInfo } from 'node:os';
import { BASE_FDS, EXTRA_FDS_PER_PEER, MAX_PEERS, openFileLimit, peerBudget, socketsPerPeer } from '../../src/webrtc/admission.ts';
import { udpSocketCount, startWebRtcServer, offerSdp, waitFor } from '../helpers/webrtc.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

const Limit = suite('openFileLimit');
Limit('reads the soft limit on open files from /proc/self/limits', () => {
  assert.is(openFileLimit(LIMITS), 1024);
  assert.is(openFileLimit(LIMITS.replace('1024                 524288', 'unlimited            unlimited')), null);
  assert.is(openFileLimit('nothing here'), null);
});
Limit("matches this process's own limit", () => {
  const own = openFileLimit();
  assert.ok(own === null || own > 0);
});
Limit.run();

const info = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

const Sockets = suite('socketsPerPeer');
Sockets('counts the listed addresses only, unless every interface is asked for (all): then what werift gathers on as well, once each', () => {
  const interfaces = {
    lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
    eth0: [info('192.0.2.2', 'IPv4'), info('fd00::2', 'IPv6'), info('fe80::1', 'IPv6')],
    veth12: [info('10.1.0.1', 'IPv4')],
    tun0: [info('10.8.0.1', 'IPv4')],
  };
  assert.is(socketsPerPeer(['127.0.0.1'], interfaces), 1, 'loopback only (the default)');
  assert.is(socketsPerPeer(['127.0.0.1', '192.0.2.2'], interfaces), 2);
  // eth0's v4 and v6 (not link-local), loopback added by configuration; veth and tun are skipped.
  assert.is(socketsPerPeer(['127.0.0.1', 'all'], interfaces), 3);
  assert.is(socketsPerPeer(['127.0.0.1', '192.0.2.2', 'all'], interfaces), 3, 'an address gathered anyway is not counted twice');
  assert.is(socketsPerPeer([], { lo: interfaces.lo }), 1, 'at least one');
});
Sockets.run();

const Budget = suite('peerBudget');
Budget('derives the cap from ulimit -n, the HTTP connections and the descriptors per peer', () => {
  const b = peerBudget({ configured: null, httpConnections: 128, additionalHostAddresses: ['127.0.0.1'], fdLimit: 1024 });
  assert.is(b.fdsPerPeer, socketsPerPeer(['127.0.0.1']) + EXTRA_FDS_PER_PEER);
  assert.is(b.maxPeers, Math.floor((1024 - BASE_FDS - 128) / b.fdsPerPeer));
  assert.ok(b.maxPeers * b.fdsPerPeer + BASE_FDS + 128 <= 1024, 'peers, HTTP and the rest fit in the limit');
  assert.is(b.derivedMaxPeers, b.maxPeers);
});
Budget('never exceeds MAX_PEERS, and a configured cap wins', () => {
  assert.is(peerBudget({ configured: null, httpConnections: 1024, additionalHostAddresses: [], fdLimit: 1_000_000 }).maxPeers, MAX_PEERS);
  assert.is(peerBudget({ configured: null, httpConnections: 0, additionalHostAddresses: [], fdLimit: null }).maxPeers, MAX_PEERS);
  const forced = peerBudget({ configured: 5000, httpConnections: 0, additionalHostAddresses: [], fdLimit: 256 });
  assert.is(forced.maxPeers, 5000);
  assert.ok(forced.derivedMaxPeers! < 5000);
});
Budget.run();

const Measured = suite('descriptors per peer, measured');
Measured('a server peer binds no more UDP sockets than the budget counts for it', async () => {
  const server = await startWebRtcServer();
  try {
    const stream = await server.stream();
    const offer = await offerSdp('media');
    const before = udpSocketCount();
    const res = await fetch(stream.whep_url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
    assert.is(res.status, 201);
    await res.text();
    const used = await waitFor(() => udpSocketCount() - before || null, 3000, 'the peer sockets');
    const budget = (await server.json(`/api/v0/mcp/webrtc/stats/resources`)).body.webrtc.fds_per_peer as number;
    assert.ok(used >= 1 && used <= budget, `${used} UDP sockets, budget ${budget} descriptors per peer`);
  } finally {
    await server.stop();
  }
});
Measured.run();
