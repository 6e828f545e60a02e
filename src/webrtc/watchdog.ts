// The liveness watchdog: one timer for every live peer, on its own period
// (a tenth of the shorter of --stall-after and --consent-timeout, 20-250 ms),
// so a stall is seen within that period of --stall-after and consent expiry
// never waits for a stats sample. Each tick costs a few counter reads per
// connected peer.
import type { Registry } from './registry.ts';
import { livenessTickMs, type LivenessSettings } from './liveness.ts';

export class LivenessWatchdog {
  private timer: NodeJS.Timeout | null = null;
  readonly tickMs: number;
  ticks = 0;

  constructor(
    private readonly registry: Registry,
    settings: LivenessSettings,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tickMs = livenessTickMs(settings);
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  tick() {
    this.ticks++;
    const now = this.clock();
    for (const peer of this.registry.peers.values()) {
      if (peer.connectedAt && !peer.isClosing) peer.checkLiveness(now);
    }
  }
}
