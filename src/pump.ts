// One pass at a time over work that arrives in bursts: the log's consumers
// (the fleet forwarder, the webhook deliverers, the detectors) are kicked by
// every commit and must never run two passes side by side, nor miss a commit
// that landed while a pass was reading. A kick during a pass asks for one
// more pass after it; a scheduled retry holds kicks back until it fires,
// since the retried pass reads whatever those kicks announced.

export class Pump {
  private running: Promise<void> | null = null;
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly pass: () => Promise<void>) {}

  /** Starts a pass now, or asks for one more after the pass in flight. Nothing once closed or while a retry waits. */
  kick(): void {
    if (this.closed || this.retryTimer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.again = false;
    this.start(this.pass);
  }

  /** The next pass starts in `ms` (after a failure); kicks meanwhile wait for it. `unref`: the wait alone does not keep the process alive. */
  retryIn(ms: number, options: { unref?: boolean } = {}): void {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, ms);
    if (options.unref) this.retryTimer.unref();
  }

  /** A retry is scheduled (the last pass failed). */
  get retrying(): boolean {
    return this.retryTimer !== null;
  }

  /** A pass is in flight. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** No pass starts from a kick or a retry after this. Returns whether a retry was waiting (the work was failing). */
  close(): boolean {
    this.closed = true;
    const wasRetrying = this.retryTimer !== null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return wasRetrying;
  }

  /** After close: one last pass of the caller's (a shutdown's drain), unless a pass is still in flight. */
  finalPass(pass: () => Promise<void>): void {
    if (!this.running) this.start(pass);
  }

  /** Resolves when no pass is in flight, including the ones asked for meanwhile. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private start(pass: () => Promise<void>) {
    this.running = pass().finally(() => {
      this.running = null;
      if (this.again) this.kick();
    });
  }
}
