import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { launchChromium, openPage } from '../../helpers/browser.ts';
import { webrtcPlugin } from '../../../src/http/webrtcPlugin.ts';
import { connectViewer, type Viewer } from '../../../src/webrtc/viewer.ts';
import type { NewEvent } from '../../../src/log/catalogue.ts';

const ARTIFACTS = resolve('test-artifacts');
const state = (kind: 'connection' | 'ice', from: string, to: string): NewEvent => ({ type: 'connection.state_changed', data: { kind, from, to } });
const toConnected: NewEvent[] = [state('connection', 'new', 'connecting'), state('ice', 'new', 'checking'), state('ice', 'checking', 'connected'), state('connection', 'connecting', 'connected')];

/**
 * A GET sent exactly as written: fetch would normalise `..` away and add
 * Cache-Control: no-cache to conditional requests.
 */
function rawGet(server: TestServer, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The category a connection's row shows, or null while it has no row. */
function rowCategory(page: Page, id: string) {
  return page.evaluate(
    (id) => [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].find((r) => r.dataset.id === id)?.dataset.category ?? null,
    id,
  );
}

/** Waits for the row to show `category`, re-checked on each change to the page (the timeout only bounds the wait). */
function waitForRow(page: Page, id: string, category: string, timeout = 15_000) {
  return page.waitForFunction(
    ([id, category]) =>
      [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].some((r) => r.dataset.id === id && r.dataset.category === category),
    [id, category] as const,
    { timeout, polling: 50 },
  );
}

/**
 * Pauses the page's clock (installed before load) a little ahead of its
 * current time. The page's time runs on while this asks for it, so a pause
 * that lands in the past is asked again further ahead.
 */
async function pauseClock(page: Page) {
  for (let aheadMs = 200; ; aheadMs *= 4) {
    const now = await page.evaluate(() => Date.now());
    try {
      return await page.clock.pauseAt(now + aheadMs);
    } catch (err) {
      if (aheadMs > 10_000 || !/to the past/.test(String(err))) throw err;
    }
  }
}

/** Waits until the page's live feed has delivered the log up to `position`. */
function waitForFeed(page: Page, position: number) {
  return page.waitForFunction((position) => Number(document.querySelector<HTMLElement>('#feed-status')?.dataset.position ?? 0) >= position, position, {
    timeout: 15_000,
    polling: 50,
  });
}

async function load(page: Page, server: TestServer) {
  await page.goto(`${server.url}/dashboard`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('#feed-status.feed-live');
}

async function openDrilldown(page: Page, id: string) {
  await page.evaluate((id) => {
    const row = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].find((r) => r.dataset.id === id);
    row!.querySelector<HTMLButtonElement>('button.id')!.click();
  }, id);
  await page.waitForSelector('#drilldown:not([hidden])');
}

// ---------------------------------------------------------------------------
const files = suite('dashboardRouter');

files('serves the page at / and /dashboard with a strict Content-Security-Policy', async () => {
  const server = await startTestServer();
  try {
    for (const path of ['/', '/dashboard']) {
      const res = await server.api(path);
      assert.is(res.status, 200);
      assert.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.not.match(csp, /unsafe-inline|unsafe-eval/);
      assert.is(res.headers.get('x-content-type-options'), 'nosniff');
      const html = await res.text();
      assert.not.match(html, /<script>|<script type="module">|\sstyle=|\son[a-z]+=/, 'no inline script, style or handlers');
    }
  } finally {
    await server.stop();
  }
});

files('serves the scripts and styles with their content types and revalidates by ETag', async () => {
  const server = await startTestServer();
  try {
    const js = await server.api('/assets/app.js');
    assert.is(js.status, 200);
    assert.is(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.is(js.headers.get('cache-control'), 'no-cache');
    const etag = js.headers.get('etag')!;
    assert.ok(etag);
    const again = await rawGet(server, '/assets/app.js', { 'if-none-match': etag });
    assert.is(again.status, 304);
    assert.is((await rawGet(server, '/assets/app.js', { 'if-none-match': '"other"' })).status, 200);
    const css = await server.api('/assets/dashboard.css');
    assert.is(css.headers.get('content-type'), 'text/css; charset=utf-8');
  } finally {
    await server.stop();
  }
});

files('refuses path traversal and files that are not assets', async () => {
  const server = await startTestServer();
  try {
    for (const path of ['/assets/..%2F..%2F..%2Fpackage.json', '/assets/%2e%2e%2fdashboard.ts', '/assets/../routes/dashboard.ts', '/assets/nope.js', '/assets/index.html', '/assets/..']) {
      const res = await rawGet(server, path);
      assert.is(res.status, 404, path);
      assert.match(res.type ?? '', /problem\+json/);
    }
  } finally {
    await server.stop();
  }
});

files.run();

// ---------------------------------------------------------------------------
const page = suite('the dashboard in Chromium');
let browser: Browser;
page.before(async () => {
  browser = await launchChromium();
});
page.after(async () => {
  await browser?.close();
});

// The page's clock is paused once it has loaded: its timers (the 15 s
// safety-net refresh among them) fire only when the test moves it. So a row
// that appears was brought by the live feed and the one refresh the event
// scheduled (150 ms later on the page's clock), however slow the machine.
page('shows a connection once its events are recorded, brought by the live feed, and turns it closed live', async () => {
  const server = await startTestServer();
  const { page, problems, close } = await openPage(browser);
  try {
    await page.clock.install();
    await load(page, server);
    await pauseClock(page);
    const { store: log } = server.services;
    const opened = await log.append('connection:live-1', [{ type: 'connection.created', data: { connection_id: 'live-1', mode: 'media', content: 'sample.webm' } }, ...toConnected]);
    assert.ok(opened.ok);
    await waitForFeed(page, opened.ok ? opened.lastPosition : Infinity);
    await page.clock.runFor(500);
    await waitForRow(page, 'live-1', 'connected');

    const closed = await log.append('connection:live-1', [{ type: 'connection.closed', data: { reason: 'viewer left', initiator: 'remote' } }]);
    assert.ok(closed.ok);
    await waitForFeed(page, closed.ok ? closed.lastPosition : Infinity);
    await page.clock.runFor(500);
    await waitForRow(page, 'live-1', 'closed');
    assert.is(await page.textContent('#cards'), (await page.textContent('#cards'))!);
    assert.match((await page.textContent('#cards')) ?? '', /1\s*closed/);
    assert.equal(problems, []);
  } finally {
    await close();
    await server.stop();
  }
});

page("follows from the head when the server refuses its position as past the end of the log", async () => {
  const server = await startTestServer();
  const { page, problems, close } = await openPage(browser);
  try {
    await load(page, server);
    const { store: log } = server.services;
    await log.append('connection:reset-1', [{ type: 'connection.created', data: { connection_id: 'reset-1', mode: 'media', content: 'sample.webm' } }]);
    const head = await log.head();
    // The page's own reader, resuming from a position this log has not reached (as after the server's database was replaced).
    // Plain JavaScript, as the page would run it (a module URL TypeScript cannot see).
    await page.evaluate(`(async () => {
      const { followLog } = await import('/assets/live.js');
      const seen = { statuses: [], resets: 0, events: [] };
      window.resetFeed = seen;
      followLog(${head + 1000}, {
        onEvent: (e) => seen.events.push({ position: e.position, type: e.type }),
        onStatus: (s) => seen.statuses.push(s),
        onReset: () => seen.resets++,
      });
    })()`);
    await page.waitForFunction(() => (window as unknown as { resetFeed: { statuses: string[] } }).resetFeed.statuses.includes('live'), null, { timeout: 15_000, polling: 50 });
    const next = await log.append('connection:reset-1', [toConnected[0]]);
    assert.ok(next.ok);
    const position = next.ok ? next.lastPosition : -1;
    await page.waitForFunction((p) => (window as unknown as { resetFeed: { events: { position: number }[] } }).resetFeed.events.some((e) => e.position === p), position, {
      timeout: 15_000,
      polling: 50,
    });
    const seen = await page.evaluate(() => (window as unknown as { resetFeed: { statuses: string[]; resets: number; events: { position: number; type: string }[] } }).resetFeed);
    assert.is(seen.resets, 1);
    assert.equal(seen.statuses.slice(0, 2), ['reconnecting', 'live']);
    // From the head: only what was appended after the reset, nothing older.
    assert.equal(seen.events, [{ position, type: 'connection.state_changed' }]);
    // Chromium reports the refused request itself; nothing else went wrong.
    assert.equal(problems, ['console: Failed to load resource: the server responded with a status of 400 (Bad Request)']);
  } finally {
    await close();
    await server.stop();
  }
});

page('shows a failure that was closed in the same millisecond as failed, in red with its reason, and a stalled connection as stalled', async () => {
  const server = await startTestServer();
  const { page, problems, close } = await openPage(browser);
  try {
    await load(page, server);
    const { store: log } = server.services;
    await log.append('connection:doomed', [{ type: 'connection.created', data: { connection_id: 'doomed', mode: 'media' } }, ...toConnected]);
    await log.append('connection:quiet', [{ type: 'connection.created', data: { connection_id: 'quiet', mode: 'media' } }, ...toConnected]);
    await waitForRow(page, 'doomed', 'connected');
    await log.append('connection:quiet', [
      { type: 'connection.stalled', data: { silent_ms: 5100, stall_after_ms: 5000, last_heard_ms: { stun: 5100, dtls: null, rtp: null, rtcp: 5200 } } },
    ]);
    // One append: one commit, one recorded_at for all three.
    await log.append('connection:doomed', [
      { type: 'connection.error', data: { code: 'CONSENT_EXPIRED', message: 'nothing received from the viewer for 30000 ms', fatal: true } },
      state('connection', 'connected', 'failed'),
      { type: 'connection.closed', data: { reason: 'consent_expired', initiator: 'ice' } },
    ]);
    const shown = await page
      .waitForFunction(() => {
        const rows = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')];
        const doomed = rows.find((r) => r.dataset.id === 'doomed');
        const quiet = rows.find((r) => r.dataset.id === 'quiet');
        if (doomed?.dataset.outcome !== 'failed' || quiet?.dataset.stalled !== 'true') return null;
        const failedBadge = doomed.querySelector<HTMLElement>('td.state .badge')!;
        const stalledBadge = quiet.querySelector<HTMLElement>('td.state .badge-stalled')!;
        return {
          category: doomed.dataset.category,
          badge: failedBadge.textContent,
          color: getComputedStyle(failedBadge).backgroundColor,
          reason: doomed.querySelector('td.state .reason')?.textContent,
          stalled: stalledBadge.textContent,
          stalledColor: getComputedStyle(stalledBadge).backgroundColor,
        };
      }, undefined, { timeout: 10_000, polling: 50 })
      .then((h) => h.jsonValue());
    assert.equal(shown, { category: 'closed', badge: 'failed', color: 'rgb(197, 48, 48)', reason: 'CONSENT_EXPIRED', stalled: 'stalled', stalledColor: 'rgb(183, 121, 31)' });
    const cards = (await page.textContent('#cards')) ?? '';
    assert.match(cards, /1\s*ended failed/);
    assert.match(cards, /1\s*stalled/);
    assert.equal(problems, []);
  } finally {
    await close();
    await server.stop();
  }
});

page('drills down into a connection: its transitions in local time and a chart of its stats', async () => {
  const server = await startTestServer();
  // A zone with a half-hour offset, so a time shown in UTC or off by the offset is caught.
  const { page, problems, close } = await openPage(browser, { timezoneId: 'Asia/Kolkata' });
  try {
    const { store: log } = server.services;
    const created = await log.append('connection:drill', [{ type: 'connection.created', data: { connection_id: 'drill', mode: 'media' } }, ...toConnected]);
    assert.ok(created.ok);
    await load(page, server);
    await openDrilldown(page, 'drill');
    await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 5, undefined, { timeout: 10_000 });
    const lines = await page.$$eval('#timeline li .what', (els) => els.map((e) => e.textContent));
    // Newest first.
    assert.equal(lines, [
      'connection: connecting → connected',
      'ice: checking → connected',
      'ice: new → checking',
      'connection: new → connecting',
      'created (media)',
    ]);
    const first = await page.$eval('#timeline li:last-child time', (t) => ({ text: t.textContent, datetime: t.getAttribute('datetime') }));
    const at = new Date(created.ok ? created.recordedAt : 0);
    assert.is(first.datetime, at.toISOString());
    const kolkata = new Date(at.getTime() + 330 * 60_000).toISOString().replace('T', ' ').slice(0, 19);
    assert.is(first.text, kolkata);

    // Stats arrive live: the chart draws them without a reload.
    for (let i = 1; i <= 3; i++) {
      await log.append('connection:drill', [
        {
          type: 'connection.stats_sampled',
          data: { bytes_sent: i * 50_000, bytes_received: i * 500, packets_sent: i * 40, packets_received: i * 4, packets_lost: 0, rtt_ms: i, jitter_ms: 0.1, bitrate_out_bps: 400_000 * i, bitrate_in_bps: 4000, interval_ms: 1000 },
        },
      ]);
    }
    await page.waitForFunction(() => document.querySelectorAll('#chart-bitrate polyline').length === 2 && document.querySelectorAll('#chart-rtt polyline').length === 1, undefined, { timeout: 10_000 });
    await log.append('connection:drill', [{ type: 'connection.closed', data: { reason: 'operator', initiator: 'local' } }]);
    await page.waitForFunction(() => document.querySelector('#timeline li:first-child .what')?.textContent === 'closed by local: operator', undefined, { timeout: 10_000 });
    assert.equal(problems, []);
  } finally {
    await close();
    await server.stop();
  }
});

page('shows the newest page of a long timeline first and pages back to its first event with "Older events", nothing skipped', async () => {
  const server = await startTestServer();
  const { page, problems, close } = await openPage(browser);
  try {
    const { store: log } = server.services;
    // 1 + 64 + 1 events: more than one page (50) of the drill-down's timeline.
    const flips: NewEvent[] = Array.from({ length: 64 }, (_, i) => state('ice', i % 2 ? 'disconnected' : 'connected', i % 2 ? 'connected' : 'disconnected'));
    await log.append('connection:long', [{ type: 'connection.created', data: { connection_id: 'long', mode: 'media' } }, ...flips]);
    await log.append('connection:long', [{ type: 'connection.error', data: { code: 'LATE', message: 'the newest event', fatal: false } }]);
    await load(page, server);
    await openDrilldown(page, 'long');
    await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 50 && !document.querySelector<HTMLElement>('#timeline-older')!.hidden, undefined, { timeout: 10_000 });
    assert.is(await page.$eval('#timeline li:first-child', (li) => (li as HTMLElement).dataset.severity), 'bad', 'the newest event, an error, on top');
    await page.click('#timeline-older');
    await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 66, undefined, { timeout: 10_000 });
    const shown = await page.$$eval('#timeline li', (items) => items.map((li) => Number((li as HTMLElement).dataset.position)));
    const logged = (await log.readStream('connection:long')).map((e) => e.position).reverse();
    assert.equal(shown, logged, 'every event once, newest first');
    assert.is(await page.$eval('#timeline li:last-child .what', (e) => e.textContent), 'created (media)');
    assert.ok(await page.$eval('#timeline-older', (b) => (b as HTMLElement).hidden), 'nothing older');
    assert.equal(problems, []);
  } finally {
    await close();
    await server.stop();
  }
});

