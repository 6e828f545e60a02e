// Debian's Chromium as a viewer nobody here wrote: it opens the player page
// (`url` from POST stream), connects through WHEP and plays the sample clip.
// Asserted inside the browser (its own inbound-rtp stats) and in the monitor
// (state transitions, tracks, stats samples, how the connection ended).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, type WatchedPage } from '../../helpers/browser.ts';
import { launchKillableChromium } from '../../helpers/chromiumProcess.ts';
import { CONTENT_DIR, MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../../helpers/webrtc.ts';

const ARTIFACTS = resolve('test-artifacts');
const SAMPLE_BYTES = readFileSync(join(CONTENT_DIR, 'sample.webm'));
const SAMPLE_SHA256 = createHash('sha256').update(SAMPLE_BYTES).digest('hex');
let server: WebRtcTestServer;
let browser: Browser;

/** The connection id the player shows once WHEP answered (the last segment of its session URL). */
async function playerConnectionId(page: Page): Promise<string> {
  await page.waitForFunction(() => document.getElementById('connection')!.textContent !== '', null, { timeout: 10_000, polling: 50 });
  return page.$eval('#connection', (el) => el.textContent!);
}

/** What Chromium itself says it received, from the page's RTCPeerConnection (`window.pc`). */
function inboundRtp(page: Page) {
  return page.evaluate(async () => {
    const report = await (window as unknown as { pc: RTCPeerConnection }).pc.getStats();
    const out = { framesDecoded: 0, videoPackets: 0, audioPackets: 0, audioSamples: 0, connectionState: '' };
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') {
        out.framesDecoded += s.framesDecoded ?? 0;
        out.videoPackets += s.packetsReceived ?? 0;
      } else if (s.kind === 'audio') {
        out.audioPackets += s.packetsReceived ?? 0;
        out.audioSamples += s.totalSamplesReceived ?? 0;
      }
    });
    out.connectionState = (window as unknown as { pc: RTCPeerConnection }).pc.connectionState;
    return out;
  });
}

async function connection(id: string) {
  return (await server.json(`${MONITOR}/connections/${id}?events_limit=1000`)).body;
}

async function openPlayer(): Promise<{ watched: WatchedPage; id: string }> {
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const watched = await openPage(browser, { viewport: { width: 720, height: 640 } });
  await watched.page.goto(stream.url);
  const id = await playerConnectionId(watched.page);
  return { watched, id };
}

const player = suite('the player page in Chromium');
player.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 250 });
  browser = await launchChromium();
});
player.after(async () => {
  await browser?.close();
  await server?.stop();
});

player('plays the sample clip: Chromium decodes video frames and receives audio, and the monitor records the connection', async () => {
  const { watched, id } = await openPlayer();
  const { page } = watched;
  try {
    const rtp = await waitFor(async () => {
      const r = await inboundRtp(page);
      return r.framesDecoded >= 30 && r.audioPackets > 0 ? r : null;
    }, 10_000, 'decoded video frames and audio packets in Chromium');
    assert.ok(rtp.framesDecoded >= 30, `framesDecoded ${rtp.framesDecoded}`);
    assert.ok(rtp.audioPackets > 0, `audio packetsReceived ${rtp.audioPackets}`);
    assert.is(rtp.connectionState, 'connected');

    // The <video> element is really playing pixels, not just counting packets.
    const video = await page.$eval('video', (v: HTMLVideoElement) => ({ width: v.videoWidth, height: v.videoHeight, time: v.currentTime }));
    assert.ok(video.width > 0 && video.height > 0 && video.time > 0, JSON.stringify(video));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: resolve(ARTIFACTS, 'player.png'), fullPage: true });

    const body = await waitFor(async () => {
      const b = await connection(id);
      return b.connection.stats_samples >= 2 && b.connection.latest_stats?.bytes_sent > 0 ? b : null;
    }, 5000, 'stats samples in the monitor');
    const c = body.connection;
    assert.is(c.category, 'connected');
    assert.is(c.mode, 'media');
    assert.match(c.user_agent, /Chrome/);
    assert.ok(c.setup_ms > 0, `setup_ms ${c.setup_ms}`);
    assert.ok(c.candidates.remote > 0, 'Chromium offered candidates');
    assert.ok(c.selected_pair?.local && c.selected_pair?.remote, 'a selected pair');
    assert.equal(c.tracks.map((t: { kind: string; codec: string }) => `${t.kind} ${t.codec}`).sort(), ['audio audio/opus', 'video video/VP8']);
    const transitions = body.timeline.events
      .filter((e: { type: string; data: { kind: string } }) => e.type === 'connection.state_changed' && e.data.kind === 'connection')
      .map((e: { data: { to: string } }) => e.data.to);
    assert.equal(transitions, ['connecting', 'connected']);
    const samples = body.timeline.events.filter((e: { type: string }) => e.type === 'connection.stats_sampled');
    assert.ok(samples.some((e: { data: { frames_sent: number; packets_sent: number } }) => e.data.frames_sent > 0 && e.data.packets_sent > 0));
    assert.ok(samples.some((e: { data: { bitrate_out_bps: number } }) => e.data.bitrate_out_bps > 0), 'a sample with an outgoing bitrate');
    assert.equal(watched.problems, []);
    process.stdout.write(`  (Chromium: connected ${c.setup_ms} ms after the connection was created; ${rtp.framesDecoded} frames decoded)\n`);
  } finally {
    await watched.close();
  }
});

