import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { bindingResponse, loopbackStunUrl } from '../../src/webrtc/stunResponder.ts';

const request = (txid: Buffer) => {
  const msg = Buffer.alloc(20);
  msg.writeUInt16BE(0x0001, 0);
  msg.writeUInt16BE(0, 2);
  msg.writeUInt32BE(0x2112a442, 4);
  txid.copy(msg, 8);
  return msg;
};

const decodeXorAddress = (res: Buffer) => {
  const port = res.readUInt16BE(26) ^ 0x2112;
  const ip = (res.readUInt32BE(28) ^ 0x2112a442) >>> 0;
  return { address: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'), port };
};

const unit = suite('bindingResponse');
unit('answers a binding request with the XOR-mapped source address and the same transaction id', () => {
  const txid = randomBytes(12);
  const res = bindingResponse(request(txid), '127.0.0.1', 40000)!;
  assert.is(res.readUInt16BE(0), 0x0101);
  assert.ok(res.subarray(8, 20).equals(txid));
  assert.equal(decodeXorAddress(res), { address: '127.0.0.1', port: 40000 });
});
unit('ignores anything that is not a binding request', () => {
  assert.is(bindingResponse(Buffer.from('hello world, this is not stun'), '127.0.0.1', 1), null);
  assert.is(bindingResponse(Buffer.alloc(4), '127.0.0.1', 1), null);
});
unit.run();

const live = suite('loopbackStunUrl');
live('runs a responder on loopback that answers over UDP', async () => {
  const url = await loopbackStunUrl();
  assert.match(url, /^stun:127\.0\.0\.1:\d+$/);
  const port = Number(url.split(':')[2]);
  const socket = createSocket('udp4');
  const txid = randomBytes(12);
  const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.send(request(txid), port, '127.0.0.1');
  const res = await reply;
  assert.equal(decodeXorAddress(res), { address: '127.0.0.1', port: socket.address().port });
  socket.close();
  assert.is(await loopbackStunUrl(), url, 'one responder per process');
});
live.run();
