// Waiting in tests without racing the clock. A test waits for something to
// happen (an event, a log position, work signalling it has started), never
// for time to pass; a timeout only bounds the wait, so a broken test fails
// with a message instead of hanging CI.

/** `work`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([work, bound]).finally(() => clearTimeout(timer));
}

/** A one-shot signal: `fire()` once, `fired` resolves (test work says "I am running now"). */
export function latch(): { fire(): void; fired: Promise<void> } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
}
