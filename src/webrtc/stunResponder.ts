// A STUN binding responder on loopback, for the in-process werift viewers.
// werift's full-ICE agent asks a STUN server for a server-reflexive candidate
// and, when none is configured, falls back to stun.l.google.com: offline that
// stalls every set-up on a 5 s timeout (docs/werift.md, "STUN
// fallback"; werift-webrtc#691: `iceServers: []` does not turn it off).
// The server peers are ICE-lite and never ask; the viewers are
// pointed here instead. It answers binding requests (RFC 5389) with
// XOR-MAPPED-ADDRESS and nothing else.
import { createSocket, type Socket } from 'node:dgram';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;

/** The response to a binding request from `address:port`, or null if `msg` is not one. */
export function bindingResponse(msg: Buffer, address: string, port: number): Buffer | null {
  if (msg.length < 20 || msg.readUInt16BE(0) !== BINDING_REQUEST || msg.readUInt32BE(4) !== MAGIC_COOKIE) return null;
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o))) return null;
  const out = Buffer.alloc(32);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt16BE(12, 2);
  msg.copy(out, 4, 4, 20); // magic cookie + transaction id
  out.writeUInt16BE(XOR_MAPPED_ADDRESS, 20);
  out.writeUInt16BE(8, 22);
  out.writeUInt8(0, 24);
  out.writeUInt8(0x01, 25); // IPv4
  out.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 26);
  const ip = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  out.writeUInt32BE((ip ^ MAGIC_COOKIE) >>> 0, 28);
  return out;
}

let shared: Promise<{ socket: Socket; url: string }> | null = null;

/**
 * The process-wide responder on 127.0.0.1 (started on first use). Its socket
 * is unref'd: it never keeps the process alive, and it is one fixed socket,
 * not one per viewer.
 */
export function loopbackStunUrl(): Promise<string> {
  shared ??= new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      const reply = bindingResponse(msg, rinfo.address, rinfo.port);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    socket.once('error', (err) => {
      shared = null;
      reject(err);
    });
    socket.bind(0, '127.0.0.1', () => {
      socket.unref();
      resolve({ socket, url: `stun:127.0.0.1:${socket.address().port}` });
    });
  });
  return shared.then((s) => s.url);
}
