// Debian's Chromium as a viewer nobody here wrote: it opens the player page
// (`url` from POST stream), connects through WHEP and plays the sample clip.
// Asserted inside the browser (its own inbound-rtp stats) and in the monitor
// (state transitions, tracks, stats samples, how the connection ended).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, type WatchedPage } from '../../helpers/browser.ts';
import { launchKillableChromium } from '../../helpers/chromiumProcess.ts';
import { CONTENT_DIR, MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../../helpers/webrtc.ts';
import { scrape, value } from '../../helpers/metrics.ts';
import type { TrackSample } from '../../../src/log/catalogue.ts';
import { dbOf } from '../../helpers/db.ts';

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

async function connection(id: string, on: WebRtcTestServer = server) {
  return (await on.json(`${MONITOR}/connections/${id}?events_limit=1000&include=stats`)).body;
}

type Sample = { rtt_ms: number | null; jitter_ms: number | null; fraction_lost: number | null; tracks?: TrackSample[] };
const sampleData = (body: { timeline: { events: { type: string; data: Sample }[] } }) =>
  body.timeline.events.filter((e) => e.type === 'connection.stats_sampled').map((e) => e.data);

async function openPlayer(on: WebRtcTestServer = server, inBrowser: Browser = browser): Promise<{ watched: WatchedPage; id: string }> {
  const stream = await on.stream({ content: 'sample.webm', mode: 'media' });
  const watched = await openPage(inBrowser, { viewport: { width: 720, height: 640 } });
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
    }, 15_000, 'stats samples in the monitor');
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
    assert.is(samples[0].data.bitrate_out_bps, null, 'the first sample has no rate: unknown, not 0');

    // Chromium's receiver reports: per-track jitter and loss, and an RTT that
    // changes between samples (Chromium reports on audio less often than on video).
    const full = await waitFor(async () => {
      const all = sampleData(await connection(id));
      const last = all.at(-1);
      const ready = last?.tracks?.length === 2 && last.tracks.every((t) => t.jitter_ms !== null && t.fraction_lost !== null && t.rtt_ms !== null);
      const videoRtts = new Set(all.map((x) => x.tracks?.find((t) => t.kind === 'video')?.rtt_ms).filter((v) => typeof v === 'number'));
      return ready && videoRtts.size >= 2 ? all : null;
    }, 15_000, "per-track jitter, loss and a changing RTT from Chromium's reports");
    const last = full.at(-1)!;
    for (const t of last.tracks!) {
      assert.ok(t.receiver_reports > 0, `${t.kind} receiver reports`);
      assert.ok(t.jitter_ms! >= 0 && t.fraction_lost! >= 0 && t.fraction_lost! <= 1 && t.rtt_ms! >= 0, JSON.stringify(t));
    }
    assert.equal([typeof last.jitter_ms, typeof last.fraction_lost, typeof last.rtt_ms], ['number', 'number', 'number']);
    // The SQL view has them too.
    const rows = dbOf(server.services)
      .prepare("SELECT kind, jitter_ms, fraction_lost, rtt_ms FROM track_samples WHERE connection_id = ? AND rtt_ms IS NOT NULL AND jitter_ms IS NOT NULL")
      .all(id) as { kind: string }[];
    assert.equal([...new Set(rows.map((r) => r.kind))].sort(), ['audio', 'video']);
    const flat = dbOf(server.services).prepare('SELECT count(*) FROM stats_samples WHERE connection_id = ? AND jitter_ms IS NOT NULL AND fraction_lost IS NOT NULL').pluck().get(id) as number;
    assert.ok(flat > 0, 'stats_samples.jitter_ms and fraction_lost are filled');
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(resolve(ARTIFACTS, 'chromium-sample.json'), `${JSON.stringify(last, null, 2)}\n`);
    assert.equal(watched.problems, []);
    process.stdout.write(`  (Chromium: connected ${c.setup_ms} ms after the connection was created; ${rtp.framesDecoded} frames decoded)\n`);
  } finally {
    await watched.close();
  }
});

