// Shutdown of the WebRTC side: the gate closes (nothing new starts), the two
// timers stop, running benchmarks are cancelled on the record, every peer is
// closed through the runner (initiator `shutdown`) and every stream's end is
// recorded, as one `shutdown_close` operation bounded by the grace period.
import type { WebRtcContext } from './context.ts';
import type { Connections } from './connections.ts';
import type { Streams } from './streams.ts';
import type { Benchmarks } from './benchmark.ts';
import type { AsyncCloseTest } from './asyncCloseTest.ts';

export type ShutdownParts = {
  connections: Connections;
  streams: Streams;
  benchmarks: Benchmarks;
  asyncCloseTest: AsyncCloseTest;
  /** The stats sampler, the liveness watchdog and the resource monitor: stopped first and last. */
  timers: { stop(): void }[];
  resources: { stop(): void };
};

export async function shutdownWebRtc(ctx: WebRtcContext, parts: ShutdownParts): Promise<void> {
  const { registry, runner, config, logger } = ctx;
  ctx.gate.close();
  for (const timer of parts.timers) timer.stop();
  parts.benchmarks.cancelAll('shutdown');
  const peers = [...registry.peers.values()];
  const streams = [...registry.streams.keys()];
  registry.streams.clear();
  if (peers.length || streams.length) {
    const outcome = await runner.run(
      'shutdown_close',
      { open: peers.length, streams: streams.length },
      async (op) => {
        const closed = await parts.connections.closePeers(op, peers, 'shutdown', 'server_shutdown');
        await Promise.all(streams.map((serverId) => parts.streams.recordStopped(op, serverId, 'shutdown')));
        return { closed: closed.length, streams: streams.length };
      },
      { timeoutMs: Math.max(config.shutdownGraceMs, 1000) },
    );
    if (outcome.status !== 'completed') logger.error({ outcome }, 'closing peers at shutdown did not complete');
  }
  await parts.asyncCloseTest.leaveAll();
  parts.connections.clearTimers();
  parts.resources.stop();
}
