// One timer for every live peer: each tick asks each connected peer for a
// sample. A peer whose previous getStats() has not returned yet skips the
// tick (ServerPeer.sample), so a slow peer never piles up work.
import type { Registry } from './registry.ts';

export class StatsSampler {
  private timer: NodeJS.Timeout | null = null;
  ticks = 0;

  constructor(
    private readonly registry: Registry,
    readonly intervalMs: number,
  ) {}

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick() {
    this.ticks++;
    for (const peer of this.registry.peers.values()) {
      if (peer.connectedAt && !peer.isClosing) void peer.sample();
    }
  }
}