player('in data mode, Chromium receives the file over a data channel and verifies its SHA-256 against the one the server sends', async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'data' });
  const watched = await openPage(browser);
  try {
    await watched.page.goto(stream.url);
    const id = await playerConnectionId(watched.page);
    const result = await watched.page
      .waitForFunction(() => {
        const r = (window as unknown as { dataResult?: { verified: boolean; passes: number; mismatches: number; sha256: string } }).dataResult;
        return r?.verified ? r : null;
      }, null, { timeout: 10_000, polling: 50 })
      .then((h) => h.jsonValue());
    assert.ok(result, 'a verified pass');
    assert.is(result!.mismatches, 0);
    assert.is(result!.sha256, SAMPLE_SHA256);
    await watched.page.close({ runBeforeUnload: true });
    const c = await waitFor(async () => {
      const b = await connection(id);
      return b.connection.category === 'closed' ? b.connection : null;
    }, 3000, 'the close');
    assert.is(c.close.initiator, 'remote');
    assert.is(c.data_channels.length, 1);
    assert.is(c.data_channels[0].sha256, SAMPLE_SHA256);
    assert.ok(c.data_channels[0].bytes_sent >= SAMPLE_BYTES.length);
    assert.equal(watched.problems, []);
  } finally {
    await watched.close();
  }
});

player('closing the page sends the WHEP DELETE on pagehide: the close is recorded within 1 s, initiated by the remote side', async () => {
  const { watched, id } = await openPlayer();
  await waitFor(async () => (await inboundRtp(watched.page)).framesDecoded > 0, 10_000, 'a decoded frame');
  await waitFor(async () => (await connection(id)).connection.category === 'connected', 5000, 'connected');

  // What reached the server after the page went away, as the server answered it.
  const answered: { method: string; url: string; status: number }[] = [];
  const watch = (req: IncomingMessage, res: ServerResponse) =>
    res.on('finish', () => answered.push({ method: req.method!, url: req.url!, status: res.statusCode }));
  server.server.on('request', watch);
  try {
    const closingAt = Date.now();
    await watched.page.close({ runBeforeUnload: true });
    const c = await waitFor(async () => {
      const b = await connection(id);
      return b.connection.category === 'closed' ? b.connection : null;
    }, 3000, 'the close');
    const recordedAfter = Date.parse(c.closed_at) - closingAt;
    assert.ok(recordedAfter <= 1000, `close recorded ${recordedAfter} ms after the page closed`);
    assert.is(c.close.initiator, 'remote');
    // The player sends the keepalive DELETE and then calls pc.close(), whose
    // DTLS close_notify usually reaches werift first (measured: 6 of 6 runs,
    // the DELETE 15-40 ms after the page closed). Both are the viewer hanging
    // up; pc.close() is kept because page teardown alone sends nothing, so a
    // lost DELETE would otherwise wait for the consent timeout.
    assert.ok(['whep_delete', 'dtls_closed'].includes(c.close.reason), c.close.reason);
    // The DELETE itself must arrive: 204 when it closed or joined the close,
    // 404 when the DTLS close had already ended the session.
    const del = await waitFor(() => answered.find((r) => r.method === 'DELETE' && r.url.endsWith(`/sessions/${id}`)), 3000, 'the DELETE');
    assert.ok([204, 404].includes(del.status), JSON.stringify(del));
    if (c.close.reason === 'whep_delete') assert.is(del.status, 204);
    process.stdout.write(`  (page close recorded after ${recordedAfter} ms as ${c.close.reason}; DELETE answered ${del.status})\n`);
  } finally {
    server.server.off('request', watch);
    await watched.close();
  }
});

player('a browser killed outright is recorded as failed at the consent timeout, then closed with initiator ice', async () => {
  const doomed = await launchKillableChromium();
  try {
    const watched = await openPage(doomed.browser);
    const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
    await watched.page.goto(stream.url);
    const id = await playerConnectionId(watched.page);
    await waitFor(async () => (await inboundRtp(watched.page)).framesDecoded > 0, 10_000, 'a decoded frame');

    const killedAt = Date.now();
    doomed.kill();
    const body = await waitFor(async () => {
      const b = await connection(id);
      return b.connection.category === 'closed' ? b : null;
    }, 60_000, 'the consent timeout');
    const events = body.timeline.events as { type: string; position: number; recorded_at: string; data: Record<string, unknown> }[];
    const failed = events.find((e) => e.type === 'connection.state_changed' && e.data.kind === 'connection' && e.data.to === 'failed');
    assert.ok(failed, 'a connection state change to failed');
    const failedAfter = Date.parse(failed.recorded_at) - killedAt;
    const closedAfter = Date.parse(body.connection.closed_at) - killedAt;
    // No packet arrives after the kill, so the server's consent watchdog (30 s) is what notices.
    assert.ok(failedAfter > 25_000 && failedAfter < 40_000, `failed recorded ${failedAfter} ms after the kill`);
    assert.ok(closedAfter >= failedAfter, 'closed after failed');
    const transitions = events.filter((e) => e.type === 'connection.state_changed' && e.data.kind === 'connection').map((e) => e.data.to);
    assert.equal(transitions, ['connecting', 'connected', 'failed', 'closed']);
    assert.ok(events.some((e) => e.type === 'connection.error' && e.data.code === 'CONSENT_EXPIRED' && e.data.fatal === true));
    assert.equal(body.connection.close, { reason: 'consent_expired', initiator: 'ice' });
    // Time travel to the failure (by log position: failed and closed share a millisecond) shows the failed category.
    const at = (await server.json(`${MONITOR}/connections/${id}?at=${failed.position}`)).body.connection;
    assert.is(at.category, 'failed');
    assert.is((await server.json(`${WEBRTC}/connections`)).body.some((c: { id: string }) => c.id === id), false);
    process.stdout.write(`  (killed browser: failed after ${failedAfter} ms, closed after ${closedAfter} ms)\n`);
  } finally {
    await doomed.close();
  }
});

player.run();
