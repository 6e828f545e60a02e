// `serve --webhook URL`: delivers issue and connection-outcome events to an
// HTTP endpoint, signed per the Standard Webhooks specification
// (https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp`,
// `webhook-signature` = `v1,` base64 HMAC-SHA256 over `id.timestamp.body`,
// made by the `standardwebhooks` library).
//
// Each endpoint is a checkpointed consumer of the log, like the fleet
// forwarder: the log is the queue. It reads the events after its checkpoint
// in position order, a bounded window at a time, and POSTs each delivered
// one; every attempt is an event on its stream `webhook:<key>`
// (`webhook.delivered`, `webhook.attempt_failed`, and `webhook.failed` when
// the last allowed attempt fails), and the checkpoint moves in the same
// transaction as the event that ends an event's delivery. So delivery is at
// least once: a crash between the receiver's 2xx and that commit sends the
// event again with the same webhook-id, which receivers deduplicate on. A
// receiver down for minutes loses nothing: the events wait in the log and
// go out, in order, once it answers.
//
// Order: one request in flight per endpoint, in log order, and a failing
// event blocks the whole endpoint, not just its subject, until it is
// delivered or given up. Per-subject blocking would let later events of
// other subjects pass, so the checkpoint could no longer be one position:
// the consumer would have to remember, per blocked subject, which later
// events it already sent, which grows with the subjects and the outage. And
// the common failure (the receiver is down, slow or refusing) fails every
// subject alike. Blocking the endpoint keeps order per subject (and overall)
// with a single number of state. A payload the receiver keeps refusing
// blocks it for at most the attempts allowed.
//
// Backoff: exponential with equal jitter and a cap (src/backoff.ts),
// at least what a `Retry-After` asks, up to the cap. Attempts are counted
// from this process's start: a restart begins the count of the event in hand
// again (the log keeps every earlier attempt).
//
// Memory: a window of at most `pageSize` rows and a few counters per endpoint.
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { EventRow, EventStore } from '../log/store.ts';
import type { NewEvent } from '../log/catalogue.ts';
import { backoffDelay, type Backoff } from '../backoff.ts';
import { Pump } from '../pump.ts';
import type { Endpoint } from './endpoint.ts';
import { DELIVERED_TYPES, closeOutcome, isDelivered, webhookBody, webhookId } from './payload.ts';

export type WebhookOptions = {
  endpoint: Endpoint;
  /** `whsec_…`: base64 of the HMAC key. */
  secret: string;
  /** This node's name: part of the webhook id and of each body. */
  node: string;
  timeoutMs: number;
  backoff: Backoff;
  /** Attempts at one event before it is given up (`webhook.failed`) and the endpoint moves on. */
  maxAttempts: number;
  /** Delivered rows read at a time. */
  pageSize?: number;
  /** Log positions one read scans at most (bounds a read of a log with few delivered events). */
  scanWindow?: number;
  random?: () => number;
  clock?: () => number;
};

/** Each endpoint's row in `checkpoints` and its stream: this and the endpoint's key. */
export const WEBHOOK_CONSUMER_PREFIX = 'webhook:';

export type WebhookOutcome = 'delivered' | 'retrying' | 'failed';
export const WEBHOOK_OUTCOMES: readonly WebhookOutcome[] = ['delivered', 'retrying', 'failed'];

export type WebhookStatus = {
  endpoint: string;
  key: string;
  state: 'idle' | 'delivering' | 'retrying' | 'stopped';
  /** Every event up to this position is delivered or given up. */
  position: number;
  head_position: number;
  /** Log positions not yet passed (of every type: an upper bound of what waits). */
  lag_events: number;
  /** Age of the event in hand (0 when none waits). */
  lag_seconds: number;
  attempts: Record<WebhookOutcome, number>;
};

export type WebhookStatusSource = { status(): WebhookStatus };

/** Events of a connection's stream that mean it failed (the read model's rule, src/projections/connection.ts outcomeOf). */
const FAILURE_TYPES = ['connection.state_changed', 'connection.error'];
const isFailure = (type: string, data: Record<string, unknown>) =>
  type === 'connection.error' ? data.fatal === true : data.kind === 'connection' && data.to === 'failed';

/** Skipped positions are saved once they are this far past the saved checkpoint (and at stop). */
const SAVE_SKIPS_EVERY = 1000;

type Attempt = { ok: true; status: number; durationMs: number } | { ok: false; status: number | null; error: { code: string; message: string }; durationMs: number; retryAfterMs: number | null };

export class WebhookDeliverer implements WebhookStatusSource {
  private readonly signer: Webhook;
  private readonly consumer: string;
  private readonly stream: string;
  private readonly clock: () => number;
  private position = 0;
  private savedPosition = 0;
  /** The log's last position, as the last commit told it. */
  private head = 0;
  private inHand: { position: number; recordedAt: number; attempts: number } | null = null;
  private readonly pump = new Pump(() => this.drain());
  private stopped = false;
  /** Once stopped: no attempt starts after this (performance.now()). */
  private deadline = Number.POSITIVE_INFINITY;
  private stopping: Promise<void> | null = null;
  private request: AbortController | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly counts: Record<WebhookOutcome, number> = { delivered: 0, retrying: 0, failed: 0 };

