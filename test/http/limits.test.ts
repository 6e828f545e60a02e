// The HTTP limits: a connection cap answered with 503, and a client that
// sends its request slowly cut off with 408 instead of holding a socket for
// Node's default 300 s.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { httpConnectionCap } from '../../src/http/limits.ts';
import { makeConfig } from '../../src/config.ts';
import { startTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/webrtc.ts';

/** A raw connection and everything it receives until the server closes it. */
function open(port: number) {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (c) => (received += c));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, connected, closed, received: () => received };
}

const Connections = suite('connection cap');

Connections('answers a connection past the cap with 503 and Retry-After, and serves again once one closes', async () => {
  const server = await startTestServer({ maxConnections: 4 });
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const c = open(server.port);
      await c.connected;
      held.push(c.socket);
    }
    const over = await server.api(`${MONITOR_PREFIX}/summary`);
    assert.is(over.status, 503);
    assert.ok(Number(over.headers.get('retry-after')) > 0);
    assert.is(((await over.json()) as { code: string }).code, 'UNAVAILABLE');
    held.pop()!.destroy();
    await waitFor(async () => {
      const res = await server.api(`${MONITOR_PREFIX}/summary`);
      await res.body?.cancel();
      return res.status === 200;
    }, 5000, 'a free connection');
  } finally {
    for (const s of held) s.destroy();
    await server.stop();
  }
});

Connections('derives the cap from the open-file limit when none is configured', () => {
  const config = makeConfig();
  assert.is(httpConnectionCap(config, 1024), 128);
  assert.is(httpConnectionCap(config, 64), 16);
  assert.is(httpConnectionCap(config, 1_000_000), 1024);
  assert.is(httpConnectionCap(config, null), 1024);
  assert.is(httpConnectionCap(makeConfig({ maxConnections: 7 }), 1024), 7);
});

Connections.run();

const Slow = suite('request timeout');

Slow('cuts off a client that sends its body too slowly with 408, and keeps serving', async () => {
  const server = await startTestServer({ requestTimeoutMs: 500, headersTimeoutMs: 300 });
  try {
    const c = open(server.port);
    await c.connected;
    // Promise a body and send one byte of it, then nothing.
    c.socket.write(`POST ${MONITOR_PREFIX}/export HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 408 /);
    const res = await server.api(`${MONITOR_PREFIX}/summary`);
    assert.is(res.status, 200);
    await res.body?.cancel();
  } finally {
    await server.stop();
  }
});

Slow('cuts off a client that never finishes its headers', async () => {
  const server = await startTestServer({ requestTimeoutMs: 500, headersTimeoutMs: 300 });
  try {
    const c = open(server.port);
    await c.connected;
    c.socket.write(`GET ${MONITOR_PREFIX}/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 408 /);
  } finally {
    await server.stop();
  }
});

Slow.run();
