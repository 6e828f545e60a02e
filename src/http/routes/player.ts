// GET /player/:server_id: a page that plays a stream through WHEP, with no
// build step. Everything the server knows is passed as JSON in a
// <script type="application/json"> block and shown with textContent only;
// a per-response nonce and CSP keep any other script out.
//
// The bearer token never travels in the URL the server sees: the page takes
// it from the fragment (`/player/<id>#token=...`, which browsers never send),
// keeps it in sessionStorage (shared with the dashboard, same key) and
// removes it from the address bar; with none, a 401 from WHEP makes the
// page ask for it.
import Router from '@koa/router';
import { randomBytes } from 'node:crypto';
import type { Services } from '../app.ts';
import type { WebRtcService } from '../../webrtc/service.ts';
import { WHEP_PREFIX } from './whep.ts';
import { RTCSTATS_PATH } from '../rtcstatsSocket.ts';
import type { ApiSpec } from '../openapi/spec.ts';

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

export const playerApi: ApiSpec = {
  'GET /player/:server_id': {
    operationId: 'getPlayer',
    tag: 'webrtc',
    summary: 'A player page for the stream (connects through WHEP; a bearer token goes in the fragment, `#token=...`, never sent to the server, or the page asks for it)',
    params: { server_id: 'The stream' },
    responses: { 200: { description: 'The page', media: { type: 'text/html' } } },
    errors: ['NOT_FOUND'],
  },
};

