// Host and cross-site checks, with the headers browsers send. A real
// browser on another origin and a DNS-rebinding page are in
// test/reliability/crossSite.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { headPosition } from '../../src/log/read.ts';
import { splitHost } from '../../src/http/sameSite.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { dbOf } from '../helpers/db.ts';

let server: TestServer;
const EXPORT = `${MONITOR_PREFIX}/export`;
const head = () => headPosition(dbOf(server.services));

/** A request with exactly these headers (fetch will not send a Host of our choosing). */
function send(method: string, path: string, headers: Record<string, string | undefined>, body?: string) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const given = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const req = request({ method, host: '127.0.0.1', port: server.port, path, headers: given, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const post = (headers: Record<string, string | undefined>) => send('POST', EXPORT, { 'content-type': 'application/json', 'content-length': '2', ...headers }, '{}');

const Host = suite('sameSiteGuard: Host');
Host.before(async () => {
  server = await startTestServer({ allowedHosts: ['monitor.example.lan'] });
});
Host.after(() => server.stop());

Host('serves IP literals, localhost and configured names', async () => {
  for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`, '127.0.0.1', `monitor.example.lan:${server.port}`, 'MONITOR.example.lan.']) {
    const r = await send('GET', `${MONITOR_PREFIX}/summary`, { host });
    assert.is(r.status, 200, host);
  }
});

Host('answers 421 HOST_NOT_ALLOWED to any other name (DNS rebinding), for reads and writes, recording nothing', async () => {
  const before = head();
  for (const [method, path] of [['GET', `${MONITOR_PREFIX}/summary`], ['GET', '/'], ['POST', EXPORT]]) {
    const body = method === 'POST' ? { 'content-type': 'application/json', 'content-length': '2' } : {};
    const r = await send(method, path, { host: `attacker.example:${server.port}`, ...body }, method === 'POST' ? '{}' : undefined);
    assert.is(r.status, 421, `${method} ${path}`);
    assert.is(r.body.code, 'HOST_NOT_ALLOWED');
  }
  assert.is(head(), before);
});

Host('reads the name and port of a Host header (IPv6 brackets, case)', () => {
  assert.equal(splitHost('[::1]:9999'), ['::1', '9999']);
  assert.equal(splitHost('Example.LAN'), ['example.lan', null]);
  assert.equal(splitHost('127.0.0.1:80'), ['127.0.0.1', '80']);
});

Host.run();

const Cross = suite('sameSiteGuard: cross-site writes');
Cross.before(async () => {
  server = await startTestServer({ allowedOrigins: ['https://ops.example.org'] });
});
Cross.after(() => server.stop());

Cross('refuses a write from another origin with 403 CROSS_SITE_REQUEST, recording nothing', async () => {
  const before = head();
  for (const headers of [
    { host: `127.0.0.1:${server.port}`, origin: 'http://attacker.example' },
    { host: `127.0.0.1:${server.port}`, origin: `http://localhost:${server.port}` },
    { host: `127.0.0.1:${server.port}`, origin: `http://127.0.0.1:${server.port + 1}` },
    { host: `127.0.0.1:${server.port}`, origin: 'null' },
    { host: `127.0.0.1:${server.port}`, 'sec-fetch-site': 'cross-site' },
    { host: `127.0.0.1:${server.port}`, 'sec-fetch-site': 'same-site' },
  ]) {
    const r = await post(headers);
    assert.is(r.status, 403, JSON.stringify(headers));
    assert.is(r.body.code, 'CROSS_SITE_REQUEST');
  }
  assert.is(head(), before);
});

Cross("serves the server's own pages, configured origins, and clients that are not browsers", async () => {
  for (const headers of [
    { host: `127.0.0.1:${server.port}`, origin: `http://127.0.0.1:${server.port}`, 'sec-fetch-site': 'same-origin' },
    { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` },
    { host: `127.0.0.1:${server.port}`, origin: 'https://ops.example.org' },
    { host: `127.0.0.1:${server.port}` },
    { host: `127.0.0.1:${server.port}`, 'sec-fetch-site': 'none' },
  ]) {
    const r = await post(headers);
    assert.is(r.status, 200, JSON.stringify(headers));
  }
});

Cross('leaves cross-site reads alone (a page on another origin cannot read the answer without CORS)', async () => {
  const r = await send('GET', `${MONITOR_PREFIX}/summary`, { host: `127.0.0.1:${server.port}`, origin: 'http://attacker.example', 'sec-fetch-site': 'cross-site' });
  assert.is(r.status, 200);
  assert.not.ok('access-control-allow-origin' in r.body, 'no CORS');
});

Cross.run();
