// Figure 9: no client may hold the event loop. The longest a `summary`
// request waited (polled back to back from this process) and the server's
// event-loop delay p99 (its own monitorEventLoopDelay, 1 ms resolution),
// over a window while 1, 20 and 200 live-feed clients read the whole log
// from position 0, and while WHEP offers as large as the limits allow are
// answered one after another; each beside the same window with no load.
// The server runs in its own process on a copy of the big log (offers write
// to it), the readers in another.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { RTCPeerConnection } from 'werift';
import { viewerPeerConfig } from '../src/webrtc/peerConfig.ts';
import { checkOfferLimits, MAX_OFFER_BYTES, MAX_OFFER_CANDIDATES, MAX_OFFER_LINES, MAX_OFFER_MEDIA_SECTIONS, MAX_OFFER_RIDS } from '../src/webrtc/offerLimits.ts';
import { MONITOR_PREFIX } from '../src/http/routes/monitor.ts';
import { LOOP_PATH } from './loop-server.ts';
import { nodeTs, ROOT, spawnUntil, stop } from './child.ts';
import type { Figure } from './report.ts';

type Window = { worstMs: number; requests: number; p99Ms: number; maxMs: number };

/** Polls summary back to back for `ms`; the longest wait, and the server's loop delay over the same window. */
async function measure(base: string, ms: number): Promise<Window> {
  await (await fetch(`${base}${LOOP_PATH}?reset`)).json();
  const t0 = performance.now();
  let worstMs = 0;
  let requests = 0;
  while (performance.now() - t0 < ms) {
    const s = performance.now();
    const res = await fetch(`${base}${MONITOR_PREFIX}/summary`);
    if (res.status !== 200) throw new Error(`summary answered ${res.status}`);
    await res.json();
    worstMs = Math.max(worstMs, performance.now() - s);
    requests++;
  }
  const loop = (await (await fetch(`${base}${LOOP_PATH}`)).json()) as { p99_ms: number; max_ms: number };
  return { worstMs, requests, p99Ms: loop.p99_ms, maxMs: loop.max_ms };
}

/**
 * The largest offer the limits let through: a real werift offer with the
 * most media sections, padded to the most candidates and simulcast rids,
 * then to the most lines (with `a=ssrc` lines, the costliest attribute left)
 * within the byte limit.
 */
