// The dashboard as an operator triages with it, in Chromium, against real
// werift viewers of a stream started from the dashboard's own streams panel:
// healthy ones, one that vanishes (it closes its peer without telling the
// server, as a killed process would: stalled, then failed when consent
// expires) and one that vanishes later (stalled while photographed). Short
// limits by config keep it quick; every wait is for something the page shows.
// Screenshots at 1280 and 700 px go to test-artifacts/.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { launchChromium, openPage } from '../../helpers/browser.ts';
import { webrtcPlugin } from '../../../src/http/webrtcPlugin.ts';
import { connectViewer, type Viewer } from '../../../src/webrtc/viewer.ts';

const ARTIFACTS = resolve('test-artifacts');
const SHOTS = { wide: resolve(ARTIFACTS, 'dashboard-triage-1280.png'), narrow: resolve(ARTIFACTS, 'dashboard-triage-700.png') };
// werift viewers send receiver reports about once a second: 2 s of silence means it went away.
const STALL_AFTER_MS = 2000;
// Long enough that the later one is still only stalled while both screenshots are taken.
const CONSENT_TIMEOUT_MS = 15_000;
const WAIT = { timeout: 20_000, polling: 50 };
const RANK = ['failed', 'stalled', 'disconnected', 'connecting', 'healthy', 'ended'];

/** Waits until the row of `id` shows `health`. */
function rowHealth(page: Page, id: string, health: string, timeout = WAIT.timeout) {
  return page.waitForFunction(
    ([id, health]) => document.querySelector<HTMLTableRowElement>(`#connections tbody tr[data-id="${id}"]`)?.dataset.health === health,
    [id, health] as const,
    { ...WAIT, timeout },
  );
}

const shownIds = (page: Page) => page.$$eval('#connections tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.id!));

/** Waits until the list shows exactly these ids (in any order). */
function listShows(page: Page, ids: string[]) {
  return page.waitForFunction(
    (ids) => {
      const shown = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].map((r) => r.dataset.id!).sort();
      return JSON.stringify(shown) === JSON.stringify([...ids].sort());
    },
    ids,
    WAIT,
  );
}

/** Waits until the list shows `id` and only rows of this health (a viewer replaced at set-up may have failed too). */
function onlyHealth(page: Page, id: string, health: string) {
  return page.waitForFunction(
    ([id, health]) => {
      const rows = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')];
      return rows.some((r) => r.dataset.id === id) && rows.every((r) => r.dataset.health === health);
    },
    [id, health] as const,
    WAIT,
  );
}

/**
 * What runs wider than the window: the page scrolling sideways, a section
 * scrolling inside, or a table whose right edge passes its section's content box.
 */
function widthProblems(page: Page) {
  return page.evaluate(() => {
    const out: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) out.push(`page ${root.scrollWidth} > ${root.clientWidth}`);
    for (const section of document.querySelectorAll<HTMLElement>('main > section, main > details')) {
      if (section.offsetParent === null) continue;
      if (section.scrollWidth > section.clientWidth) out.push(`${section.id || section.tagName} scrolls: ${section.scrollWidth} > ${section.clientWidth}`);
      const style = getComputedStyle(section);
      const right = section.getBoundingClientRect().right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight);
      for (const table of section.querySelectorAll<HTMLElement>('table')) {
        if (table.offsetParent === null) continue;
        const edge = table.getBoundingClientRect().right;
        if (edge > right + 0.5) out.push(`#${table.id} ends at ${edge.toFixed(0)} > ${right.toFixed(0)}`);
      }
    }
    return out;
  });
}

const triage = suite('the dashboard for triage (Chromium, real werift viewers)');
let browser: Browser;
triage.before(async () => {
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});
triage.after(async () => {
  await browser?.close();
});