  constructor(
    private readonly store: EventStore,
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
  ) {
    this.signer = new Webhook(options.secret);
    this.consumer = WEBHOOK_CONSUMER_PREFIX + options.endpoint.key;
    this.stream = WEBHOOK_CONSUMER_PREFIX + options.endpoint.key;
    this.clock = options.clock ?? Date.now;
  }

  get key(): string {
    return this.options.endpoint.key;
  }

  /** Starts delivering in the background from the saved checkpoint (new endpoints start at the head: they get what happens from now on). */
  async start(): Promise<void> {
    const { store } = this;
    const saved = await store.readCheckpoint(this.consumer);
    this.head = await store.head();
    this.position = saved === null ? this.head : store.positionOf(saved);
    this.savedPosition = this.position;
    // The checkpoint exists from the start, so prune keeps every event not yet delivered.
    await store.writeCheckpoint(this.consumer, store.checkpointAt(this.position));
    this.unsubscribe = store.onCommit(({ lastPosition }) => {
      this.head = Math.max(this.head, lastPosition);
      this.pump.kick();
    });
    this.pump.kick();
  }

  /**
   * Stops: no new attempt starts; one in flight is abandoned (its event is
   * sent again on the next start). With `drainMs`, while the endpoint is not
   * failing, it first delivers what is committed (the shutdown's own
   * events), for at most about that long.
   */
  stop(options: { drainMs?: number } = {}): Promise<void> {
    return (this.stopping ??= (async () => {
      this.unsubscribe?.();
      this.stopped = true;
      const failing = this.pump.close();
      const drainMs = failing ? 0 : (options.drainMs ?? 0);
      this.deadline = performance.now() + drainMs;
      const timer = setTimeout(() => this.request?.abort(new ShutdownError()), drainMs);
      // A drain under way goes on until the deadline; otherwise one starts for what is committed.
      if (drainMs > 0) this.pump.finalPass(() => this.drain());
      await this.idle();
      clearTimeout(timer);
      await this.saveSkips(true);
    })());
  }

  async idle(): Promise<void> {
    await this.pump.idle();
  }

  status(): WebhookStatus {
    const head = this.head;
    return {
      endpoint: this.options.endpoint.shown,
      key: this.key,
      state: this.stopped ? 'stopped' : this.pump.retrying ? 'retrying' : this.pump.busy ? 'delivering' : 'idle',
      position: this.position,
      head_position: head,
      lag_events: Math.max(0, head - this.position),
      lag_seconds: this.inHand ? Math.max(0, this.clock() - this.inHand.recordedAt) / 1000 : 0,
      attempts: { ...this.counts },
    };
  }

  /** Delivers until nothing committed is left, an attempt fails, or it is stopped (past `deadline`). */
  private async drain(): Promise<void> {
    const pageSize = this.options.pageSize ?? 100;
    const window = this.options.scanWindow ?? 10_000;
    try {
      for (;;) {
        if (this.stopped && !(performance.now() < this.deadline)) return;
        const head = await this.store.head();
        this.head = Math.max(this.head, head);
        if (head <= this.position) return await this.saveSkips(false);
        const until = Math.min(head, this.position + window);
        const rows = await this.store.readLogRows({ after: this.position, until, types: DELIVERED_TYPES, limit: pageSize });
        for (const row of rows) {
          if (this.stopped && !(performance.now() < this.deadline)) return;
          if (!(await this.deliver(row))) return;
        }
        // A short page read everything up to `until`: nothing more to deliver there.
        if (rows.length < pageSize && this.position < until) this.position = until;
      }
    } catch (err) {
      // Not a delivery failure (those are values): the log could not be read or written. Try again later.
      this.logger.warn({ err, endpoint: this.options.endpoint.shown }, 'webhook: delivery stopped by an error; retrying');
      this.pump.retryIn(backoffDelay(1, this.options.backoff, this.options.random));
    }
  }

