// Pages on other sites, in a real browser (Debian's Chromium): a page on
// another origin posting to the monitor (close-all, export) as forms and
// no-cors fetches, and a DNS-rebinding page whose name resolves to the
// monitor. Nothing may run; the monitor's own pages must keep working, and
// the player page takes its token from the fragment, never the query.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage } from '../helpers/browser.ts';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import type { Viewer } from '../../src/webrtc/viewer.ts';
import { dbOf } from '../helpers/db.ts';

const TOKEN = 'player-secret-token';

/** An "attacker" site: one page whose script posts to the monitor every way a page can without CORS. */
function attackerSite(target: string): Promise<Server> {
  const page = `<!doctype html><body><iframe name="sink"></iframe><script>
    const target = ${JSON.stringify(target)};
    const sent = [];
    sent.push(fetch(target + '${WEBRTC}/connections/close-all', { method: 'POST', mode: 'no-cors' }).catch(() => {}));
    sent.push(fetch(target + '${MONITOR}/export', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{}' }).catch(() => {}));
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = target + '${WEBRTC}/connections/close-all';
    form.target = 'sink';
    document.body.append(form);
    form.submit();
    Promise.all(sent).then(() => { document.title = 'sent'; });
  </script></body>`;
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  return new Promise((resolve) => site.listen(0, '127.0.0.1', () => resolve(site)));
}

let browser: Browser;
let server: WebRtcTestServer;
let viewer: Viewer;
const posts: string[] = [];
const operationsOf = (type: string) =>
  dbOf(server.services).prepare("SELECT count(*) FROM events WHERE type = 'operation.started' AND json_extract(data, '$.type') = ?").pluck().get(type) as number;

const Cross = suite('requests from pages on other sites (Chromium)');
Cross.before(async () => {
  try {
    browser = await launchChromium(['--host-resolver-rules=MAP rebind.test 127.0.0.1']);
    server = await startWebRtcServer();
    server.server.on('request', (req) => req.method === 'POST' && posts.push(`${req.headers.origin ?? '-'} ${req.url}`));
    const stream = await server.stream();
    viewer = await server.viewer(stream.whep_url);
  } catch (err) {
    // uvu does not print an error thrown here; the runner counts the suite as failed.
    console.error('crossSite set-up failed:', err);
    throw err;
  }
});
Cross.after(async () => {
  await viewer?.leave().catch(() => {});
  await server?.stop();
  await browser?.close();
});

Cross('a page on another origin cannot close connections or start an export (forms, no-cors fetches)', async () => {
  for (const attackerHost of ['127.0.0.1', 'localhost']) {
    const site = await attackerSite(server.url);
    const port = (site.address() as AddressInfo).port;
    const { page, close } = await openPage(browser);
    try {
      const before = posts.length;
      await page.goto(`http://${attackerHost}:${port}/`);
      await page.waitForFunction(() => document.title === 'sent', undefined, { timeout: 10_000 });
      await waitFor(() => posts.length - before >= 3, 5000, 'the three posts to reach the monitor');
      assert.ok(posts.slice(before).every((p) => p.startsWith(`http://${attackerHost}:${port} `)), posts.slice(before).join('\n'));
    } finally {
      await close();
      site.close();
    }
  }
  assert.is(operationsOf('close_all'), 0, 'no close-all ran');
  assert.is(operationsOf('export'), 0, 'no export ran');
  const live = await server.json(`${WEBRTC}/connections`);
  assert.ok(live.body.some((c: { id: string }) => c.id === viewer.connectionId), 'the viewer is still connected');
});

Cross('a DNS-rebinding page (a name that resolves to the monitor) gets 421, for the page and its posts', async () => {
  const { page, close } = await openPage(browser);
  try {
    const response = await page.goto(`http://rebind.test:${server.port}/`);
    assert.is(response?.status(), 421);
    const status = await page.evaluate(async (path) => (await fetch(path, { method: 'POST' })).status, `${WEBRTC}/connections/close-all`);
    assert.is(status, 421);
  } finally {
    await close();
  }
  assert.is(operationsOf('close_all'), 0);
});

Cross("the monitor's own pages still read and write (same origin)", async () => {
  const { page, problems, close } = await openPage(browser);
  try {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#feed-status.feed-live', { timeout: 10_000 });
    const status = await page.evaluate(async (path) => (await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, `${MONITOR}/export`);
    assert.is(status, 200);
    assert.equal(problems, []);
  } finally {
    await close();
  }
  assert.is(operationsOf('export'), 1);
});

Cross.run();

const Player = suite('the player page and its token (Chromium)');
let guarded: WebRtcTestServer;
Player.before(async () => {
  browser = await launchChromium();
  guarded = await startWebRtcServer({ authToken: TOKEN, readToken: 'reads' });
});
Player.after(async () => {
  await guarded.stop();
  await browser.close();
});

Player('takes the token from the fragment, drops it from the address bar, and plays', async () => {
  const stream = await guarded.stream({ mode: 'data' });
  const { page, close } = await openPage(browser);
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  try {
    await page.goto(`${guarded.url}/player/${stream.server_id}#token=${TOKEN}`);
    await page.waitForFunction(() => (window as unknown as { pc?: RTCPeerConnection }).pc?.connectionState === 'connected', undefined, { timeout: 15_000 });
    assert.not.match(page.url(), 'token', 'the address bar no longer shows it');
    assert.ok(requested.every((u) => !u.includes(TOKEN)), 'no request carried it in its URL');
  } finally {
    await close();
  }
});

Player('asks for the token when it has none, then plays', async () => {
  const stream = await guarded.stream({ mode: 'data' });
  const { page, close } = await openPage(browser);
  try {
    await page.goto(`${guarded.url}/player/${stream.server_id}`);
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 15_000 });
    await page.fill('#token', TOKEN);
    await page.click('#token-form button');
    await page.waitForFunction(() => (window as unknown as { pc?: RTCPeerConnection }).pc?.connectionState === 'connected', undefined, { timeout: 15_000 });
  } finally {
    await close();
  }
});

Player.run();
