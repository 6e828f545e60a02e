// Two WHEP players nobody here wrote, in Debian's Chromium, on a page served
// from another origin (a second port on 127.0.0.1): Eyevinn's
// @eyevinn/webrtc-player (non-trickle: every candidate in the offer) and
// medooze's whip-whep client (trickle ICE over PATCH, and an ICE restart).
// Each plays the sample clip with the stream's viewer token, through CORS
// (--cors-origin names the page's origin), on a server whose writes need a
// token. The players are bundled for the browser with esbuild, as shipped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, type WatchedPage } from '../../helpers/browser.ts';
import { dbOf } from '../../helpers/db.ts';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../../helpers/webrtc.ts';

const ADMIN = 'admin-token';

/** The players' browser bundles: globals WebRTCPlayer (Eyevinn) and WHEPClient (medooze). */
async function bundles(): Promise<Record<string, string>> {
  const entries = {
    '/eyevinn.js': "import { WebRTCPlayer } from '@eyevinn/webrtc-player'; window.WebRTCPlayer = WebRTCPlayer;",
    '/medooze.js': "import { WHEPClient } from 'whip-whep/whep.js'; window.WHEPClient = WHEPClient;",
  };
  const out: Record<string, string> = {};
  for (const [path, contents] of Object.entries(entries)) {
    const result = await build({ stdin: { contents, resolveDir: process.cwd(), loader: 'js' }, bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome110', logLevel: 'silent' });
    out[path] = result.outputFiles[0].text;
  }
  return out;
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>player on another origin</title><link rel="icon" href="data:,">
<script src="/eyevinn.js"></script><script src="/medooze.js"></script></head>
<body><video id="video" autoplay muted playsinline width="320" height="240"></video></body></html>`;

/** A static server for the player page and the bundles: the other origin. */
async function pageServer(files: Record<string, string>): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = req.url === '/' ? '/index.html' : (req.url ?? '');
    const body = path === '/index.html' ? PAGE : files[path];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': path.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Video frames the page's <video> has shown. */
const framesShown = (page: Page) => page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).getVideoPlaybackQuality().totalVideoFrames);

let server: WebRtcTestServer;
let pages: { origin: string; server: Server };
let browser: Browser;
let watched: WatchedPage;
const whep: { method: string; url: string; status: number; origin: string | null }[] = [];

const players = suite('third-party WHEP players on another origin (Chromium)');
players.before(async () => {
  pages = await pageServer(await bundles());
  server = await startWebRtcServer({ corsOrigins: [pages.origin], authToken: ADMIN });
  browser = await launchChromium();
});
players.before.each(async () => {
  whep.length = 0;
  watched = await openPage(browser);
  watched.page.on('response', async (res) => {
    if (!res.url().includes('/whep/')) return;
    whep.push({ method: res.request().method(), url: res.url(), status: res.status(), origin: (await res.request().allHeaders()).origin ?? null });
  });
  await watched.page.goto(`${pages.origin}/`);
});
players.after.each(() => watched.close());
players.after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => pages?.server.close(resolve));
});

players("Eyevinn's @eyevinn/webrtc-player 0.13.0 plays with the viewer token (a CORS preflight, then the offer with every candidate)", async () => {
  const stream = await server.stream();
  await watched.page.evaluate(
    async ({ url, token }) => {
      const video = document.getElementById('video') as HTMLVideoElement;
      const { WebRTCPlayer } = window as unknown as { WebRTCPlayer: new (o: object) => { load(u: URL, auth?: string): Promise<void> } };
      // No STUN server: loopback only, nothing to wait for offline. Eyevinn sends the key as the whole Authorization value.
      const player = new WebRTCPlayer({ video, type: 'whep', iceServers: [] });
      (window as unknown as { player: unknown }).player = player;
      await player.load(new URL(url), `Bearer ${token}`);
    },
    { url: stream.whep_url, token: stream.viewer_token },
  );
  await waitFor(async () => (await framesShown(watched.page)) > 10, 20_000, 'Eyevinn player showing frames');
  const post = whep.find((r) => r.method === 'POST');
  assert.ok(post, JSON.stringify(whep));
  assert.is(post.status, 201);
  assert.is(post.origin, pages.origin, 'a cross-origin request');
  const live = (await server.json(`${WEBRTC}/connections`)).body as { server_id: string; connection_state: string }[];
  assert.ok(live.some((c) => c.server_id === stream.server_id && c.connection_state === 'connected'), JSON.stringify(live));
  assert.equal(watched.problems, []);
});

players("Eyevinn's player understands 406 CODEC_NOT_SUPPORTED: offered H.264-only video for a VP8 stream, it retries without it and plays the audio", async () => {
  const stream = await server.stream();
  await watched.page.evaluate(
    async ({ url, token }) => {
      // Every video transceiver the player adds offers H.264 only.
      const h264 = (RTCRtpReceiver.getCapabilities('video')?.codecs ?? []).filter((c) => /h264|rtx/i.test(c.mimeType));
      if (!h264.some((c) => /h264/i.test(c.mimeType))) throw new Error('this Chromium has no H.264 to offer');
      const add = RTCPeerConnection.prototype.addTransceiver;
      RTCPeerConnection.prototype.addTransceiver = function (this: RTCPeerConnection, kind: string | MediaStreamTrack, init?: RTCRtpTransceiverInit) {
        const transceiver = add.call(this, kind, init);
        if (kind === 'video') transceiver.setCodecPreferences(h264);
        return transceiver;
      } as typeof add;
      const video = document.getElementById('video') as HTMLVideoElement;
      const { WebRTCPlayer } = window as unknown as { WebRTCPlayer: new (o: object) => { load(u: URL, auth?: string): Promise<void> } };
      const player = new WebRTCPlayer({ video, type: 'whep', iceServers: [] });
      Object.assign(window, { player });
      await player.load(new URL(url), `Bearer ${token}`);
    },
    { url: stream.whep_url, token: stream.viewer_token },
  );
  const live = await waitFor(async () => {
    const peers = (await server.json(`${WEBRTC}/connections`)).body as { id: string; server_id: string; connection_state: string }[];
    return peers.find((c) => c.server_id === stream.server_id && c.connection_state === 'connected');
  }, 20_000, 'an audio-only connection');
  const posts = whep.filter((r) => r.method === 'POST').map((r) => r.status);
  assert.is(posts[0], 406, JSON.stringify(posts));
  assert.is(posts[posts.length - 1], 201, JSON.stringify(posts));
  const conn = await server.json(`${MONITOR}/connections/${live.id}`);
  const kinds = (conn.body.connection.tracks ?? []).map((t: { kind: string }) => t.kind);
  assert.equal(kinds, ['audio'], JSON.stringify(conn.body.connection.tracks));
  // The refusals are on the console as the player reports them; nothing else went wrong.
  assert.ok(watched.problems.every((p) => p.includes('406')), JSON.stringify(watched.problems));
});

players("the player page plays with the viewer token from its viewer_url (fragment), on a server whose writes need a token", async () => {
  const stream = await server.stream({ mode: 'data' });
  await watched.page.goto(stream.viewer_url);
  await watched.page.waitForFunction(() => (window as unknown as { pc?: RTCPeerConnection }).pc?.connectionState === 'connected', undefined, { timeout: 15_000 });
  assert.not.match(watched.page.url(), 'token', 'the fragment is dropped from the address bar');
  assert.ok(whep.some((r) => r.method === 'POST' && r.status === 201));
});

players("medooze's whip-whep 1.2.0 plays with the viewer token, trickles its candidates over PATCH, and restarts ICE without a break in the record", async () => {
  const stream = await server.stream();
  await watched.page.evaluate(
    async ({ url, token }) => {
      const video = document.getElementById('video') as HTMLVideoElement;
      const pc = new RTCPeerConnection();
      const media = new MediaStream();
      pc.ontrack = (event) => {
        media.addTrack(event.track);
        video.srcObject = media;
      };
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      const { WHEPClient } = window as unknown as { WHEPClient: new () => { view(pc: RTCPeerConnection, url: string, token: string): Promise<void> } };
      const client = new WHEPClient();
      Object.assign(window, { pc, client });
      await client.view(pc, url, token);
    },
    { url: stream.whep_url, token: stream.viewer_token },
  );
  await waitFor(async () => (await framesShown(watched.page)) > 10, 20_000, 'medooze client showing frames');
  const post = whep.find((r) => r.method === 'POST')!;
  assert.is(post.status, 201);
  assert.is(post.origin, pages.origin);
  // Its offer went out before gathering; its candidates came over PATCH.
  await waitFor(() => whep.some((r) => r.method === 'PATCH'), 10_000, 'a trickle PATCH');
  assert.ok(whep.filter((r) => r.method === 'PATCH').every((r) => r.status === 204), JSON.stringify(whep));
  const session = await waitFor(async () => {
    const live = (await server.json(`${WEBRTC}/connections`)).body as { id: string; server_id: string; connection_state: string }[];
    return live.find((c) => c.server_id === stream.server_id && c.connection_state === 'connected');
  }, 10_000, 'the connection on the server');
  const remoteCandidates = dbOf(server.services)
    .prepare("SELECT count(*) FROM events WHERE stream = ? AND type = 'connection.candidate' AND json_extract(data, '$.origin') = 'remote'")
    .pluck()
    .get(`connection:${session.id}`) as number;
  assert.ok(remoteCandidates >= 1, 'trickled candidates recorded');

  // An ICE restart, as the client does it: PATCH with If-Match: * and new credentials; it applies the answer itself.
  const before = await framesShown(watched.page);
  await watched.page.evaluate(() => (window as unknown as { client: { restart(): Promise<void> } }).client.restart());
  await waitFor(() => whep.some((r) => r.method === 'PATCH' && r.status === 200), 10_000, `the restart's 200 (${JSON.stringify(whep)})`);
  await waitFor(async () => (await framesShown(watched.page)) > before + 30, 20_000, 'frames after the ICE restart');
  assert.is(await watched.page.evaluate(() => (window as unknown as { pc: RTCPeerConnection }).pc.connectionState), 'connected');
  const etag = await watched.page.evaluate(() => (window as unknown as { client: { etag: string } }).client.etag);
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/, 'the client kept the new entity-tag');
  const ops = await server.json(`${MONITOR}/operations?status=all&type=ice_restart`);
  assert.ok(ops.body.operations.some((o: { connection_id: string; status: string }) => o.connection_id === session.id && o.status === 'completed'), JSON.stringify(ops.body));
  const conn = await server.json(`${MONITOR}/connections/${session.id}`);
  assert.is(conn.body.connection.close ?? null, null, 'still open: the restart never ended the connection');
  assert.equal(watched.problems, []);
});

players.run();
