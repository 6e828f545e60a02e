// Both ends of one connection from a real browser: Debian's Chromium opens
// the player page, which loads the real rtcstats client (bundled) and plays
// the stream through WHEP while reporting over the rtcstats WebSocket. The
// page passes no connection id: the server joins the trace by the ICE
// username fragment / DTLS fingerprint of its own answer.
import { suite } from 'uvu';
import { dbOf } from '../../helpers/db.ts';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage } from '../../helpers/browser.ts';
import { MONITOR, startWebRtcServer, waitFor, type WebRtcTestServer } from '../../helpers/webrtc.ts';

const ARTIFACTS = resolve('test-artifacts');
let server: WebRtcTestServer;
let browser: Browser;

const Both = suite('the player page reporting over rtcstats in Chromium');
Both.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 500 });
  browser = await launchChromium();
});
Both.after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The video frames_decoded of every sample of a client stream, in log order. */
function loggedFrames(stream: string): { position: number; frames: number }[] {
  const rows = dbOf(server.services.store)
    .prepare("SELECT position, data FROM events WHERE stream = ? AND type = 'client.stats_sampled' ORDER BY position")
    .all(stream) as { position: number; data: string }[];
  return rows.flatMap((r) => {
    const video = (JSON.parse(r.data).inbound as { kind: string; frames_decoded: number | null }[]).filter((t) => t.kind === 'video');
    return video.length && video[0].frames_decoded !== null ? [{ position: r.position, frames: video[0].frames_decoded }] : [];
  });
}

Both('joins the viewer trace to its connection without any id from the page; framesDecoded in the log matches the page\'s getStats()', async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  const watched = await openPage(browser, { viewport: { width: 720, height: 640 } });
  const { page } = watched;
  try {
    await page.goto(stream.url);
    await page.waitForFunction(() => document.getElementById('connection')!.textContent !== '', null, { timeout: 10_000, polling: 50 });
    const id = await page.$eval('#connection', (el) => el.textContent!);
    const detail = await waitFor(async () => {
      const body = (await server.json(`${MONITOR}/connections/${id}?events_limit=1000`)).body;
      const v = body.viewers?.[0];
      // Both ends sampled: the viewer's reports and a server-side sample after media flowed (the two samplers are independent).
      const viewerDecoded = v && v.samples >= 2 && v.tracks.some((t: { kind: string; frames_decoded: number | null }) => t.kind === 'video' && (t.frames_decoded ?? 0) > 0);
      return viewerDecoded && body.both_ends?.server?.packets_sent > 0 ? body : null;
    }, 15_000, 'a joined viewer trace with decoded frames, and a server sample with packets sent');
    const viewer = detail.viewers[0];
    assert.is(viewer.connection_id, id);
    assert.ok(['ice_ufrag', 'dtls_fingerprint'].includes(viewer.correlated_by), viewer.correlated_by);
    assert.is(viewer.meeting, stream.server_id, 'the page names its stream, never the connection');
    const states = dbOf(server.services.store)
      .prepare("SELECT json_extract(data, '$.to') FROM events WHERE stream = ? AND type = 'client.state_changed' AND json_extract(data, '$.kind') = 'connection'")
      .pluck()
      .all(viewer.stream);
    assert.ok(states.includes('connected'), `the viewer's connection states: ${states.join(', ')}`);
    assert.ok(detail.both_ends.server.packets_sent > 0, 'server sent');
    assert.ok(detail.both_ends.viewers[0].packets_received > 0, 'viewer received');
    const video = viewer.tracks.find((t: { kind: string }) => t.kind === 'video');
    assert.ok(video.time_to_first_frame_ms !== null && video.time_to_first_frame_ms >= 0);
    assert.ok(detail.timeline.both_ends.some((e: { stream: string }) => e.stream === viewer.stream));
    assert.ok(detail.timeline.both_ends.some((e: { stream: string }) => e.stream === `connection:${id}`));

    // What the page itself reads, then the log's samples around it: the
    // value lies between two consecutive samples (within one interval).
    const pageFrames = await page.evaluate(async () => {
      let frames = 0;
      (await (window as unknown as { pc: RTCPeerConnection }).pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded ?? 0;
      });
      return frames;
    });
    assert.ok(pageFrames > 0);
    await waitFor(() => (loggedFrames(viewer.stream).some((s) => s.frames >= pageFrames) ? true : null), 10_000, 'a sample taken after the page read');
    const series = loggedFrames(viewer.stream);
    const after = series.findIndex((s) => s.frames >= pageFrames);
    // The sample before it (none when the decoder had not moved since the
    // first sample, as on a starved machine: then the first sample equals the page's count).
    const before = Math.max(0, after - 1);
    assert.ok(after >= 0, 'a sample taken after the page read');
    assert.ok(series[before].frames <= pageFrames && pageFrames <= series[after].frames, `${series[before].frames} <= ${pageFrames} <= ${series[after].frames}`);
    if (after > 0) assert.ok(series[before].position < series[after].position);

    // The dashboard's drill-down shows the viewer's end beside the server's.
    const dash = await watched.page.context().newPage();
    await dash.goto(`${server.url}/dashboard`);
    await dash.waitForSelector('body[data-ready="true"]');
    await dash.waitForFunction((id) => [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].some((r) => r.dataset.id === id), id, { timeout: 10_000, polling: 50 });
    await dash.evaluate((id) => {
      const row = [...document.querySelectorAll<HTMLTableRowElement>('#connections tbody tr')].find((r) => r.dataset.id === id);
      row!.querySelector<HTMLButtonElement>('button.id')!.click();
    }, id);
    await dash.waitForFunction(() => /viewer \((ice_ufrag|dtls_fingerprint)/.test(document.querySelector('#drilldown-details')?.textContent ?? ''), undefined, { timeout: 10_000, polling: 50 });
    const both = await dash.$eval('#drilldown-details', (el) => el.textContent!);
    assert.match(both, /server sent \d+ packets/);
    assert.match(both, /decoded \d+ frames, froze \d+ times/);
    await dash.close();

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(resolve(ARTIFACTS, 'rtcstats-both-ends.json'), JSON.stringify(detail, null, 2));
    assert.equal(watched.problems, []);
  } finally {
    await watched.close();
  }
});

Both.run();
