// How long to wait before trying again after failures in a row (the fleet's
// forwarder, feed and projector, the webhook deliverer): exponential, capped,
// with "equal jitter" (half fixed, half random) so nodes that lost a peer
// together do not all come back in the same instant.

export type Backoff = { initialMs: number; maxMs: number };

/** The wait before attempt `failures + 1`, after `failures` (>= 1) failures in a row. */
export function backoffDelay(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
