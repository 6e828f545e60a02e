// The liveness and consent watch of one server peer: what arrives from the
// viewer (activity.ts counts it per packet) is fed to the pure state machine
// (liveness.ts) on the watchdog's tick (watchdog.ts), and what changed is
// recorded on the connection's stream: `connection.stalled` after
// --stall-after of silence, `connection.resumed` when traffic returns. Lost
// consent (silence for --consent-timeout) is handed to the peer, which fails
// and closes the connection. Independent of stats sampling.
import type { RTCPeerConnection } from 'werift';
import type { ActivityKind } from '../log/catalogue.ts';
import { ActivityProbe } from './activity.ts';
import { Liveness, type LivenessSettings } from './liveness.ts';
import type { ConnectionRecorder } from './recorder.ts';

export class PeerLiveness {
  private readonly activity: ActivityProbe;
  private liveness: Liveness | null = null;

  constructor(
    pc: RTCPeerConnection,
    private readonly settings: LivenessSettings,
    private readonly recorder: ConnectionRecorder,
    /** Called once, when consent expires (RFC 7675: the connection has failed). */
    private readonly onConsentExpired: (silentMs: number) => void,
  ) {
    this.activity = new ActivityProbe(pc);
  }

  /** Nothing has arrived from the viewer for --stall-after (as of the watchdog's last tick). */
  get isStalled(): boolean {
    return this.liveness?.isStalled ?? false;
  }

  /** Starts judging, from the moment the connection is connected: that first observation is the baseline. */
  start(now: number): void {
    if (this.liveness) return;
    this.activity.attach();
    this.liveness = new Liveness(this.settings);
    this.liveness.observe(this.activity.read(), now);
  }

  /** The watchdog's tick: feeds what arrived since the last tick and records what changed. */
  check(now: number): void {
    if (!this.liveness) return;
    for (const change of this.liveness.observe(this.activity.read(), now)) {
      if (change.type === 'stalled') {
        void this.recorder.record([
          {
            type: 'connection.stalled',
            data: {
              silent_ms: Math.round(change.silentMs),
              stall_after_ms: this.settings.stallAfterMs,
              last_heard_ms: Object.fromEntries(
                Object.entries(change.lastHeardMs).map(([kind, ms]) => [kind, ms === null ? null : Math.round(ms)]),
              ) as Record<ActivityKind, number | null>,
            },
          },
        ]);
      } else if (change.type === 'resumed') {
        void this.recorder.record([{ type: 'connection.resumed', data: { stalled_ms: Math.round(change.stalledMs), via: change.via } }]);
      } else {
        this.onConsentExpired(change.silentMs);
      }
    }
  }

  /** Stops counting (the peer is closing). */
  stop(): void {
    this.activity.detach();
  }
}
