// A real server with the WebRTC plugin (content from ./content), plus the
// steps most WebRTC tests share: start a stream, connect a werift viewer
// through WHEP, wait for something to be true.
import { resolve } from 'node:path';
import type { ConfigInput } from '../../src/config.ts';
import { webrtcPlugin } from '../../src/http/webrtcPlugin.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { startTestServer, type TestServer } from './server.ts';

export const CONTENT_DIR = resolve(import.meta.dirname, '../../content');
export const WEBRTC = '/api/v0/mcp/webrtc';
export const MONITOR = '/api/v0/mcp/monitor/webrtc';

export type WebRtcTestServer = TestServer & {
  stream(body?: Record<string, unknown>): Promise<{ server_id: string; whep_url: string; url: string; operation_id: string }>;
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

export async function waitFor<T>(probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** UDP sockets this process holds (IPv4 and IPv6), from the kernel's view. */
export function udpSocketCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'UDPWRAP').length;
}
