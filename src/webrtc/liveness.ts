// Liveness of one connection, judged from what arrives from the remote peer,
// as a pure state machine: it is fed cumulative counts of what was heard
// (STUN checks, DTLS records, RTP, RTCP) with the time, and answers what
// changed. No clock, no timer, no werift: the watchdog (watchdog.ts) feeds it
// on its own tick, independent of stats sampling.
//
//   silence >= stallAfterMs       -> stalled   (the peer may be gone, or its
//                                               path broken; seen in seconds)
//   anything arrives while stalled -> resumed
//   silence >= consentTimeoutMs   -> consent_expired (RFC 7675: consent is
//                                               lost; the connection has failed)
//
// The server peers are ICE-lite and werift's lite agent runs no consent
// checks of its own (its queryConsent returns at once when iceLite), so this
// is what notices a viewer that vanished without a word.
import { ACTIVITY_KINDS, type ActivityKind } from '../log/catalogue.ts';

export type ActivityCounts = Record<ActivityKind, number>;
export type LivenessSettings = { stallAfterMs: number; consentTimeoutMs: number };

export type LivenessChange =
  | { type: 'stalled'; silentMs: number; lastHeardMs: Record<ActivityKind, number | null> }
  | { type: 'resumed'; stalledMs: number; via: ActivityKind[] }
  | { type: 'consent_expired'; silentMs: number };

export const zeroActivity = (): ActivityCounts => ({ stun: 0, dtls: 0, rtp: 0, rtcp: 0 });

export class Liveness {
  private counts: ActivityCounts | null = null;
  private lastActivityAt = 0;
  private readonly lastHeardAt: Record<ActivityKind, number | null> = { stun: null, dtls: null, rtp: null, rtcp: null };
  private stalledAt: number | null = null;
  private expired = false;

  constructor(private readonly settings: LivenessSettings) {}

  get isStalled(): boolean {
    return this.stalledAt !== null;
  }

  get hasExpired(): boolean {
    return this.expired;
  }

  /**
   * Feeds the cumulative counts observed at `now` (ms, any monotonic clock).
   * The first call is the baseline (the moment the connection became
   * connected counts as activity). Activity is dated to the call that first
   * sees it, so a stall is noticed at most one observation period late.
   */
  observe(counts: ActivityCounts, now: number): LivenessChange[] {
    if (this.expired) return [];
    const previous = this.counts;
    this.counts = { ...counts };
    if (previous === null) {
      this.lastActivityAt = now;
      for (const kind of ACTIVITY_KINDS) if (counts[kind] > 0) this.lastHeardAt[kind] = now;
      return [];
    }
    const heard = ACTIVITY_KINDS.filter((kind) => counts[kind] !== previous[kind]);
    if (heard.length > 0) {
      this.lastActivityAt = now;
      for (const kind of heard) this.lastHeardAt[kind] = now;
      if (this.stalledAt === null) return [];
      const stalledMs = now - this.stalledAt;
      this.stalledAt = null;
      return [{ type: 'resumed', stalledMs, via: heard }];
    }
    const silentMs = now - this.lastActivityAt;
    const changes: LivenessChange[] = [];
    if (this.stalledAt === null && silentMs >= this.settings.stallAfterMs) {
      this.stalledAt = now;
      const lastHeardMs = Object.fromEntries(
        ACTIVITY_KINDS.map((kind) => [kind, this.lastHeardAt[kind] === null ? null : now - this.lastHeardAt[kind]!]),
      ) as Record<ActivityKind, number | null>;
      changes.push({ type: 'stalled', silentMs, lastHeardMs });
    }
    if (silentMs >= this.settings.consentTimeoutMs) {
      this.expired = true;
      changes.push({ type: 'consent_expired', silentMs });
    }
    return changes;
  }
}

/** The two limits, as the configuration gives them (--stall-after, --consent-timeout). */
export function livenessSettings(config: { stallAfterMs: number; consentTimeoutMs: number }): LivenessSettings {
  return { stallAfterMs: config.stallAfterMs, consentTimeoutMs: config.consentTimeoutMs };
}

/** How often the watchdog looks: a tenth of the shorter limit, between 20 ms and 250 ms. */
export function livenessTickMs(settings: LivenessSettings): number {
  return Math.min(250, Math.max(20, Math.floor(Math.min(settings.stallAfterMs, settings.consentTimeoutMs) / 10)));
}
