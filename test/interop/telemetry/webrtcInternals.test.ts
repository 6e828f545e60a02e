// Dumps Chromium itself produced, imported with `webrtc-monitor import`:
// headless Chromium 156 opens chrome://webrtc-internals in a second tab while
// the player plays, and its "Create a WebRTC-Internals dump" section saves
// both the webrtc-internals dump (gzipped, "Compress result" is on by
// default) and an rtcstats dump. Each imports as a client stream joined to
// the server connection (by the SDP in its update log), with IP addresses
// masked on request, and answers the README's viewer_quality query.
import { suite } from 'uvu';
import { dbOf } from '../../helpers/db.ts';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../helpers/browser.ts';
import { MONITOR, startWebRtcServer, waitFor, type WebRtcTestServer } from '../../helpers/webrtc.ts';
import { runCli } from '../../helpers/cli.ts';

let server: WebRtcTestServer;
let browser: Browser;

const Import = suite('import of dumps Chromium saved from chrome://webrtc-internals');
Import.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 500 });
  browser = await launchChromium();
});
Import.after(async () => {
  await browser?.close();
  await server?.stop();
});

Import('imports the webrtc-internals dump and the rtcstats dump, joined to the connection, IPs masked, answering viewer_quality', async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  try {
    const internals = await context.newPage();
    await internals.goto('chrome://webrtc-internals');
    const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
    const page = await context.newPage();
    await page.goto(stream.url);
    await page.waitForFunction(() => document.getElementById('connection')!.textContent !== '', null, { timeout: 10_000, polling: 50 });
    const id = await page.$eval('#connection', (el) => el.textContent!);
    // The live trace (a sample each 500 ms) has eight samples with decoded
    // frames: the internals page, polling each second, then has a history of
    // several (the view below needs two to give a decode rate).
    await waitFor(async () => {
      const v = (await server.json(`${MONITOR}/connections/${id}`)).body.viewers?.[0];
      return v && v.samples >= 8 && v.tracks.some((t: { frames_decoded: number | null }) => (t.frames_decoded ?? 0) > 0) ? true : null;
    }, 30_000, 'decoded frames');
    await internals.bringToFront();
    await internals.click('text=Create a WebRTC-Internals dump');
    const saved: Record<string, string> = {};
    for (const [name, button] of [['internals', '#dump-click-target'], ['rtcstats', '#dump-click-target-rtcstats']] as const) {
      const [download] = await Promise.all([internals.waitForEvent('download', { timeout: 10_000 }), internals.click(button)]);
      saved[name] = join(server.dir, `${name}-${download.suggestedFilename()}`);
      await download.saveAs(saved[name]);
    }
    assert.match(saved.internals, /webrtc_internals_dump\.gz$/);

    const db = server.services.config.persistencePath;
    const streams: Record<string, string> = {};
    for (const name of ['internals', 'rtcstats']) {
      const r = await runCli(['import', saved[name], '--obfuscate-ips', '--persistence-path', db]);
      assert.is(r.code, 0, r.stderr);
      const m = /in 1 client streams \((client:[^)]+)\)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      streams[name] = m![1];
    }
    assert.match(streams.internals, /^client:webrtc-internals-/);
    const detail = (await server.json(`${MONITOR}/connections/${id}`)).body;
    const joined = detail.viewers.map((v: { stream: string; source: string }) => v.source).sort();
    assert.equal(joined, ['rtcstats', 'rtcstats_dump', 'webrtc_internals'], 'the live trace and both imports are joined to the connection');
    // Masked: no loopback address in the imported candidates and SDP.
    const imported = dbOf(server.services.store)
      .prepare("SELECT data FROM events WHERE stream IN (?, ?) AND type = 'client.trace'")
      .pluck()
      .all(streams.internals, streams.rtcstats) as string[];
    assert.ok(imported.some((d) => d.includes('candidate')), 'candidates were imported');
    assert.not.ok(imported.some((d) => / 127\.0\.0\.1 \d+ typ host/.test(d)), 'host candidates masked');

    const q = await runCli([
      'query',
      '--json',
      '--persistence-path',
      db,
      "SELECT substr(client_stream, 1, 24) AS trace, kind, samples, time_to_first_frame_ms, freeze_count, round(loss_pct, 2) AS loss_pct, round(avg_jitter_ms, 1) AS avg_jitter_ms, p95_jitter_ms, round(decode_fps, 1) AS decode_fps, resolution_changes FROM viewer_quality WHERE connection_id = '" + id + "' ORDER BY trace, kind",
    ]);
    assert.is(q.code, 0, q.stderr);
    const rows = JSON.parse(q.stdout) as { trace: string; kind: string; samples: number; decode_fps: number | null }[];
    const internalsVideo = rows.find((r) => r.trace.startsWith('client:webrtc-internals') && r.kind === 'video');
    assert.ok(internalsVideo && internalsVideo.samples >= 2 && (internalsVideo.decode_fps ?? 0) > 0, JSON.stringify(rows));
    process.stdout.write(`\n${q.stdout}\n`);
  } finally {
    await context.close();
  }
});

Import.run();