player('joins a stream a werift viewer is already watching: the one player feeds both, and Chromium decodes from its first frame on', async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const werift = await server.viewer(stream.whep_url, 'media');
  const watched = await openPage(browser, { viewport: { width: 720, height: 640 } });
  try {
    // The werift viewer is into the clip (past its first keyframe) before Chromium joins.
    await waitFor(() => werift.frames >= 10, 15_000, 'ten frames on the werift viewer');
    const players = async () => (await server.json(`${WEBRTC}/stats/resources`)).body.webrtc.media_players_opened as number;
    const opened = await players();
    await watched.page.goto(stream.url);
    await playerConnectionId(watched.page);
    const rtp = await waitFor(async () => {
      const r = await inboundRtp(watched.page);
      return r.framesDecoded >= 30 && r.audioPackets > 0 ? r : null;
    }, 15_000, 'decoded video frames in Chromium, a late joiner');
    assert.ok(rtp.framesDecoded >= 30, `framesDecoded ${rtp.framesDecoded}`);
    assert.is(await players(), opened, 'Chromium is fed by the player already playing');
    const frames = werift.frames;
    await waitFor(() => werift.frames >= frames + 30, 15_000, 'the werift viewer still playing');
    assert.equal(watched.problems, []);
  } finally {
    await watched.close();
    await werift.close();
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
    }, 10_000, 'the close');
    assert.is(c.close.initiator, 'remote');
    assert.is(c.data_channels.length, 1);
    assert.is(c.data_channels[0].sha256, SAMPLE_SHA256);
    assert.ok(c.data_channels[0].bytes_sent >= SAMPLE_BYTES.length);
    assert.equal(watched.problems, []);
  } finally {
    await watched.close();
  }
});

// Promptly means by the viewer's own hang-up (the DELETE or the DTLS close),
// not by the consent timeout 30 s later: the recorded reason says which.
player('closing the page sends the WHEP DELETE on pagehide: the close is recorded as the viewer hanging up, initiated by the remote side', async () => {
  const { watched, id } = await openPlayer();
  await waitFor(async () => (await inboundRtp(watched.page)).framesDecoded > 0, 10_000, 'a decoded frame');
  await waitFor(async () => (await connection(id)).connection.category === 'connected', 15_000, 'connected');

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
    }, 10_000, 'the close');
    const recordedAfter = Date.parse(c.closed_at) - closingAt;
    assert.is(c.close.initiator, 'remote');
    // The player sends the keepalive DELETE and then calls pc.close(), whose
    // DTLS close_notify usually reaches werift first (measured: 6 of 6 runs,
    // the DELETE 15-40 ms after the page closed). Both are the viewer hanging
    // up; pc.close() is kept because page teardown alone sends nothing, so a
    // lost DELETE would otherwise wait for the consent timeout.
    assert.ok(['whep_delete', 'dtls_closed'].includes(c.close.reason), c.close.reason);
    // The DELETE itself must arrive: 204 when it closed or joined the close,
    // 404 when the DTLS close had already ended the session.
    const del = await waitFor(() => answered.find((r) => r.method === 'DELETE' && r.url.endsWith(`/sessions/${id}`)), 10_000, 'the DELETE');
    assert.ok([204, 404].includes(del.status), JSON.stringify(del));
    if (c.close.reason === 'whep_delete') assert.is(del.status, 204);
    process.stdout.write(`  (page close recorded after ${recordedAfter} ms as ${c.close.reason}; DELETE answered ${del.status})\n`);
  } finally {
    server.server.off('request', watch);
    await watched.close();
  }
});

// The killed-browser test runs against its own server with short limits
// (the suite's server keeps the defaults, so healthy viewers never stall):
// Chromium sends receiver reports about once a second, so 1.5 s of silence
// means something is wrong.
const STALL_AFTER_MS = 1500;
const CONSENT_TIMEOUT_MS = 4000;

