// The in-process werift viewer: the other side of POST benchmark, the
// async-close test route, `serve --run-tests`, the tests and bench/.
//
//   const viewer = await connectViewer(whepUrl, { token, expect: 'media' });
//   viewer.connectionId      // the server's connection id (from the WHEP Location)
//   viewer.setupMs           // offer created -> connectionState `connected`
//   viewer.frames            // video frames received (distinct RTP timestamps)
//   viewer.onVideoFrame(fn)  // each new frame's RTP timestamp (media time, 90 kHz)
//   viewer.packets / receivedBytes   // RTP packets and payload bytes received
//   viewer.sha256Verified    // data mode: a whole pass arrived and matched its SHA-256
//   await viewer.stats()     // its own getStats() summary, plus the counters above
//   await viewer.close()     // WHEP DELETE, then pc.close(): a clean hang-up
//   await viewer.leave()     // pc.close() only: the server is not told (it learns
//                            // from consent expiry, ~30 s; docs/werift.md)
//
// `openViewer(exchange, options)` is the same without HTTP: `exchange` takes
// the offer SDP and returns the answer (the server uses it in-process).
// connectViewer resolves once the connection is `connected` and rejects
// (after closing everything it opened) if that does not happen in time.
import { createHash, type Hash } from 'node:crypto';
import { RTCPeerConnection, type RTCPeerConnectionConfig } from 'werift';
import { viewerPeerConfig } from './peerConfig.ts';
import { peerStats, type StatsTotals } from './statsSummary.ts';

export type ViewerExpect = 'media' | 'data';

export type ViewerOptions = {
  expect: ViewerExpect;
  token?: string | null;
  /** How long to wait for `connected`; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Merged over the viewer's werift configuration (tests use werift's `debug` packet loss). */
  peerConfig?: Partial<RTCPeerConnectionConfig>;
};

export type Exchange = (offerSdp: string) => Promise<{ answerSdp: string; connectionId: string; hangUp?: () => Promise<void> }>;

export type ViewerStats = StatsTotals & {
  frames_received: number;
  rtp_packets: number;
  rtp_bytes: number;
  data_bytes: number;
  data_passes: number;
  sha256_verified: boolean;
};

export class Viewer {
  connectionId = '';
  setupMs = 0;
  frames = 0;
  packets = 0;
  receivedBytes = 0;
  dataBytes = 0;
  passes = 0;
  sha256Mismatches = 0;
  sha256Verified = false;
  lastSha256: string | null = null;
  private hangUp: (() => Promise<void>) | null = null;
  private closed = false;
  private readonly frameListeners = new Set<(rtpTimestamp: number) => void>();

  constructor(readonly pc: RTCPeerConnection, readonly expect: ViewerExpect) {}

  get connectionState() {
    return this.pc.connectionState;
  }

  async stats(): Promise<ViewerStats> {
    const totals = await peerStats(this.pc);
    return {
      ...totals,
      frames_received: this.frames,
      rtp_packets: this.packets,
      rtp_bytes: this.receivedBytes,
      data_bytes: this.dataBytes,
      data_passes: this.passes,
      sha256_verified: this.sha256Verified,
    };
  }

  /**
   * Calls `listener` with the RTP timestamp of each new video frame (media
   * time: 90 kHz for video), so frame rates can be measured per second of
   * media rather than per second of a busy machine's wall clock. Returns the
   * unsubscribe.
   */
  onVideoFrame(listener: (rtpTimestamp: number) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  /** A clean hang-up: tell the server (WHEP DELETE), then close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.hangUp?.();
    } finally {
      await this.pc.close();
    }
  }

  /** Vanish: close without telling the server. */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pc.close();
  }

  /** @internal */
  attach(connectionId: string, hangUp: (() => Promise<void>) | null) {
    this.connectionId = connectionId;
    this.hangUp = hangUp;
  }

  /** @internal */
  watch() {
    this.pc.onTrack.subscribe((track) => {
      let lastTs: number | null = null;
      track.onReceiveRtp.subscribe((rtp) => {
        this.packets++;
        this.receivedBytes += rtp.payload.length;
        if (track.kind === 'video' && rtp.header.timestamp !== lastTs) {
          lastTs = rtp.header.timestamp;
          this.frames++;
          for (const listener of this.frameListeners) listener(lastTs);
        }
      });
    });
  }

