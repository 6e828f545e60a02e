// Any file's bytes over a data channel, paced and with backpressure, each
// pass ending with its SHA-256 so the receiver can verify what it got.
//
// Wire format on the channel (text messages are JSON control messages,
// binary messages are file bytes):
//   {"type":"begin","name","size","pass"}  then the bytes in 16 KiB chunks,
//   {"type":"end","name","bytes","sha256","pass"}
// and again from the start (one pass after another) until the channel closes,
// so the send rate stays visible in the stats and a quality change shows up
// in the next samples.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { RTCDataChannel } from 'werift';
import { DATA_RATE_BPS, type Quality } from './quality.ts';

export const CHUNK_BYTES = 16 * 1024;
/** Stop queueing above this many buffered bytes; resume below the low threshold (docs/werift.md: bursts stall). */
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

export type DataSendReport = { passes: number; bytesSent: number; lastSha256: string | null };

export class DataSource {
  private rateBps: number;
  /** Pacing restarts from here whenever the rate changes. */
  private paceFrom = { at: 0, bytes: 0 };
  bytesSent = 0;
  passes = 0;
  lastSha256: string | null = null;
  private readonly controller = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly path: string,
    private readonly name: string,
    quality: Quality,
  ) {
    this.rateBps = DATA_RATE_BPS[quality];
  }

  setQuality(quality: Quality) {
    this.rateBps = DATA_RATE_BPS[quality];
    this.paceFrom = { at: performance.now(), bytes: this.bytesSent };
  }

  get rate(): number {
    return this.rateBps;
  }

  /** Starts sending on an open channel; the returned promise settles when sending stops. */
  start(channel: RTCDataChannel, onError: (err: Error) => void): Promise<void> {
    // Defer the first send: data sent straight from werift's open callback
    // overtakes its DCEP ACK, which kills aiortc's transport (docs/werift.md).
    this.running ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.loop(channel))
      .catch((err) => {
        if (!this.controller.signal.aborted && channel.readyState === 'open') onError(err as Error);
      });
    return this.running;
  }

  stop() {
    this.controller.abort();
  }

  report(): DataSendReport {
    return { passes: this.passes, bytesSent: this.bytesSent, lastSha256: this.lastSha256 };
  }

  private async loop(channel: RTCDataChannel) {
    const signal = this.controller.signal;
    channel.bufferedAmountLowThreshold = LOW_WATER;
    this.paceFrom = { at: performance.now(), bytes: this.bytesSent };
    const buffer = Buffer.alloc(CHUNK_BYTES);
    while (!signal.aborted && channel.readyState === 'open') {
      const pass = this.passes + 1;
      const file = await open(this.path, 'r');
      try {
        const { size } = await file.stat();
        channel.send(JSON.stringify({ type: 'begin', name: this.name, size, pass }));
        const hash = createHash('sha256');
        let bytes = 0;
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, null);
          if (bytesRead === 0) break;
          // A copy: werift may still hold the buffer when we read the next chunk into ours.
          const chunk = Buffer.from(buffer.subarray(0, bytesRead));
          await this.waitForRoom(channel, signal);
          if (signal.aborted || channel.readyState !== 'open') return;
          channel.send(chunk);
          hash.update(chunk);
          bytes += bytesRead;
          this.bytesSent += bytesRead;
          await this.pace(signal);
        }
        const sha256 = hash.digest('hex');
        if (signal.aborted || channel.readyState !== 'open') return;
        channel.send(JSON.stringify({ type: 'end', name: this.name, bytes, sha256, pass }));
        this.passes = pass;
        this.lastSha256 = sha256;
      } finally {
        await file.close();
      }
    }
  }

  private async waitForRoom(channel: RTCDataChannel, signal: AbortSignal) {
    while (channel.bufferedAmount > HIGH_WATER && !signal.aborted && channel.readyState === 'open') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 250); // re-check even if the low event never comes
        const sub = channel.bufferedAmountLow.subscribe(done);
        signal.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(timer);
          sub.unSubscribe();
          signal.removeEventListener('abort', done);
          resolve();
        }
      });
    }
  }

  private async pace(signal: AbortSignal) {
    const dueAt = this.paceFrom.at + ((this.bytesSent - this.paceFrom.bytes) / this.rateBps) * 1000;
    const wait = dueAt - performance.now();
    if (wait > 1) await sleep(wait, signal);
  }
}

function sleep(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
