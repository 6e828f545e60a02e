// What the server's own limits and storage did, for /metrics: requests
// refused (by code), event-loop delay measured as it happens, and the log's
// count of events it could not record. One per server (keyed by its
// services), stopped when the server closes.
import { Histogram } from 'prom-client';
import type { HttpServices } from './app.ts';

/** Codes of answers that are a limit or a guard doing its job, counted by /metrics. */
export const REFUSAL_CODES = new Set([
  'UNAVAILABLE',
  'SHUTTING_DOWN',
  'STORAGE_FULL',
  'STORAGE_BUSY',
  'STORAGE_UNAVAILABLE',
  'CROSS_SITE_REQUEST',
  'HOST_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
]);

/** How often the event loop is sampled: a timer that should fire every this many ms. */
const SAMPLE_MS = 20;

export class Health {
  readonly refused = new Map<string, number>();
  /** Lateness of a timer that should fire every SAMPLE_MS: how long the loop was held. */
  readonly loopDelay = new Histogram({
    name: 'webrtc_event_loop_delay_seconds',
    help: `How late a timer due every ${SAMPLE_MS} ms fired: how long the event loop was held (a request waits at least this long).`,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  });
  /** The longest delay since /metrics last read it. */
  maxDelaySinceScrape = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    let due = performance.now() + SAMPLE_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - due) / 1000;
      due = now + SAMPLE_MS;
      this.loopDelay.observe(late);
      this.maxDelaySinceScrape = Math.max(this.maxDelaySinceScrape, late);
    }, SAMPLE_MS);
    this.timer.unref();
  }

  countRefusal(code: string) {
    if (REFUSAL_CODES.has(code)) this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  stop() {
    clearInterval(this.timer);
  }
}

const byServer = new WeakMap<HttpServices, Health>();

export function healthOf(services: HttpServices): Health {
  let health = byServer.get(services);
  if (!health) byServer.set(services, (health = new Health()));
  return health;
}