  /** One event: true when it is done with (delivered, skipped or given up), false when a retry is scheduled. */
  private async deliver(row: EventRow): Promise<boolean> {
    const data = JSON.parse(row.data) as Record<string, unknown>;
    if (!isDelivered(row.type, data)) {
      this.position = row.position;
      return true;
    }
    if (this.inHand?.position !== row.position) this.inHand = { position: row.position, recordedAt: row.recordedAt, attempts: 0 };
    const inHand = this.inHand;
    inHand.attempts++;
    const outcome = row.type === 'connection.closed' ? closeOutcome(String(data.initiator), await this.failedBefore(row)) : null;
    const id = webhookId(this.options.node, row.position);
    const body = JSON.stringify(webhookBody(row, data, this.options.node, outcome));
    const result = await this.post(id, body);
    const endpoint = this.options.endpoint.shown;
    const common = { endpoint, webhook_id: id, position: row.position, event_type: row.type, attempt: inHand.attempts, duration_ms: Math.round(result.durationMs) };
    if (result.ok) {
      await this.record({ type: 'webhook.delivered', data: { ...common, status: result.status } }, row.position);
      this.counts.delivered++;
      this.done(row.position);
      return true;
    }
    if (inHand.attempts >= this.options.maxAttempts) {
      await this.record({ type: 'webhook.failed', data: { ...common, status: result.status, error: result.error } }, row.position);
      this.counts.failed++;
      this.logger.error({ endpoint, webhookId: id, attempts: inHand.attempts, err: result.error }, 'webhook: giving up on an event after the last allowed attempt');
      this.done(row.position);
      return true;
    }
    const backoff = backoffDelay(inHand.attempts, this.options.backoff, this.options.random);
    const delay = Math.min(this.options.backoff.maxMs, Math.max(backoff, result.retryAfterMs ?? 0));
    await this.record({ type: 'webhook.attempt_failed', data: { ...common, status: result.status, error: result.error, retry_in_ms: delay } }, null);
    this.counts.retrying++;
    const log = inHand.attempts === 1 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
    log({ endpoint, webhookId: id, attempt: inHand.attempts, status: result.status, err: result.error, retryInMs: delay }, 'webhook: delivery failed; retrying');
    this.pump.retryIn(delay);
    return false;
  }

  /**
   * Whether the connection failed before this close: its state changes and
   * errors before it (a few dozen rows of the stream; bounded all the same).
   */
  private async failedBefore(row: EventRow): Promise<boolean> {
    const rows = await this.store.readLogRows({ stream: row.stream, types: FAILURE_TYPES, until: row.position - 1, limit: 1000 });
    return rows.some((r) => isFailure(r.type, JSON.parse(r.data) as Record<string, unknown>));
  }

  private done(position: number) {
    this.position = position;
    this.savedPosition = position;
    this.inHand = null;
  }

  /** Positions passed without a delivery (other events) are saved now and then, so a restart need not scan them again. */
  private async saveSkips(force: boolean) {
    if (this.position === this.savedPosition) return;
    if (!force && this.position - this.savedPosition < SAVE_SKIPS_EVERY) return;
    const position = this.position;
    await this.store.writeCheckpoint(this.consumer, this.store.checkpointAt(position));
    this.savedPosition = Math.max(this.savedPosition, position);
  }

  private async post(id: string, body: string): Promise<Attempt> {
    const started = performance.now();
    const attemptedAt = new Date(this.clock());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'webrtc-monitor-webhooks',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
      'webhook-signature': this.signer.sign(id, attemptedAt, body),
    };
    if (this.options.endpoint.authorization) headers.authorization = this.options.endpoint.authorization;
    const controller = new AbortController();
    this.request = controller;
    const timer = setTimeout(() => controller.abort(new TimeoutError(this.options.timeoutMs)), this.options.timeoutMs);
    try {
      // Redirects are failures (Standard Webhooks: update the URL instead of following).
      const res = await fetch(this.options.endpoint.url, { method: 'POST', headers, body, redirect: 'manual', signal: controller.signal });
      // The answer's body is not needed: drop it rather than read an unbounded amount.
      await res.body?.cancel().catch(() => {});
      const durationMs = performance.now() - started;
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, durationMs };
      return { ok: false, status: res.status, error: { code: `HTTP_${res.status}`, message: `the endpoint answered ${res.status}` }, durationMs, retryAfterMs: retryAfter(res.headers.get('retry-after'), this.clock()) };
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : err;
      const error =
        reason instanceof TimeoutError
          ? { code: 'TIMEOUT', message: reason.message }
          : reason instanceof ShutdownError
            ? { code: 'SHUTTING_DOWN', message: reason.message }
            : { code: 'UNREACHABLE', message: describe(reason) };
      return { ok: false, status: null, error, durationMs: performance.now() - started, retryAfterMs: null };
    } finally {
      clearTimeout(timer);
      this.request = null;
    }
  }

  /** Appends an attempt's event, with the checkpoint when it ends the event's delivery. A failure stops this drain (it is retried). */
  private async record(event: NewEvent, checkpoint: number | null) {
    const { store } = this;
    const result = await store.append(this.stream, [event], checkpoint === null ? {} : { checkpoint: { consumer: this.consumer, at: store.checkpointAt(checkpoint) } });
    if (!result.ok) throw new Error('webhook: unexpected version conflict');
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

class ShutdownError extends Error {
  constructor() {
    super('abandoned at shutdown (sent again on the next start)');
  }
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const text = cause?.code ? `${cause.code}: ${cause.message ?? ''}` : err instanceof Error ? err.message : String(err);
  return text.slice(0, 300);
}

/** A Retry-After header (seconds or an HTTP date) in ms, or null. */
function retryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