triage('tells failed, stalled and healthy connections apart at a glance, filters, sorts, searches, drills down, and fits 1280 and 700 px', async () => {
  const server: TestServer = await startTestServer(
    { contentDir: resolve('content'), statsIntervalMs: 250, stallAfterMs: STALL_AFTER_MS, consentTimeoutMs: CONSENT_TIMEOUT_MS },
    { plugins: [webrtcPlugin] },
  );
  const { page, problems, close } = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  const viewers: Viewer[] = [];
  const silent: Viewer[] = [];
  try {
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#feed-status.feed-live');
    // Tasks are folded away until asked for; the issues list and banner are still there.
    assert.is(await page.$eval('#tasks-panel', (d) => (d as HTMLDetailsElement).open), false);
    assert.ok(await page.$('#issues-banner'), 'the issues banner');

    // A stream from the streams panel, with its content and quality.
    await page.fill('#stream-content', 'sample.webm');
    await page.selectOption('#stream-quality', 'low');
    await page.click('#stream-start');
    await page.waitForSelector('#started-whep', { timeout: WAIT.timeout }).catch(async (err) => {
      throw new Error(`${err.message}; the result says: ${await page.textContent('#control-result')}`);
    });
    const whep = (await page.textContent('#started-whep'))!;
    const streamId = whep.split('/').pop()!;
    await page.waitForFunction((id) => document.querySelector<HTMLTableRowElement>(`#streams tbody tr[data-id="${id}"]`)?.dataset.state === 'live', streamId, WAIT);
    assert.match((await page.textContent(`#streams tbody tr[data-id="${streamId}"]`))!, /media · sample\.webm · low/);

    // Four viewers; a set-up that stalls under load is replaced (at most four times).
    for (let attempt = 0; viewers.length < 4 && attempt < 8; attempt++) {
      const viewer = await connectViewer(whep, { expect: 'media', timeoutMs: 20_000 }).catch(() => null);
      if (viewer) viewers.push(viewer);
    }
    assert.is(viewers.length, 4, 'four viewers connected');
    // Two of them will go silent; the others stay healthy.
    const [doomed, quiet] = viewers.splice(2, 2);
    silent.push(doomed, quiet);
    for (const v of [...viewers, doomed, quiet]) {
      await page.waitForFunction((id) => document.querySelector<HTMLTableRowElement>(`#connections tbody tr[data-id="${id}"]`)?.dataset.category === 'connected', v.connectionId, WAIT);
    }

    // The panel's player link (the stream's viewer token in its fragment) opens
    // the player, which shows what its own getStats() measures.
    const link = await page.$eval(`#streams tbody tr[data-id="${streamId}"] a.player-link`, (a) => ({ href: (a as HTMLAnchorElement).href, target: a.getAttribute('target') }));
    assert.ok(link.href.startsWith(`${server.url}/player/${streamId}#token=`), link.href);
    assert.is(link.target, '_blank');
    const player = await page.context().newPage();
    await player.goto(link.href);
    await player.waitForFunction(
      () =>
        ((window as unknown as { playerStats?: { fps: number | null } }).playerStats?.fps ?? 0) > 0 &&
        /frames\/s$/.test(document.getElementById('fps')!.textContent!) &&
        /ms$/.test(document.getElementById('jitter')!.textContent!) &&
        /%/.test(document.getElementById('loss')!.textContent!),
      undefined,
      WAIT,
    );
    const measured = await player.evaluate(() => (window as unknown as { playerStats: { fps: number; loss: number; jitter_ms: number } }).playerStats);
    assert.ok(measured.fps > 0, `frame rate ${measured.fps}`);
    assert.ok(measured.loss >= 0 && measured.loss < 0.5 && measured.jitter_ms >= 0, JSON.stringify(measured));
    await player.close();

    // Gone silent: stalled first, failed when consent expires.
    await doomed.leave();
    await rowHealth(page, doomed.connectionId, 'stalled');
    await rowHealth(page, doomed.connectionId, 'failed', CONSENT_TIMEOUT_MS + WAIT.timeout);

    // At a glance: a word, a glyph and a colour per health, failed and healthy unlike.
    const look = await page.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].map((r) => {
          const b = r.querySelector<HTMLElement>('.health')!;
          return [r.dataset.id!, { text: b.textContent!, glyph: b.querySelector('.glyph')!.textContent!, color: getComputedStyle(b).color, edge: getComputedStyle(r.cells[0]).boxShadow }];
        }),
      ),
    );
    const healthy = look[viewers[0].connectionId];
    assert.match(look[doomed.connectionId].text, /failed/);
    assert.match(healthy.text, /healthy/);
    assert.is.not(look[doomed.connectionId].glyph, healthy.glyph);
    assert.is.not(look[doomed.connectionId].color, healthy.color);
    assert.is.not(look[doomed.connectionId].edge, healthy.edge);
    // Problems first by default: health never gets better down the list.
    const order = await page.$$eval('#connections tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.health!));
    assert.is(order[0], 'failed');
    assert.equal(order, [...order].sort((a, b) => RANK.indexOf(a) - RANK.indexOf(b)), order.join());

    // Filters ask the server; search and sort work on what is shown.
    await page.selectOption('#conn-filter-state', 'failed');
    await onlyHealth(page, doomed.connectionId, 'failed');
    await page.selectOption('#conn-filter-state', 'healthy');
    await onlyHealth(page, viewers[0].connectionId, 'healthy');
    assert.not.ok((await shownIds(page)).includes(doomed.connectionId));
    await page.selectOption('#conn-filter-state', 'all');
    await page.selectOption('#conn-filter-outcome', 'failed');
    await onlyHealth(page, doomed.connectionId, 'failed');
    await page.selectOption('#conn-filter-outcome', '');
    await page.selectOption('#conn-filter-stream', streamId);
    await page.waitForFunction(
      ([ids]) => ids.every((id) => !!document.querySelector(`#connections tbody tr[data-id="${id}"]`)),
      [[...viewers, doomed, quiet].map((v) => v.connectionId)] as const,
      WAIT,
    );
    await page.selectOption('#conn-filter-stream', '');
    await page.fill('#conn-search', quiet.connectionId.slice(4, 14));
    await listShows(page, [quiet.connectionId]);
    await page.fill('#conn-search', '');
    await page.selectOption('#conn-sort', 'oldest');
    const oldest = await shownIds(page);
    await page.selectOption('#conn-sort', 'newest');
    assert.equal(await shownIds(page), [...oldest].reverse());
    await page.selectOption('#conn-sort', 'problems');

    // The failed one's drill-down: newest first, the error highlighted and in
    // view (not inside a scroll box), five charts with the events marked.
    // Clicked in the page: the list re-renders live, so a row is never "stable" for a pointer click.
    await page.evaluate((id) => document.querySelector<HTMLButtonElement>(`#connections tbody tr[data-id="${id}"] button.id`)!.click(), doomed.connectionId);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('#timeline li')].some((li) => li.dataset.type === 'connection.error'), undefined, WAIT);
    await page.waitForFunction(
      () => ['bitrate', 'rtt', 'loss', 'jitter', 'fps'].every((c) => document.querySelector(`#chart-${c} polyline`)) && document.querySelector('#charts g.marker[data-kind="stall"]'),
      undefined,
      WAIT,
    );
    const drill = await page.evaluate(() => {
      const items = [...document.querySelectorAll<HTMLLIElement>('#timeline li')];
      const list = document.getElementById('timeline')!;
      const error = items.find((li) => li.dataset.type === 'connection.error')!;
      const box = error.getBoundingClientRect();
      return {
        positions: items.map((li) => Number(li.dataset.position)),
        // The newest of the connection's own events (issue events about it may be newer).
        first: items.find((li) => li.dataset.type!.startsWith('connection.'))!.querySelector('.what')!.textContent,
        types: items.map((li) => li.dataset.type),
        error: { severity: error.dataset.severity, flag: error.querySelector('.flag')?.textContent, text: error.querySelector('.what')!.textContent, background: getComputedStyle(error).backgroundColor },
        errorIndex: items.indexOf(error),
        clipped: list.scrollHeight > list.clientHeight + 1 || getComputedStyle(list).overflowY !== 'visible' || box.height === 0,
        markers: [...new Set([...document.querySelectorAll<SVGGElement>('#charts g.marker')].map((g) => g.dataset.kind))],
      };
    });
    assert.equal(drill.positions, [...drill.positions].sort((a, b) => b - a), 'newest first');
    assert.match(drill.first!, /^closed by ice: consent_expired/, drill.types.join());
    // Only the failure's aftermath (state changes, the close, issue events) is newer.
    assert.ok(drill.errorIndex < 12, `the error is among the newest items, at ${drill.errorIndex}: ${drill.types.join()}`);
    assert.equal([drill.error.severity, drill.error.flag], ['bad', 'ERROR']);
    assert.match(drill.error.text!, /CONSENT_EXPIRED/);
    assert.is.not(drill.error.background, 'rgba(0, 0, 0, 0)');
    assert.is(drill.clipped, false, 'the timeline is never cut off inside a scroll box');
    for (const kind of ['state', 'stall', 'error']) assert.ok(drill.markers.includes(kind), `${kind} among the markers: ${drill.markers}`);

    // The later one goes silent too: stalled (and still so when photographed).
    await quiet.leave();
    await rowHealth(page, quiet.connectionId, 'stalled');
    assert.equal(await widthProblems(page), [], 'at 1280 px');
    await page.screenshot({ path: SHOTS.wide, fullPage: true });
    await page.setViewportSize({ width: 700, height: 900 });
    await page.waitForFunction(() => document.documentElement.clientWidth <= 700, undefined, WAIT);
    assert.equal(await widthProblems(page), [], 'at 700 px');
    // The health words survive the narrow layout.
    const word = await page.$eval(`#connections tbody tr[data-id="${quiet.connectionId}"] .health`, (b) => ({ shown: (b as HTMLElement).offsetWidth > 0, text: b.textContent }));
    assert.equal(word, { shown: true, text: '⚠ stalled' });
    await page.screenshot({ path: SHOTS.narrow, fullPage: true });
    // Guards the pictures: on a machine too slow for the consent window they would not show a stalled row.
    assert.is(await page.$eval(`#connections tbody tr[data-id="${quiet.connectionId}"]`, (r) => (r as HTMLElement).dataset.health), 'stalled', 'still stalled after both screenshots');
    await page.selectOption('#conn-filter-state', 'stalled');
    await onlyHealth(page, quiet.connectionId, 'stalled');
    await page.selectOption('#conn-filter-state', 'all');
    console.log(`dashboard screenshots: ${SHOTS.wide} ${SHOTS.narrow}`);

    // Stop from the streams panel: every viewer of it is closed, the stream shows stopped.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.evaluate((id) => document.querySelector<HTMLButtonElement>(`#streams tbody tr[data-id="${id}"] button.stop-stream`)!.click(), streamId);
    await page.waitForFunction((id) => document.querySelector<HTMLTableRowElement>(`#streams tbody tr[data-id="${id}"]`)?.dataset.state === 'stopped', streamId, WAIT);
    await rowHealth(page, viewers[0].connectionId, 'ended');
    assert.match((await page.textContent('#control-result'))!, /Stopped stream/);
    assert.equal(problems, []);
  } finally {
    for (const viewer of viewers) await viewer.close().catch(() => {});
    for (const viewer of silent) await viewer.leave().catch(() => {});
    await close();
    await server.stop();
  }
});

triage.run();
