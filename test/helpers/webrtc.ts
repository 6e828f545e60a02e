// A real server with the WebRTC plugin (content from ./content), plus the
// steps most WebRTC tests share: start a stream, connect a werift viewer
// through WHEP, wait for something to be true.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigInput } from '../../src/config.ts';
import { webrtcPlugin } from '../../src/http/webrtcPlugin.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { RTCPeerConnection } from 'werift';
import { viewerPeerConfig } from '../../src/webrtc/peerConfig.ts';
import { startTestServer, type TestServer } from './server.ts';

export const CONTENT_DIR = resolve(import.meta.dirname, '../../content');
export const WEBRTC = '/api/v0/mcp/webrtc';
export const MONITOR = '/api/v0/mcp/monitor/webrtc';

export type WebRtcTestServer = TestServer & {
  stream(body?: Record<string, unknown>): Promise<{ server_id: string; whep_url: string; url: string; operation_id: string; viewer_token: string; viewer_url: string }>;
  viewer(whepUrl: string, expect?: 'media' | 'data'): Promise<Viewer>;
  json(path: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<{ status: number; body: any; headers: Headers }>;
};

export async function startWebRtcServer(config: ConfigInput = {}, options: { keepDir?: string } = {}): Promise<WebRtcTestServer> {
  const server = await startTestServer({ contentDir: CONTENT_DIR, statsIntervalMs: 250, ...config }, { plugins: [webrtcPlugin], ...options });
  const token = config.authToken ?? undefined;
  const json: WebRtcTestServer['json'] = async (path, init = {}) => {
    const res = await server.api(path, { token, ...init });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (SDP, HTML): keep the text
    }
    return { status: res.status, body, headers: res.headers };
  };
  return {
    ...server,
    json,
    async stream(body = {}) {
      const r = await json(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm', ...body } });
      if (r.status !== 200) throw new Error(`POST stream answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body;
    },
    viewer(whepUrl, expect = 'media') {
      return connectViewer(whepUrl, { expect, token });
    },
  };
}

/** RTP clock rate of video (VP8): ticks per second of media time. */
export const VIDEO_HZ = 90_000;

/** Media time from RTP timestamp `from` to `to`, in ticks (timestamps wrap at 2^32). */
export const mediaTicks = (from: number, to: number) => (to - from) >>> 0;

/**
 * The video frames a viewer receives from now on, by RTP timestamp, so a test
 * counts frames per second of media time, however slowly a loaded machine
 * delivers them. `until` waits for a condition on the timestamps received,
 * re-checked on each new frame (bounded by `timeoutMs`).
 */
export function videoFrames(viewer: Viewer) {
  const stamps: number[] = [];
  /** The timestamps among `stamps` of frames that start with a keyframe. */
  const keyframes = new Set<number>();
  const waiters = new Set<() => void>();
  const stop = viewer.onVideoFrame((ts, keyframe) => {
    stamps.push(ts);
    if (keyframe) keyframes.add(ts);
    for (const check of waiters) check();
  });
  return {
    stamps,
    keyframes,
    stop,
    until<T>(probe: (stamps: number[]) => T | null | undefined | false, timeoutMs: number, what: string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const value = probe(stamps);
          if (value) finish(() => resolve(value));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${stamps.length} frames)`))), timeoutMs);
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Frames among `stamps` whose timestamps lie in [from, from + ticks). */
export const framesWithin = (stamps: number[], from: number, ticks: number) => new Set(stamps.filter((ts) => mediaTicks(from, ts) < ticks)).size;

export async function waitFor<T>(probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 5000, what = 'condition', everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * UDP sockets this process holds (IPv4 and IPv6), from the kernel's view:
 * the socket inodes among /proc/self/fd that /proc/net/udp{,6} list. Unlike
 * process.getActiveResourcesInfo() it also sees unref'd sockets.
 */
export function udpSocketCount(): number {
  const udp = new Set<string>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inode !== '0') udp.add(inode);
    }
  }
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && udp.has(m[1])) count++;
    } catch {
      // the fd closed while we looked
    }
  }
  return count;
}

/**
 * A real werift viewer's SDP offer (every candidate gathered), made once and
 * reusable: the server answers each copy with a peer of its own, which
 * never connects (the offering peer is closed) and is closed at shutdown.
 */
export async function offerSdp(expect: 'media' | 'data' = 'media'): Promise<string> {
  const pc = new RTCPeerConnection(await viewerPeerConfig());
  try {
    if (expect === 'media') {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
    } else {
      pc.createDataChannel('data');
    }
    await pc.setLocalDescription(await pc.createOffer());
    await waitFor(() => pc.iceGatheringState === 'complete', 5000, 'gathering');
    return pc.localDescription!.sdp;
  } finally {
    await pc.close();
  }
}