  /** @internal: verifies each pass of a data transfer (see dataSource.ts for the format). */
  receiveData(message: string | Buffer, state: { hash: Hash | null; bytes: number }) {
    if (typeof message !== 'string') {
      state.hash?.update(message);
      state.bytes += message.length;
      this.dataBytes += message.length;
      return;
    }
    let control: { type?: string; sha256?: string; bytes?: number };
    try {
      control = JSON.parse(message);
    } catch {
      return;
    }
    if (control.type === 'begin') {
      state.hash = createHash('sha256');
      state.bytes = 0;
    } else if (control.type === 'end' && state.hash) {
      const digest = state.hash.digest('hex');
      state.hash = null;
      if (digest === control.sha256 && state.bytes === control.bytes) {
        this.passes++;
        this.sha256Verified = true;
        this.lastSha256 = digest;
      } else {
        this.sha256Mismatches++;
      }
    }
  }
}

/** Connects through WHEP: POST the offer, read the answer and the Location. */
export function connectViewer(whepUrl: string, options: ViewerOptions): Promise<Viewer> {
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  return openViewer(async (offerSdp) => {
    const res = await fetch(whepUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', ...auth },
      body: offerSdp,
      signal: options.signal,
    });
    if (res.status !== 201) throw new Error(`WHEP POST answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const location = res.headers.get('location');
    if (!location) throw new Error('WHEP answer has no Location');
    const sessionUrl = new URL(location, whepUrl).toString();
    const connectionId = decodeURIComponent(sessionUrl.split('/').pop() ?? '');
    return {
      answerSdp: await res.text(),
      connectionId,
      hangUp: async () => {
        const del = await fetch(sessionUrl, { method: 'DELETE', headers: auth });
        await del.arrayBuffer();
        if (del.status !== 204 && del.status !== 404) throw new Error(`WHEP DELETE answered ${del.status}`);
      },
    };
  }, options);
}

export async function openViewer(exchange: Exchange, options: ViewerOptions): Promise<Viewer> {
  options.signal?.throwIfAborted();
  const pc = new RTCPeerConnection({ ...(await viewerPeerConfig()), ...options.peerConfig });
  const viewer = new Viewer(pc, options.expect);
  try {
    viewer.watch();
    if (options.expect === 'media') {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
    } else {
      const channel = pc.createDataChannel('data');
      const state = { hash: null as Hash | null, bytes: 0 };
      channel.onMessage.subscribe((message) => viewer.receiveData(message, state));
    }
    const t0 = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    const describeState = () => `connection ${pc.connectionState}, ice ${pc.iceConnectionState}, gathering ${pc.iceGatheringState}`;
    await until(() => pc.iceGatheringState === 'complete', pc.iceGatheringStateChange, options, undefined, describeState);
    const { answerSdp, connectionId, hangUp } = await exchange(pc.localDescription!.sdp);
    viewer.attach(connectionId, hangUp ?? null);
    options.signal?.throwIfAborted();
    await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    await until(() => pc.connectionState === 'connected', pc.connectionStateChange, options, () =>
      pc.connectionState === 'failed' || pc.connectionState === 'closed' ? `connection ${pc.connectionState}` : null,
      describeState,
    );
    viewer.setupMs = Math.round((performance.now() - t0) * 10) / 10;
    return viewer;
  } catch (err) {
    // Tell the server if it already knows us, and free our sockets either way.
    await viewer.close().catch(() => pc.close());
    throw err;
  }
}

function until(
  ready: () => boolean,
  event: { subscribe(fn: () => void): { unSubscribe(): void } },
  options: ViewerOptions,
  failed: () => string | null = () => null,
  describeState: () => string = () => '',
): Promise<void> {
  // An abort listener added to a signal that has already aborted never fires.
  if (options.signal?.aborted) return Promise.reject(options.signal.reason);
  if (ready()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(() => finish(new Error(`viewer not ready after ${timeoutMs} ms (${describeState()})`)), timeoutMs);
    const { unSubscribe } = event.subscribe(() => {
      if (ready()) finish();
      else {
        const why = failed();
        if (why) finish(new Error(why));
      }
    });
    const onAbort = () => finish(options.signal?.reason ?? new Error('aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    function finish(err?: unknown) {
      clearTimeout(timer);
      unSubscribe();
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    }
  });
}