export async function maximalOffer(): Promise<string> {
  const pc = new RTCPeerConnection(await viewerPeerConfig());
  let sdp: string;
  try {
    for (let i = 0; i < MAX_OFFER_MEDIA_SECTIONS; i++) pc.addTransceiver(i % 2 ? 'audio' : 'video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    for (let i = 0; i < 500 && pc.iceGatheringState !== 'complete'; i++) await new Promise((r) => setTimeout(r, 10));
    sdp = pc.localDescription!.sdp;
  } finally {
    await pc.close();
  }
  const lines = sdp.split('\r\n');
  if (lines.at(-1) === '') lines.pop();
  const firstSection = lines.findIndex((l) => l.startsWith('m='));
  const insertAt = lines.findIndex((l, i) => i > firstSection && l.startsWith('a=mid:')) + 1;
  const have = lines.filter((l) => l.startsWith('a=candidate:')).length;
  const extra: string[] = [];
  for (let i = have; i < MAX_OFFER_CANDIDATES; i++) extra.push(`a=candidate:${9000 + i} 1 udp ${2113937151 - i} 10.99.${i >> 8}.${i & 255} ${50000 + i} typ host`);
  for (let i = 0; i < MAX_OFFER_RIDS; i++) extra.push(`a=rid:r${i} recv`);
  let bytes = lines.join('\r\n').length + 2 + extra.join('\r\n').length + 2;
  for (let i = 0; lines.length + extra.length < MAX_OFFER_LINES; i++) {
    const line = `a=ssrc:${1000 + i} cname:bench`;
    if (bytes + line.length + 2 > MAX_OFFER_BYTES) break;
    extra.push(line);
    bytes += line.length + 2;
  }
  lines.splice(insertAt, 0, ...extra);
  const offer = `${lines.join('\r\n')}\r\n`;
  checkOfferLimits(offer);
  return offer;
}

export async function loopFigures(dbPath: string, scratch: string, events: number, windowMs: number, readerCounts: number[]): Promise<Figure[]> {
  const copy = join(scratch, 'loop.db');
  copyFileSync(dbPath, copy);
  const [cmd, args] = nodeTs('bench/loop-server.ts', [copy, join(ROOT, 'content')]);
  const { child, match } = await spawnUntil(cmd, args, /\{"url":"([^"]+)"\}/);
  const base = match[1];
  const figures: Figure[] = [];
  const log = `${events.toLocaleString('en-US')}-event log`;
  try {
    await measure(base, 300); // warm up
    const idle = await measure(base, windowMs);
    const stall = (id: string, label: string, w: Window, note: string) => {
      figures.push({
        id: `loop.${id}.summary_wait`,
        group: 9,
        label: `longest summary wait, ${label}`,
        value: w.worstMs,
        unit: 'ms',
        anchor: { label: 'no load', value: idle.worstMs },
        ratio: w.worstMs / Math.max(idle.worstMs, 1),
        note,
      });
      figures.push({
        id: `loop.${id}.delay_p99`,
        group: 9,
        label: `event-loop delay p99, ${label}`,
        value: w.p99Ms,
        unit: 'ms',
        anchor: { label: 'no load', value: idle.p99Ms },
        ratio: w.p99Ms / Math.max(idle.p99Ms, 1),
        note: `max ${w.maxMs.toFixed(1)} ms (no load: max ${idle.maxMs.toFixed(1)} ms)`,
      });
    };

    for (const n of readerCounts) {
      const [rcmd, rargs] = nodeTs('bench/sse-readers.ts', [`${base}${MONITOR_PREFIX}/events/stream?after=0`, String(n)]);
      const readers = await spawnUntil(rcmd, rargs, /\{"ready":\d+\}/);
      let read = '';
      readers.child.stdout!.removeAllListeners('data');
      readers.child.stdout!.on('data', (d) => (read += d));
      const w = await measure(base, windowMs);
      await stop(readers.child);
      const bytes = Number(/"bytes":(\d+)/.exec(read)?.[1] ?? NaN);
      stall(`sse_${n}`, `${n} SSE reader${n === 1 ? '' : 's'} from position 0`, w,
        `${log}; summary polled back to back for ${windowMs / 1000} s (${w.requests} answers; no load: ${idle.requests}); the readers took ${(bytes / 1e6).toFixed(0)} MB in the window`);
    }

    // Offers as large as the limits allow, answered one after another (each session then deleted).
    const offer = await maximalOffer();
    const created = await fetch(`${base}/api/v0/mcp/webrtc/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'sample.webm' }) });
    const stream = (await created.json()) as { whep_url?: string };
    if (!stream.whep_url) throw new Error(`POST stream answered ${created.status}`);
    let answering = true;
    let answered = 0;
    const offers = (async () => {
      while (answering) {
        const res = await fetch(stream.whep_url!, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
        const text = await res.text();
        if (res.status !== 201) throw new Error(`the maximal offer was answered ${res.status}: ${text}`);
        answered++;
        await (await fetch(new URL(res.headers.get('location')!, stream.whep_url), { method: 'DELETE' })).arrayBuffer();
      }
    })();
    const w = await measure(base, windowMs);
    answering = false;
    await offers;
    const lines = offer.split('\r\n').length - 1;
    stall('offers', 'maximal WHEP offers answered back to back', w,
      `${answered} offers of ${offer.length.toLocaleString('en-US')} bytes, ${lines} lines, ${MAX_OFFER_MEDIA_SECTIONS} media sections, ${MAX_OFFER_CANDIDATES} candidates, ${MAX_OFFER_RIDS} rids (the limits), each answered (201) then deleted`);
  } finally {
    await stop(child);
  }
  return figures;
}
