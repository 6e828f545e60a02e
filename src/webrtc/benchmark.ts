// POST benchmark: real in-process werift viewers against this server's own
// stream, as tasks of the benchmark operation. Measures set-up time (offer
// created to `connected`, on the viewer), what the viewers received and what
// they lost, then hangs every viewer up and ends the stream.
import { randomUUID } from 'node:crypto';
import { AppError, unavailable } from '../errors.ts';
import type { OperationContext } from '../operations/runner.ts';
import type { WebRtcContext, Origin } from './context.ts';
import type { Connections } from './connections.ts';
import type { Streams } from './streams.ts';
import { PEER_RETRY_AFTER_S } from './registry.ts';
import type { StreamMode } from './serverPeer.ts';
import type { Quality } from './quality.ts';
import { openViewer, type Exchange, type Viewer, type ViewerExpect } from './viewer.ts';

export const MAX_BENCHMARK_SECONDS = 60;

export type BenchmarkRequest = { content: string; mode: StreamMode; quality: Quality; durationS: number; viewers: number };

export type BenchmarkResult = {
  viewers_requested: number;
  viewers_connected: number;
  viewers_failed: number;
  errors: string[];
  setup_ms: { min: number; median: number; p95: number; max: number } | null;
  duration_ms: number;
  received: {
    bytes_total: number;
    bytes_per_viewer_median: number;
    throughput_bps_total: number;
    throughput_bps_per_viewer_median: number;
    rtp_packets_total: number;
    packets_lost_total: number;
    loss_ratio: number;
    frames_per_viewer_median: number | null;
    data_passes_verified_total: number | null;
    sha256_mismatches_total: number | null;
  };
};

/** Benchmarks as operations: each on a stream of its own, cancelled (on the record) at shutdown. */
export class Benchmarks {
  private readonly running = new Set<string>();

  constructor(
    private readonly ctx: WebRtcContext,
    private readonly streams: Streams,
    private readonly connections: Connections,
  ) {}

  async start(request: BenchmarkRequest, origin: Origin = {}) {
    const { config, registry, runner } = this.ctx;
    this.ctx.gate.check();
    const max = config.maxBenchmarkViewers;
    if (request.viewers > max) throw new AppError('VALIDATION_FAILED', `viewers must be at most ${max} (config maxBenchmarkViewers)`);
    if (request.durationS > MAX_BENCHMARK_SECONDS) throw new AppError('VALIDATION_FAILED', `duration_s must be at most ${MAX_BENCHMARK_SECONDS}`);
    // Each viewer is a server peer and an in-process viewer peer, both in this process.
    if (registry.availablePeers < 2 * request.viewers) {
      throw unavailable('UNAVAILABLE', `not enough connection slots left for ${request.viewers} viewers (${registry.availablePeers} free)`, PEER_RETRY_AFTER_S);
    }
    const content = await this.streams.content(request.content, request.mode);
    const serverId = randomUUID();
    const started = await runner.start<BenchmarkResult>(
      'benchmark',
      { content: content.name, mode: request.mode, quality: request.quality, duration_s: request.durationS, viewers: request.viewers },
      async (op) => {
        await this.streams.open(op, { serverId, content, mode: request.mode, quality: request.quality, iceServers: config.iceServers, createdAt: Date.now() });
        try {
          return await runBenchmark(op, {
            viewers: request.viewers,
            durationMs: request.durationS * 1000,
            expect: request.mode,
            exchange: this.connections.inProcessExchange(serverId, { remote: 'benchmark' }),
          });
        } finally {
          // Unless a shutdown already stopped (and recorded) the stream.
          await this.streams.closeIfOpen(op, serverId, 'benchmark_finished', { closePeers: true });
        }
      },
      { serverId, requestId: origin.requestId, timeoutMs: request.durationS * 1000 + 60_000 },
    );
    this.running.add(started.operationId);
    void started.outcome.then(() => this.running.delete(started.operationId));
    return started;
  }

  /** Cancels every running benchmark (shutdown). */
  cancelAll(reason: string) {
    for (const id of this.running) this.ctx.runner.cancel(id, reason);
  }
}

export async function runBenchmark(
  ctx: OperationContext,
  options: { viewers: number; durationMs: number; expect: ViewerExpect; exchange: Exchange },
): Promise<BenchmarkResult> {
  const viewers: Viewer[] = [];
  const errors: string[] = [];
  try {
    await ctx.task('connect viewers', async (signal) => {
      const settled = await Promise.allSettled(
        Array.from({ length: options.viewers }, () => openViewer(options.exchange, { expect: options.expect, signal, timeoutMs: 20_000 })),
      );
      if (signal.aborted) {
        // Given up on (cancelled, timed out): the operation's last task has
        // run or is running without these, so they are closed here.
        await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.leave().catch(() => {}) : undefined)));
        throw signal.reason;
      }
      for (const s of settled) {
        if (s.status === 'fulfilled') viewers.push(s.value);
        else if (errors.length < 5) errors.push(String((s.reason as Error)?.message ?? s.reason));
      }
      if (viewers.length === 0) throw new Error(`no viewer connected: ${errors[0] ?? 'unknown'}`);
      return { connected: viewers.length, failed: options.viewers - viewers.length };
    });
    const before = await Promise.all(viewers.map((v) => v.stats()));
    const t0 = performance.now();
    await ctx.task('measure', (signal) => sleep(options.durationMs, signal));
    const durationMs = Math.round(performance.now() - t0);
    const after = await Promise.all(viewers.map((v) => v.stats()));

    const received = after.map((a, i) => a.bytes_received - before[i].bytes_received);
    const bps = received.map((b) => Math.round((b * 8 * 1000) / Math.max(1, durationMs)));
    const setups = viewers.map((v) => v.setupMs).sort((a, b) => a - b);
    const packets = after.reduce((n, a) => n + a.rtp_packets, 0);
    const lost = after.reduce((n, a) => n + Math.max(0, a.packets_lost), 0);
    const media = options.expect === 'media';
    return {
      viewers_requested: options.viewers,
      viewers_connected: viewers.length,
      viewers_failed: options.viewers - viewers.length,
      errors,
      setup_ms: { min: setups[0], median: percentile(setups, 50), p95: percentile(setups, 95), max: setups[setups.length - 1] },
      duration_ms: durationMs,
      received: {
        bytes_total: received.reduce((a, b) => a + b, 0),
        bytes_per_viewer_median: percentile([...received].sort((a, b) => a - b), 50),
        throughput_bps_total: bps.reduce((a, b) => a + b, 0),
        throughput_bps_per_viewer_median: percentile([...bps].sort((a, b) => a - b), 50),
        rtp_packets_total: packets,
        packets_lost_total: lost,
        loss_ratio: packets + lost > 0 ? Math.round((lost / (packets + lost)) * 10000) / 10000 : 0,
        frames_per_viewer_median: media ? percentile(after.map((a) => a.frames_received).sort((a, b) => a - b), 50) : null,
        data_passes_verified_total: media ? null : viewers.reduce((n, v) => n + v.passes, 0),
        sha256_mismatches_total: media ? null : viewers.reduce((n, v) => n + v.sha256Mismatches, 0),
      },
    };
  } finally {
    // Hang every viewer up as the operation's last task, cancelled or not.
    await ctx
      .task('close viewers', () => Promise.all(viewers.map((v) => v.close().catch(() => v.leave()))))
      .catch(() => Promise.all(viewers.map((v) => v.leave().catch(() => {}))));
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[at];
}

function sleep(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