player('a browser killed outright is stalled within seconds, failed at the consent timeout, counted as failed and shown red', async () => {
  const killable = await startWebRtcServer({ statsIntervalMs: 250, stallAfterMs: STALL_AFTER_MS, consentTimeoutMs: CONSENT_TIMEOUT_MS });
  const doomed = await launchKillableChromium();
  const dashboard = await openPage(browser, { viewport: { width: 1400, height: 900 } });
  try {
    const { watched, id } = await openPlayer(killable, doomed.browser);
    await waitFor(async () => (await inboundRtp(watched.page)).framesDecoded > 0, 10_000, 'a decoded frame');
    // Mid-stream, with Chromium's receiver reports arriving on every track.
    await waitFor(
      async () => ((await killable.json(`${WEBRTC}/connections/${id}/stats`)).body.stats.tracks as TrackSample[]).every((t) => t.receiver_reports > 0),
      10_000,
      'receiver reports on every track',
    );
    const before = await scrape(killable);
    assert.is(value(before, 'webrtc_connections_ended_total', { outcome: 'failed' }), 0);

    const killedAt = Date.now();
    doomed.kill();
    const body = await waitFor(async () => {
      const b = await connection(id, killable);
      return b.connection.category === 'closed' ? b : null;
    }, 30_000, 'the consent timeout');
    const events = body.timeline.events as { type: string; position: number; recorded_at: string; data: Record<string, any> }[];
    const stalled = events.find((e) => e.type === 'connection.stalled');
    assert.ok(stalled, 'connection.stalled was recorded');
    assert.ok(stalled.data.silent_ms >= STALL_AFTER_MS, `silent for ${stalled.data.silent_ms} ms`);
    assert.is(events.filter((e) => e.type === 'connection.stalled').length, 1, 'no stall before the kill');
    const failed = events.find((e) => e.type === 'connection.state_changed' && e.data.kind === 'connection' && e.data.to === 'failed');
    assert.ok(failed, 'a connection state change to failed');
    assert.ok(stalled.position < failed.position, 'stalled before failed');
    const transitions = events.filter((e) => e.type === 'connection.state_changed' && e.data.kind === 'connection').map((e) => e.data.to);
    assert.equal(transitions, ['connecting', 'connected', 'failed', 'closed']);
    assert.ok(events.some((e) => e.type === 'connection.error' && e.data.code === 'CONSENT_EXPIRED' && e.data.fatal === true));
    const c = body.connection;
    assert.equal(c.close, { reason: 'consent_expired', initiator: 'ice' });
    assert.is(c.outcome, 'failed', 'failed -> closed in the same millisecond is still a failure');
    assert.is(c.failure.code, 'CONSENT_EXPIRED');
    // Time travel to the failure (by log position: failed and closed share a millisecond) shows the failed category.
    const at = (await killable.json(`${MONITOR}/connections/${id}?at=${failed.position}`)).body.connection;
    assert.is(at.category, 'failed');
    assert.is((await killable.json(`${WEBRTC}/connections`)).body.some((x: { id: string }) => x.id === id), false);

    // Counted: the summary's outcomes, the filter, the counter.
    const summary = (await killable.json(`${MONITOR}/summary`)).body;
    assert.is(summary.connection_outcomes.failed, 1);
    assert.is(summary.connection_states.failed, 0, "the original's shape: by state it is closed");
    assert.equal(Object.keys((await killable.json(`${MONITOR}/connections?outcome=failed`)).body.connections), [id]);
    assert.is(value(await scrape(killable), 'webrtc_connections_ended_total', { outcome: 'failed' }), 1);

    // The dashboard shows it failed, in red, with its reason; never a grey "closed".
    await dashboard.page.goto(`${killable.url}/dashboard`);
    await dashboard.page.waitForSelector('body[data-ready="true"]');
    const row = await dashboard.page.waitForFunction(
      (id) => {
        const tr = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].find((r) => r.dataset.id === id);
        if (!tr || tr.dataset.outcome !== 'failed') return null;
        const badge = tr.querySelector<HTMLElement>('td.state .badge')!;
        return { badge: badge.textContent, color: getComputedStyle(badge).backgroundColor, reason: tr.querySelector('td.state .reason')?.textContent, cls: [...tr.classList].sort().join(' '), health: tr.querySelector('.health')?.textContent };
      },
      id,
      { timeout: 5000, polling: 50 },
    ).then((h) => h.jsonValue());
    assert.equal(row, { badge: 'failed', color: 'rgb(197, 48, 48)', reason: 'CONSENT_EXPIRED', cls: 'failed row-failed', health: '✖ failed' });
    assert.match((await dashboard.page.textContent('#cards')) ?? '', /1\s*ended failed/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await dashboard.page.screenshot({ path: resolve(ARTIFACTS, 'dashboard-failed.png'), fullPage: true });
    assert.equal(dashboard.problems, []);

    const since = (iso: string) => Date.parse(iso) - killedAt;
    process.stdout.write(`  (killed browser: stalled after ${since(stalled.recorded_at)} ms, failed after ${since(failed.recorded_at)} ms; limits ${STALL_AFTER_MS}/${CONSENT_TIMEOUT_MS} ms)\n`);
  } finally {
    await dashboard.close();
    await doomed.close();
    await killable.stop();
  }
});

player.run();