page('renders a hostile connection id and payloads as text, never as markup', async () => {
  const server = await startTestServer();
  const { page, problems, close } = await openPage(browser);
  const id = '<img src=x onerror=window.__xss=1>';
  try {
    await load(page, server);
    await server.services.store.append(`connection:${id}`, [
      { type: 'connection.created', data: { connection_id: id, content: '<script>window.__xss=2</script>', mode: 'data' } },
      { type: 'connection.error', data: { code: '<b>X</b>', message: '<img src=y onerror=window.__xss=3>' } },
      { type: 'connection.closed', data: { reason: '<svg onload=window.__xss=4>', initiator: 'remote' } },
    ]);
    await waitForRow(page, id, 'closed');
    await openDrilldown(page, id);
    await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 3, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => (document.querySelector('#drilldown-details')?.textContent ?? '').includes('errors'), undefined, { timeout: 10_000 });
    const shown = await page.evaluate((id) => {
      const row = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].find((r) => r.dataset.id === id)!;
      return {
        idText: row.querySelector('button.id')!.textContent,
        drillId: document.querySelector('#drilldown-id')!.textContent,
        injected: document.querySelectorAll('main img, main script, main svg:not(.chart svg) b, main b').length,
        xss: (window as unknown as { __xss?: number }).__xss,
        timeline: document.querySelector('#timeline')!.textContent,
      };
    }, id);
    assert.is(shown.idText, id);
    assert.is(shown.drillId, id);
    assert.is(shown.injected, 0);
    assert.is(shown.xss, undefined);
    assert.match(shown.timeline ?? '', /<svg onload=window.__xss=4>/);
    assert.equal(problems, []);
  } finally {
    await close();
    await server.stop();
  }
});

