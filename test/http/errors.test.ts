// The one problem+json middleware, seen from outside: every 4xx path of the
// monitor, and no request ever answered with a 5xx.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { headPosition } from '../../src/log/read.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import type { PluginFactory } from '../../src/http/serve.ts';
import { dbOf } from '../helpers/db.ts';

let server: TestServer;
const EXPORT = `${MONITOR_PREFIX}/export`;

async function expectProblem(res: Response, status: number, code: string) {
  const text = await res.text();
  assert.is(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', 'application/problem+json');
  const body = JSON.parse(text);
  assert.is(body.status, status);
  assert.is(body.code, code);
  assert.type(body.title, 'string');
  assert.type(body.type, 'string');
  return body;
}

/** Sends raw bytes, for bodies fetch would not send as they are. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string | Buffer) {
  const url = new URL(server.url + path);
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request({ method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const Problems = suite('problemMiddleware');
Problems.before(async () => {
  server = await startTestServer({ bodyLimitBytes: 4096 });
});
Problems.after(() => server.stop());

Problems('answers an unknown route with 404 ROUTE_NOT_FOUND', async () => {
  for (const path of ['/nope', `${MONITOR_PREFIX}/nope`, `${MONITOR_PREFIX}/summary/extra`]) {
    const body = await expectProblem(await server.api(path), 404, 'ROUTE_NOT_FOUND');
    assert.is(body.instance, path);
  }
});

Problems('answers a known route with the wrong method 405 with Allow', async () => {
  const res = await server.api(`${MONITOR_PREFIX}/summary`, { method: 'DELETE' });
  assert.match(res.headers.get('allow') ?? '', 'GET');
  await expectProblem(res, 405, 'METHOD_NOT_ALLOWED');
  await expectProblem(await server.api(EXPORT, { method: 'GET' }), 405, 'METHOD_NOT_ALLOWED');
  await expectProblem(await server.api(`${MONITOR_PREFIX}/connections`, { method: 'POST', json: {} }), 405, 'METHOD_NOT_ALLOWED');
  // A method the router does not know is a 405 too, not a 501.
  const unknown = await server.api(`${MONITOR_PREFIX}/summary`, { method: 'PROPFIND' });
  assert.match(unknown.headers.get('allow') ?? '', 'GET');
  await expectProblem(unknown, 405, 'METHOD_NOT_ALLOWED');
});

Problems('answers malformed JSON with 400 INVALID_JSON and records nothing', async () => {
  const before = headPosition(dbOf(server.services));
  for (const body of ['{', '{"since":', "{'a':1}", 'nul', '{"a":1}}']) {
    const res = await server.api(EXPORT, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await expectProblem(res, 400, 'INVALID_JSON');
  }
  assert.is(headPosition(dbOf(server.services)), before);
});

Problems('answers a body that is not JSON with 415', async () => {
  const before = headPosition(dbOf(server.services));
  await expectProblem(await server.api(EXPORT, { method: 'POST', body: 'since=now', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await expectProblem(await server.api(EXPORT, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  const noType = await raw('POST', EXPORT, { 'content-length': '2' }, '{}');
  assert.is(noType.status, 415, noType.body);
  assert.is(headPosition(dbOf(server.services)), before);
});

Problems('answers JSON of the wrong shape with 422 and the issues', async () => {
  const body = await expectProblem(await server.api(EXPORT, { method: 'POST', json: { since: 42 } }), 422, 'VALIDATION_FAILED');
  assert.ok(Array.isArray(body.errors) && body.errors[0].path === 'since');
  await expectProblem(await server.api(EXPORT, { method: 'POST', json: 'a string' }), 422, 'VALIDATION_FAILED');
  await expectProblem(await server.api(EXPORT, { method: 'POST', json: null }), 422, 'VALIDATION_FAILED');
});

Problems('answers an oversized body with 413 and records nothing', async () => {
  const before = headPosition(dbOf(server.services));
  const big = JSON.stringify({ connection_id: 'x'.repeat(10_000) });
  await expectProblem(await server.api(EXPORT, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } }), 413, 'PAYLOAD_TOO_LARGE');
  const chunked = await raw('POST', EXPORT, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, big);
  assert.is(chunked.status, 413, chunked.body);
  assert.is(headPosition(dbOf(server.services)), before);
});

Problems('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
  const mine = await server.api(`${MONITOR_PREFIX}/summary`, { headers: { 'x-request-id': 'abc-123' } });
  assert.is(mine.headers.get('x-request-id'), 'abc-123');
  const evil = await server.api(`${MONITOR_PREFIX}/summary`, { headers: { 'x-request-id': 'a b<script>' } });
  assert.match(evil.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

Problems('never answers 5xx to odd requests', async () => {
  const odd: [string, string, Record<string, string>, string?][] = [
    ['GET', `${MONITOR_PREFIX}/connections/${'%'}`, {}],
    ['GET', `${MONITOR_PREFIX}/connections/%E0%A4%A`, {}],
    ['GET', `${MONITOR_PREFIX}/connections/${'a'.repeat(5000)}`, {}],
    ['GET', `${MONITOR_PREFIX}/connections?state[]=x`, {}],
    ['GET', `${MONITOR_PREFIX}/connections?limit=1e3`, {}],
    ['GET', `${MONITOR_PREFIX}/connections?limit=-1`, {}],
    ['GET', `${MONITOR_PREFIX}/connections?cursor=cDE%00`, {}],
    ['GET', `${MONITOR_PREFIX}/connections/x?at=99999999999999999999999`, {}],
    ['GET', `${MONITOR_PREFIX}/connections/x?events_after=-1`, {}],
    ['GET', `${MONITOR_PREFIX}/operations?status=all,all&limit=1`, {}],
    ['GET', `${MONITOR_PREFIX}/operations?status=,,,`, {}],
    ['GET', `${MONITOR_PREFIX}/operations/%2e%2e`, {}],
    ['GET', `${MONITOR_PREFIX}/tasks?status=pending,all`, {}],
    ['GET', `${MONITOR_PREFIX}/tasks?connection_id=${'z'.repeat(300)}`, {}],
    ['HEAD', `${MONITOR_PREFIX}/summary`, {}],
    ['OPTIONS', `${MONITOR_PREFIX}/summary`, {}],
    ['PATCH', `${MONITOR_PREFIX}/summary`, { 'content-type': 'application/json' }, '{}'],
    ['POST', EXPORT, { 'content-type': 'application/json; charset=latin1' }, '{}'],
    ['POST', EXPORT, { 'content-type': 'application/json' }, '\u0000'],
    ['POST', EXPORT, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, '{}'],
    ['POST', EXPORT, { 'content-type': 'application/json', 'content-encoding': 'br' }, 'not brotli'],
    ['POST', EXPORT, { 'content-type': 'application/json' }, JSON.stringify({ since: '2026-01-01T00:00:00Z', connection_id: '../../../etc' })],
    ['POST', EXPORT, { 'content-type': 'application/sdp' }, 'v=0'],
  ];
  for (const method of ['PROPFIND', 'TRACE', 'PUT', 'DELETE']) odd.push([method, `${MONITOR_PREFIX}/connections`, {}]);
  for (const [method, path, headers, body] of odd) {
    const res = await raw(method, path, headers, body);
    assert.ok(res.status < 500, `${method} ${path} ${JSON.stringify(headers)} -> ${res.status} ${res.body}`);
    if (res.status >= 400 && method !== 'HEAD') assert.match(res.type, 'application/problem+json', `${method} ${path}`);
  }
});

Problems.run();

const Internal = suite('a 500 shows no internals');

/** GET /test/broken: scaffolding that fails the way a bug does, with a message naming a file. */
const brokenRoute: PluginFactory = (services) => ({
  name: 'broken-route',
  routers: [
    () =>
      new Router().get('/test/broken', () => {
        throw new Error(`ENOENT: no such file or directory, open '${join(services.config.persistencePath, 'secret.key')}'`);
      }),
  ],
});

Internal('answers an error that is not ours with a generic problem, and keeps the message in the log', async () => {
  const lines: string[] = [];
  const pino = (await import('pino')).default;
  const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
  const s = await startTestServer({}, { plugins: [brokenRoute], logger });
  try {
    const res = await s.api('/test/broken');
    const text = await res.text();
    assert.is(res.status, 500);
    const body = JSON.parse(text);
    assert.equal([body.code, body.title], ['INTERNAL', 'Internal Server Error']);
    assert.not.match(text, s.dir);
    assert.not.match(text, /ENOENT|secret/);
    assert.ok(lines.some((l) => l.includes('secret.key')), 'the message is in the server log');
  } finally {
    await s.stop();
  }
});

Internal('answers an operation that broke with a pointer to its record, never the message naming a file', async () => {
  const s = await startTestServer();
  try {
    // POST export writes to exports/ beside the database: a file of that name makes the write fail.
    writeFileSync(join(s.dir, 'exports'), 'not a directory');
    const res = await s.api(`${MONITOR_PREFIX}/export`, { method: 'POST', json: {} });
    const text = await res.text();
    assert.is(res.status, 500, text);
    const body = JSON.parse(text);
    assert.is(body.code, 'INTERNAL');
    assert.not.match(text, s.dir);
    assert.not.match(text, /ENOTDIR|EEXIST/);
    const operationId = body.errors.operation_id as string;
    assert.match(body.detail, `/operations/${operationId}`);
    // The record keeps what happened, for the operator.
    const op = (await (await s.api(`${MONITOR_PREFIX}/operations/${operationId}`)).json()) as { operation: { status: string; error: { message: string } } };
    assert.is(op.operation.status, 'failed');
    assert.match(op.operation.error.message, /ENOTDIR|EEXIST/);
  } finally {
    await s.stop();
  }
});

Internal.run();
