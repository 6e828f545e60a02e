// The floor of figure 5's per-viewer cost: what sending the stream to one more
// viewer cannot cost less than. One werift file player plays the sample clip
// (as the server's one player per stream does), and each packet is, for each
// "viewer", given a header of its own (SSRC, sequence number), encrypted with
// werift's SRTP (the profile werift negotiates between werift peers,
// AEAD_AES_128_GCM, with a session key of its own) and sent on a UDP socket
// of its own to a sink on loopback. No peer connection, no RTP sender, no
// stats, no log: SRTP + UDP send alone.
//
//   node --import tsx bench/srtp-floor.ts <content file> <sink port>
//
// It prints {"ready":true} once playing; each line "<n>" on stdin sets the
// number of viewers and is answered {"viewers":n} once they send.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { defaultPeerConfig, keyLength, ProtectionProfileAeadAes128Gcm, RtpHeader, saltLength, SrtpSession, type RtpPacket } from 'werift';
import { getUserMedia } from 'werift/nonstandard';

const [path, portArg] = process.argv.slice(2);
const sinkPort = Number(portArg);
if (!path || !sinkPort) throw new Error('usage: srtp-floor.ts <content file> <sink port>');

type FloorViewer = { srtp: SrtpSession; socket: Socket; ssrc: Record<string, number>; seq: Record<string, number> };
const viewers: FloorViewer[] = [];

function newViewer(): Promise<FloorViewer> {
  const profile = ProtectionProfileAeadAes128Gcm;
  const key = () => randomBytes(keyLength(profile));
  const salt = () => randomBytes(saltLength(profile));
  const srtp = new SrtpSession({ keys: { localMasterKey: key(), localMasterSalt: salt(), remoteMasterKey: key(), remoteMasterSalt: salt() }, profile });
  const socket = createSocket('udp4');
  return new Promise((resolve) =>
    socket.bind(0, '127.0.0.1', () =>
      resolve({ srtp, socket, ssrc: { audio: randomBytes(4).readUInt32BE(0), video: randomBytes(4).readUInt32BE(0) }, seq: { audio: 0, video: 0 } }),
    ),
  );
}

function send(kind: 'audio' | 'video', rtp: RtpPacket) {
  for (const v of viewers) {
    const header = Object.assign(Object.create(RtpHeader.prototype) as RtpHeader, rtp.header);
    header.ssrc = v.ssrc[kind];
    v.seq[kind] = (v.seq[kind] + 1) & 0xffff;
    header.sequenceNumber = v.seq[kind];
    v.socket.send(v.srtp.encrypt(rtp.payload, header), sinkPort, '127.0.0.1');
  }
}

const player = await getUserMedia({ path, loop: true });
for (const [kind, track] of [['video', player.video], ['audio', player.audio]] as const) {
  if (!track) continue;
  const mime = kind === 'video' ? 'video/vp8' : 'audio/opus';
  track.codec = defaultPeerConfig.codecs[kind]!.find((c) => c.mimeType.toLowerCase() === mime);
  track.onReceiveRtp.subscribe((rtp) => send(kind, rtp));
}
await player.start();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line.trim());
  if (!Number.isInteger(n) || n < 0) continue;
  while (viewers.length < n) viewers.push(await newViewer());
  while (viewers.length > n) viewers.pop()!.socket.close();
  process.stdout.write(`${JSON.stringify({ viewers: viewers.length })}\n`);
}
player.stop();
for (const v of viewers) v.socket.close();