page('shows real werift viewers live, closes them from its controls, and sends the token', async () => {
  const token = 'dashboard-secret';
  const server = await startTestServer(
    { authToken: token, contentDir: resolve('content'), statsIntervalMs: 250 },
    { plugins: [webrtcPlugin] },
  );
  const { page, problems, close } = await openPage(browser, { viewport: { width: 1400, height: 1500 } });
  const viewers: Viewer[] = [];
  try {
    await load(page, server);
    await page.fill('#token', token);
    await page.click('#token-form button');

    // Start a stream with the dashboard's own form; the request must carry the token.
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith('/api/v0/mcp/webrtc/stream') && r.method() === 'POST'),
      page.click('#stream-start'),
    ]);
    assert.is(request.headers()['authorization'], `Bearer ${token}`);
    await page.waitForSelector('#started-whep', { timeout: 10_000 });
    const started = { whep_url: (await page.textContent('#started-whep'))! };
    assert.match(started.whep_url, /^http:\/\/127\.0\.0\.1:\d+\/api\/v0\/mcp\/webrtc\/whep\//, 'the stream answered a WHEP URL');

    for (let i = 0; i < 2; i++) viewers.push(await connectViewer(started.whep_url, { token, expect: 'media' }));
    for (const viewer of viewers) await waitForRow(page, viewer.connectionId, 'connected');

    // The drill-down of a real connection: its transitions and stats samples.
    const [first, second] = viewers;
    await openDrilldown(page, first.connectionId);
    await page.waitForFunction(
      () => [...document.querySelectorAll('#timeline li .what')].some((e) => e.textContent === 'connection: connecting → connected'),
      undefined,
      { timeout: 10_000 },
    );
    // A few samples (one each 250 ms) so the chart in the screenshot shows a line.
    await page.waitForFunction(
      () => (document.querySelector('#chart-bitrate polyline')?.getAttribute('points') ?? '').split(' ').length >= 6,
      undefined,
      { timeout: 5000 },
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });

    // Close one from its row: recorded as closed, shown live.
    const [closeRequest] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(`/connections/${first.connectionId}/close`)),
      page.evaluate((id) => {
        const row = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].find((r) => r.dataset.id === id)!;
        row.querySelector<HTMLButtonElement>('button.close-one')!.click();
      }, first.connectionId),
    ]);
    assert.is(closeRequest.status(), 200);
    assert.is(closeRequest.request().headers()['authorization'], `Bearer ${token}`);
    await waitForRow(page, first.connectionId, 'closed');
    assert.is(await rowCategory(page, second.connectionId), 'connected');

    // Close all takes two clicks.
    await page.click('#close-all');
    assert.is(await rowCategory(page, second.connectionId), 'connected');
    const [closeAll] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/connections/close-all')),
      page.click('#close-all'),
    ]);
    assert.is(closeAll.status(), 200);
    await waitForRow(page, second.connectionId, 'closed');
    assert.equal(problems, []);
  } finally {
    for (const viewer of viewers) await viewer.close().catch(() => {});
    await close();
    await server.stop();
  }
});

page.run();
