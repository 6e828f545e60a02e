// The real rtcstats client transport (@jitsi/rtcstats trace-ws.js) in Node:
// it expects a browser's WebSocket and navigator, which Node 20 lacks, so
// the `ws` package and a user agent stand in for them. The stats it sends
// are compressed the way rtcstats.js compresses getStats() in a page
// (`deltaCompression`, which the package does not export; copied here).
import WebSocket from 'ws';

/**
 * trace-ws reconnects (for up to 10 minutes) whenever a socket closes with
 * a code other than its own leave codes, e.g. when a test's server shuts
 * down (1001). A browser's WebSocket reports a refused reconnect as an event;
 * the `ws` package emits 'error', which would throw with no listener and end
 * whatever suite runs next in the process. Listen, as a browser would.
 */
class QuietWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on('error', () => {});
  }
}

const g = globalThis as Record<string, unknown>;
g.WebSocket ??= QuietWebSocket;
g.navigator ??= { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) node-test' };

export type Trace = {
  (msg: unknown): void;
  connect(isBreakout?: boolean, isReconnect?: boolean): void;
  identity(...data: unknown[]): void;
  statsEntry(...data: unknown[]): void;
  keepAlive(): void;
  close(): void;
  isConnected(): boolean;
};

export async function rtcstatsTrace(options: { endpoint: string; meetingFqn: string; onClose?: (e: { code: number; reason: string }) => void }): Promise<Trace> {
  const { default: traceWs } = (await import('@jitsi/rtcstats/trace-ws.js')) as { default: (o: unknown) => Trace };
  return traceWs({ endpoint: options.endpoint, meetingFqn: options.meetingFqn, onCloseCallback: options.onClose ?? (() => {}), obfuscate: false });
}

/** rtcstats.js deltaCompression: what the page sends for `now` after `prev` (one copy, shared with the benchmark's clients). */
export { deltaCompression } from '../../bench/telemetry-report.ts';

/** A Chrome-shaped getStats() report of one video receiver at time `t` (seconds of play). */
export function chromeReport(t: number, over: Record<string, unknown> = {}) {
  const ts = 1_700_000_000_000 + t * 1000;
  return {
    IT01V1: {
      id: 'IT01V1', timestamp: ts, type: 'inbound-rtp', kind: 'video', ssrc: 1234, trackIdentifier: 'trk', mid: '0', codecId: 'CIT01_96',
      packetsReceived: 100 * t, bytesReceived: 100_000 * t, packetsLost: t > 1 ? 2 : 0, jitter: 0.004 + t / 1000,
      jitterBufferDelay: 0.5 * t, jitterBufferEmittedCount: 30 * t, framesReceived: 30 * t, framesDecoded: 30 * t, framesDropped: 0,
      keyFramesDecoded: 1, freezeCount: t > 2 ? 1 : 0, totalFreezesDuration: t > 2 ? 0.7 : 0, totalDecodeTime: 0.1 * t,
      frameWidth: t > 2 ? 1280 : 640, frameHeight: t > 2 ? 720 : 360, framesPerSecond: 30, nackCount: 0, pliCount: 0, ...over,
    },
    CIT01_96: { id: 'CIT01_96', timestamp: ts, type: 'codec', mimeType: 'video/VP8', payloadType: 96 },
    T01: { id: 'T01', timestamp: ts, type: 'transport', selectedCandidatePairId: 'CPa', iceLocalUsernameFragment: 'VIEW', remoteCertificateId: 'CFremote', dtlsState: 'connected' },
    CFremote: { id: 'CFremote', timestamp: ts, type: 'certificate', fingerprint: 'aa:bb:cc', fingerprintAlgorithm: 'sha-256' },
    CPa: { id: 'CPa', timestamp: ts, type: 'candidate-pair', state: 'succeeded', nominated: true, currentRoundTripTime: 0.002, bytesSent: 10 * t, bytesReceived: 100_000 * t },
  };
}
