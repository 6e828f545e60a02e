// The dashboard's issues (src/http/public/issues.js) in Chromium: the banner
// and the list appear when the detectors raise an issue and go when it
// resolves; the connection list shows the quality score with its reasons.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { launchChromium, openPage } from '../../helpers/browser.ts';
import { tempDir } from '../../helpers/db.ts';

const test = suite('dashboard issues');
let browser: Browser;
let server: TestServer;
let cleanup: () => void;

test.before(async () => {
  const dir = tempDir();
  cleanup = dir.cleanup;
  const rulesPath = join(dir.dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify({ tick_ms: 50, stalled: { hold_ms: 0, severity: 'critical' } }));
  server = await startTestServer({ rulesPath });
  browser = await launchChromium();
});
test.after(async () => {
  await browser.close();
  await server.stop();
  cleanup();
});

test('shows a banner and the open issue while a connection is stalled, with its score, and clears them once it resolves', async () => {
  const { page, problems, close } = await openPage(browser);
  try {
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#feed-status.feed-live');
    assert.ok(await page.$eval('#issues-banner', (el) => (el as HTMLElement).hidden));
    const score = { score: 42, audio: { r: 42, mos: 2.2, score: 42 }, video: null, reasons: ['audio loss 8% costs 23 R'] };
    await server.services.store.append('connection:c1', [
      { type: 'connection.created', data: { connection_id: 'c1' } },
      { type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'connected' } },
      {
        type: 'connection.stats_sampled',
        data: { bytes_sent: 1, bytes_received: 1, packets_sent: 1, packets_received: 1, packets_lost: 0, rtt_ms: 10, jitter_ms: 1, bitrate_out_bps: null, bitrate_in_bps: null, interval_ms: null, score },
      },
      { type: 'connection.stalled', data: { silent_ms: 1000, stall_after_ms: 1000, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } } },
    ]);
    await page.waitForSelector('#issues-banner.issues-critical:not([hidden])', { timeout: 5000 });
    assert.match(await page.$eval('#issues-banner', (el) => el.textContent ?? ''), /1 open issue: stalled/);
    assert.is(await page.$$eval('#issues tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.type).join()), 'stalled');
    const cell = await page.$eval('#connections tbody tr[data-id="c1"] td.quality span', (el) => ({ text: el.textContent, title: el.getAttribute('title'), cls: el.className }));
    assert.equal(cell, { text: '42', title: 'audio loss 8% costs 23 R', cls: 'score score-critical' });

    await server.services.store.append('connection:c1', [{ type: 'connection.resumed', data: { stalled_ms: 10, via: ['rtp'] } }]);
    await page.waitForSelector('#issues-banner[hidden]', { state: 'attached', timeout: 5000 });
    assert.is(await page.$$eval('#issues tbody tr', (rows) => rows.length), 0);
    assert.equal(problems, []);
  } finally {
    await close();
  }
});

test.run();
