import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { headPosition } from '../../src/log/read.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { dbOf } from '../helpers/db.ts';

const TOKEN = 's3cret-token';
let server: TestServer;
const EXPORT = `${MONITOR_PREFIX}/export`;
const head = () => headPosition(dbOf(server.services));

const Auth = suite('requireTokenForWrites');
Auth.before(async () => {
  server = await startTestServer({ authToken: TOKEN });
});
Auth.after(() => server.stop());

Auth('refuses a mutating route without a token: 401 with WWW-Authenticate, nothing appended', async () => {
  const before = head();
  const res = await server.api(EXPORT, { method: 'POST', json: {} });
  assert.is(res.status, 401);
  assert.is(res.headers.get('www-authenticate'), 'Bearer');
  assert.match(res.headers.get('content-type') ?? '', 'application/problem+json');
  assert.is(((await res.json()) as any).code, 'UNAUTHORIZED');
  assert.is(head(), before);
});

Auth('refuses a wrong token, a token of another length, another scheme, and an empty bearer', async () => {
  const before = head();
  for (const authorization of [`Bearer ${TOKEN}x`, 'Bearer s', `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`, 'Bearer ', TOKEN]) {
    const res = await server.api(EXPORT, { method: 'POST', json: {}, headers: { authorization } });
    assert.is(res.status, 401, authorization);
    await res.body?.cancel();
  }
  assert.is(head(), before);
});

Auth('checks the token before reading the body (a bad body without a token is still 401)', async () => {
  const res = await server.api(EXPORT, { method: 'POST', body: '{broken', headers: { 'content-type': 'application/json' } });
  assert.is(res.status, 401);
  await res.body?.cancel();
});

Auth('lets the right token through, and records the operation', async () => {
  const before = head();
  const res = await server.api(EXPORT, { method: 'POST', json: {}, token: TOKEN });
  assert.is(res.status, 200, await res.clone().text());
  const body = (await res.json()) as any;
  assert.is(body.success, true);
  assert.ok(head() > before);
  const lower = await server.api(EXPORT, { method: 'POST', json: {}, headers: { authorization: `bearer ${TOKEN}` } });
  assert.is(lower.status, 200, 'the scheme is case-insensitive');
  await lower.body?.cancel();
});

Auth('leaves reads open', async () => {
  for (const path of ['/summary', '/connections', '/operations', '/tasks']) {
    const res = await server.api(`${MONITOR_PREFIX}${path}`);
    assert.is(res.status, 200, path);
    await res.body?.cancel();
  }
});

Auth.run();

const Open = suite('no token configured');

Open('leaves mutating routes open', async () => {
  const s = await startTestServer();
  try {
    const res = await s.api(EXPORT, { method: 'POST' });
    assert.is(res.status, 200);
    await res.body?.cancel();
  } finally {
    await s.stop();
  }
});

Open.run();

const READ = 'read-only-token';
const Reads = suite('requireTokens with a read token');
Reads.before(async () => {
  server = await startTestServer({ authToken: TOKEN, readToken: READ });
});
Reads.after(() => server.stop());

Reads('refuses reads without a token, and with a wrong one, with 401', async () => {
  for (const path of [`${MONITOR_PREFIX}/summary`, `${MONITOR_PREFIX}/events?after=0`, `${MONITOR_PREFIX}/events/stream`, '/metrics']) {
    const res = await server.api(path);
    assert.is(res.status, 401, path);
    assert.is(((await res.json()) as any).code, 'UNAUTHORIZED');
    const wrong = await server.api(path, { token: 'nope' });
    assert.is(wrong.status, 401, path);
    await wrong.body?.cancel();
  }
});

Reads('answers reads with the read token or the auth token', async () => {
  for (const token of [READ, TOKEN]) {
    const res = await server.api(`${MONITOR_PREFIX}/summary`, { token });
    assert.is(res.status, 200, token);
    await res.body?.cancel();
  }
});

Reads('serves the pages a browser navigates to without a token (they hold no monitor data)', async () => {
  for (const path of ['/', '/dashboard', '/assets/app.js', '/openapi.json']) {
    const res = await server.api(path);
    assert.is(res.status, 200, path);
    await res.body?.cancel();
  }
});

Reads('does not let the read token write', async () => {
  const before = head();
  const res = await server.api(EXPORT, { method: 'POST', json: {}, token: READ });
  assert.is(res.status, 401);
  await res.body?.cancel();
  assert.is(head(), before);
});

Reads.run();