export function playerRouter(_services: Services, webrtc: WebRtcService): Router {
  const router = new Router();
  router.get('/player/:server_id', (ctx) => {
    const stream = webrtc.getStream(ctx.params.server_id);
    const nonce = randomBytes(16).toString('base64');
    const config = { server_id: stream.serverId, mode: stream.mode, content: stream.content.name, whep_url: `${WHEP_PREFIX}/${stream.serverId}`, telemetry_path: RTCSTATS_PATH };
    ctx.set(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = page(nonce, scriptJson(config));
  });
  return router;
}

function page(nonce: string, configJson: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webrtc-monitor player</title>
<link rel="icon" href="data:,"><!-- no favicon request: it would only 404 -->
<style nonce="${nonce}">
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; background: #111; color: #eee; }
  video { width: 640px; max-width: 100%; background: #000; display: block; }
  dl { display: grid; grid-template-columns: max-content auto; gap: .25rem 1rem; }
  dt { color: #aaa; } .bad { color: #f66; } .good { color: #6f6; }
  form { margin: 1rem 0; }
</style>
</head>
<body>
<h1>Stream <span id="server-id"></span></h1>
<form id="token-form" hidden><label for="token">This server needs a token:</label> <input id="token" type="password" autocomplete="off"> <button>Connect</button></form>
<video id="video" autoplay playsinline muted controls></video>
<dl>
  <dt>content</dt><dd id="content"></dd>
  <dt>mode</dt><dd id="mode"></dd>
  <dt>state</dt><dd id="state">starting</dd>
  <dt>connection</dt><dd id="connection"></dd>
  <dt>received</dt><dd id="received">0 bytes</dd>
  <dt>frame rate</dt><dd id="fps">–</dd>
  <dt>loss</dt><dd id="loss">–</dd>
  <dt>jitter</dt><dd id="jitter">–</dd>
  <dt>data</dt><dd id="data">–</dd>
</dl>
<script type="application/json" id="config">${configJson}</script>
<script nonce="${nonce}" src="/assets/rtcstats.bundle.js"></script>
<script nonce="${nonce}">
(async () => {
  const cfg = JSON.parse(document.getElementById('config').textContent);
  const text = (id, value, cls) => { const el = document.getElementById(id); el.textContent = String(value); if (cls !== undefined) el.className = cls; };
  text('server-id', cfg.server_id); text('content', cfg.content); text('mode', cfg.mode);
  const TOKEN_KEY = 'webrtc-monitor.token';
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, '', location.pathname);
  }
  const auth = () => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: 'Bearer ' + token } : {};
  };
  /** Resolves with a token the viewer typed in. */
  const askForToken = () => new Promise((resolve) => {
    const form = document.getElementById('token-form');
    form.hidden = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const token = document.getElementById('token').value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      form.hidden = true;
      resolve();
    }, { once: true });
  });
  // The page reports itself over the rtcstats protocol (the real client,
  // bundled): started before the peer connection exists, since rtcstats
  // wraps the constructor. The server joins the trace to this connection by
  // its ICE username fragment; the page passes no id.
  if (window.webrtcMonitorRtcstats) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + cfg.telemetry_path;
    window.rtcstatsTrace = window.webrtcMonitorRtcstats.start({
      endpoint: token ? base + '/t/' + encodeURIComponent(token) : base,
      meeting: cfg.server_id,
      identity: { applicationName: 'webrtc-monitor player' },
    });
  }
  const pc = new RTCPeerConnection();
  window.pc = pc;
  let session = null;
  pc.onconnectionstatechange = () => text('state', pc.connectionState, pc.connectionState === 'connected' ? 'good' : (pc.connectionState === 'failed' ? 'bad' : ''));
  if (cfg.mode === 'media') {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    // werift's answer has no a=msid, so build the stream from the tracks.
    const stream = new MediaStream();
    const video = document.getElementById('video');
    pc.ontrack = (event) => {
      stream.addTrack(event.track);
      video.srcObject = stream;
      video.play().catch(() => {});
    };
  } else {
    document.getElementById('video').hidden = true;
    const channel = pc.createDataChannel('data');
    channel.binaryType = 'arraybuffer';
    let chunks = [], bytes = 0, passes = 0;
    window.dataResult = { passes: 0, verified: false, mismatches: 0, sha256: null };
    channel.onmessage = async (event) => {
      if (typeof event.data !== 'string') { chunks.push(new Uint8Array(event.data)); bytes += event.data.byteLength; return; }
      const msg = JSON.parse(event.data);
      if (msg.type === 'begin') { chunks = []; bytes = 0; return; }
      if (msg.type !== 'end') return;
      const all = new Uint8Array(bytes); let at = 0;
      for (const c of chunks) { all.set(c, at); at += c.length; }
      chunks = [];
      const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', all)), (b) => b.toString(16).padStart(2, '0')).join('');
      const ok = digest === msg.sha256 && all.length === msg.bytes;
      if (ok) { window.dataResult.passes++; window.dataResult.verified = true; window.dataResult.sha256 = digest; }
      else window.dataResult.mismatches++;
      text('data', (ok ? 'SHA-256 verified' : 'SHA-256 MISMATCH') + ' (' + msg.bytes + ' bytes, pass ' + msg.pass + ')', ok ? 'good' : 'bad');
    };
  }
  try {
    await pc.setLocalDescription(await pc.createOffer());
    // Non-trickle: wait for every candidate (or 3 s).
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, 3000);
      pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); } });
    });
    let res;
    for (;;) {
      res = await fetch(cfg.whep_url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth() }, body: pc.localDescription.sdp });
      if (res.status !== 401) break;
      text('state', 'a token is needed', 'bad');
      await askForToken();
      text('state', 'connecting');
    }
    if (res.status !== 201) {
      let detail = res.statusText;
      try { detail = (await res.json()).detail || detail; } catch {}
      throw new Error('WHEP answered ' + res.status + ': ' + detail);
    }
    session = new URL(res.headers.get('Location'), location.href).toString();
    text('connection', session.split('/').pop());
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  } catch (err) {
    text('state', err.message, 'bad');
  }
  // Hang up when the page goes away: werift would otherwise notice only at consent expiry (~30 s).
  addEventListener('pagehide', () => {
    if (session) fetch(session, { method: 'DELETE', keepalive: true, headers: auth() });
    pc.close();
  });
  // What this viewer measures itself (getStats): frames per second decoded,
  // packets lost over all expected, and interarrival jitter (the worst of the
  // inbound RTP streams). Unknown stays a dash, never a 0.
  window.playerStats = { fps: null, loss: null, jitter_ms: null, bytes: 0 };
  // Frames decoded between two readings: Chromium does not always report framesPerSecond.
  let lastFrames = null;
  setInterval(async () => {
    let received = 0, lost = 0, packets = 0, fps = null, jitter = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'transport') received += s.bytesReceived || 0;
      if (s.type !== 'inbound-rtp') return;
      lost += Math.max(0, s.packetsLost || 0);
      packets += s.packetsReceived || 0;
      if (s.kind === 'video' && typeof s.framesDecoded === 'number') {
        if (lastFrames && s.timestamp > lastFrames.at) fps = Math.max(0, s.framesDecoded - lastFrames.frames) / ((s.timestamp - lastFrames.at) / 1000);
        lastFrames = { frames: s.framesDecoded, at: s.timestamp };
      }
      if (typeof s.jitter === 'number') jitter = Math.max(jitter ?? 0, s.jitter * 1000);
    });
    const loss = packets + lost > 0 ? lost / (packets + lost) : null;
    window.playerStats = { fps, loss, jitter_ms: jitter, bytes: received };
    text('received', received + ' bytes');
    text('fps', fps === null ? '–' : fps.toFixed(0) + ' frames/s');
    text('loss', loss === null ? '–' : (loss * 100).toFixed(2) + ' % (' + lost + ' of ' + (packets + lost) + ' packets)', loss !== null && loss > 0.02 ? 'bad' : '');
    text('jitter', jitter === null ? '–' : jitter.toFixed(1) + ' ms');
  }, 1000);
})();
</script>
</body>
</html>
`;
}
