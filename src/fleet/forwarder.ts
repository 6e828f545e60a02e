// `serve --forward-to postgres://…`: ships this node's log to the central
// PostgreSQL. It is a checkpointed consumer of the log, like the --log-dir
// writer: it reads the events after its checkpoint in position order, sends
// them as one multi-row statement per batch (src/fleet/ship.ts), and moves
// its checkpoint after the centre committed. So it delivers at least once:
// a batch whose checkpoint was lost is sent again and absorbed by the
// centre's key (node, node_position). `prune` never passes its checkpoint.
//
// It never makes a local append wait: appends commit to SQLite as before and
// only nudge it (onCommit); it reads committed rows and does its network work
// on its own time. While the centre is unreachable events simply stay in the
// local log, and it retries with exponential backoff.
//
// Its state changes are events in the local log, on the stream
// `forwarder:<node>` (connected, behind, caught_up, failing: transitions
// only, never each retry), so the history of an outage is recorded on the
// node and, once it is over, in the centre too. Its lag is read from
// `status()` (summary and /metrics).
import type { Logger } from 'pino';
import type { EventStore } from '../log/store.ts';
import { streamName, type NewEvent } from '../log/catalogue.ts';
import { backoffDelay, type Backoff } from '../backoff.ts';
import { Pump } from '../pump.ts';
import { centreClient, describeError, endQuietly, redactUrl, type CentreClient } from './pg.ts';
import { migrateCentre } from './migrate.ts';
import { centreHead, shipBatch } from './ship.ts';
import type { ForwarderState, ForwarderStatus, ForwarderStatusSource } from './status.ts';

/** The forwarder's row in the node's `checkpoints` table. */
export const FORWARDER_CONSUMER = 'forwarder';

export type ForwarderOptions = {
  /** postgres://… of the central database. */
  url: string;
  /** This node's name in the centre. */
  node: string;
  /** Events per statement. */
  batchSize: number;
  backoff: Backoff;
  /** The oldest event waiting longer than this makes the forwarder `behind`. */
  behindAfterMs: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  clock?: () => number;
  random?: () => number;
};

const iso = (ms: number) => new Date(ms).toISOString();

export class Forwarder implements ForwarderStatusSource {
  private client: CentreClient | null = null;
  private state: ForwarderState = 'starting';
  private shipped = 0;
  private readonly pump = new Pump(() => this.drain());
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private failuresInARow = 0;
  private failingSince: number | null = null;
  private behindSince: number | null = null;
  private lastError: ForwarderStatus['last_error'] = null;
  private lastShippedAt: number | null = null;
  private readonly counts = { events: 0, duplicates: 0, batches: 0, failures: 0 };
  private readonly clock: () => number;
  private readonly target: string;
  private readonly stream: string;

  constructor(
    private readonly store: EventStore,
    private readonly options: ForwarderOptions,
    private readonly logger: Logger,
  ) {
    this.clock = options.clock ?? Date.now;
    this.target = redactUrl(options.url);
    this.stream = streamName('forwarder', options.node);
  }

  /** Starts shipping in the background; never waits for the centre. */
  async start(): Promise<void> {
    const { store } = this;
    const saved = await store.readCheckpoint(FORWARDER_CONSUMER);
    this.shipped = saved === null ? 0 : store.positionOf(saved);
    // The checkpoint exists from the start, so prune keeps every event not yet shipped.
    await store.writeCheckpoint(FORWARDER_CONSUMER, store.checkpointAt(this.shipped));
    this.unsubscribe = store.onCommit(() => this.pump.kick());
    this.pump.kick();
  }

  /** Where it ships to: known from the start, whatever the centre does. */
  get destination(): { node: string; target: string } {
    return { node: this.options.node, target: this.target };
  }

  /**
   * Stops: no new batch starts; the one in flight finishes or fails. With
   * `drainMs`, and the centre connected, it first ships what is committed
   * (the shutdown's own events), for at most about that long.
   */
  stop(options: { drainMs?: number } = {}): Promise<void> {
    return (this.stopping ??= (async () => {
      this.stopped = true;
      this.unsubscribe?.();
      this.pump.close();
      await this.idle();
      const drainMs = options.drainMs ?? 0;
      if (drainMs > 0 && this.client) {
        this.pump.finalPass(() => this.drain(performance.now() + drainMs));
        await this.idle();
      }
      await endQuietly(this.client);
      this.client = null;
      this.state = 'stopped';
    })());
  }

  /** Resolves when no batch is in flight. */
  async idle(): Promise<void> {
    await this.pump.idle();
  }

  async status(): Promise<ForwarderStatus> {
    const lag = await this.lag();
    return {
      node: this.options.node,
      target: this.target,
      state: this.state,
      shipped_position: this.shipped,
      head_position: lag.head,
      lag_events: lag.events,
      lag_seconds: lag.ms / 1000,
      events_shipped: this.counts.events,
      duplicates: this.counts.duplicates,
      batches: this.counts.batches,
      failures: this.counts.failures,
      last_error: this.lastError,
      last_shipped_at: this.lastShippedAt === null ? null : iso(this.lastShippedAt),
    };
  }

  private async lag() {
    const head = await this.store.head();
    const next = await this.store.firstAfter(this.shipped);
    // Positions are consecutive (AUTOINCREMENT; a rolled-back batch gives its positions back), so this counts events.
    return { head, events: Math.max(0, head - this.shipped), ms: next ? Math.max(0, this.clock() - next.recordedAt) : 0 };
  }

  /** Ships batches until a page comes back short (everything committed when it was read is in the centre). */
  private async drain(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    try {
      const client = await this.connect();
      for (;;) {
        if (this.stopped && !(performance.now() < deadline)) return;
        const rows = await this.store.readLogRows({ after: this.shipped, limit: this.options.batchSize });
        if (rows.length > 0) {
          // The node's lag as the centre will show it (it cannot read this log).
          const last = rows[rows.length - 1].position;
          const localHead = await this.store.head();
          const waiting = localHead > last ? await this.store.firstAfter(last) : null;
          const result = await shipBatch(client, this.options.node, rows, { localHead, waitingSince: waiting?.recordedAt ?? null });
          this.shipped = rows[rows.length - 1].position;
          await this.store.writeCheckpoint(FORWARDER_CONSUMER, this.store.checkpointAt(this.shipped));
          this.lastShippedAt = this.clock();
          this.counts.batches++;
          this.counts.events += result.inserted;
          this.counts.duplicates += result.duplicates;
          if (result.duplicates > 0) {
            this.logger.info({ node: this.options.node, duplicates: result.duplicates }, 'forwarder: the centre already held part of a batch (sent again after a restart)');
          }
        }
        if (rows.length < this.options.batchSize) return await this.caughtUp();
        await this.checkBehind();
      }
    } catch (err) {
      await this.fail(err);
    }
  }

  private async connect(): Promise<CentreClient> {
    if (this.client) return this.client;
    const { node } = this.options;
    const client = centreClient(this.options.url, {
      applicationName: `webrtc-monitor forwarder ${node}`,
      connectTimeoutMs: this.options.connectTimeoutMs,
      statementTimeoutMs: this.options.statementTimeoutMs,
    });
    // An idle connection that drops (the centre restarted) is reported here,
    // not to a query: forget it, and the next batch connects again.
    client.on('error', (err) => {
      if (this.client === client) this.client = null;
      this.lastError = { ...describeError(err), at: iso(this.clock()) };
      void endQuietly(client);
    });
    let centre: number;
    try {
      await client.connect();
      await migrateCentre(client);
      centre = await centreHead(client, node);
    } catch (err) {
      await endQuietly(client);
      throw err;
    }
    if (centre < this.shipped) await this.rewindTo(centre);
    this.client = client;
    const outageMs = this.failingSince === null ? null : this.clock() - this.failingSince;
    const failedAttempts = this.failuresInARow;
    this.failuresInARow = 0;
    this.failingSince = null;
    this.state = 'connected';
    this.logger.info({ node, target: this.target, resumeAfter: this.shipped, outageMs }, 'forwarder: connected to the centre');
    await this.record({
      type: 'forwarder.connected',
      data: { node, target: this.target, resume_after: this.shipped, centre_position: centre, outage_ms: outageMs, failed_attempts: failedAttempts },
    });
    return client;
  }

  /**
   * The centre holds less of this node than was shipped: a new or restored
   * central database. Send it again from what it has, as far as this log
   * still holds (prune kept everything after the checkpoint, not before).
   */
  private async rewindTo(centre: number) {
    const first = await this.store.firstAfter(centre);
    const from = first ? Math.min(this.shipped, first.position - 1) : this.shipped;
    if (from > centre) {
      this.logger.warn({ node: this.options.node, centre, from }, 'forwarder: the centre lacks events this log no longer holds (pruned); they cannot be sent again');
    }
    this.logger.warn({ node: this.options.node, centre, shipped: this.shipped, from }, 'forwarder: the centre holds less than was shipped; sending again');
    this.shipped = from;
    await this.store.writeCheckpoint(FORWARDER_CONSUMER, this.store.checkpointAt(from));
  }

  // The state moves once its event is committed: a status that says
  // `caught_up` with no lag then means that event is in the centre too.
  private async caughtUp() {
    if (this.state === 'caught_up') return;
    const behindMs = this.behindSince === null ? null : this.clock() - this.behindSince;
    await this.record({ type: 'forwarder.caught_up', data: { node: this.options.node, position: this.shipped, behind_ms: behindMs } });
    this.state = 'caught_up';
    this.behindSince = null;
  }

  private async checkBehind() {
    if (this.state === 'behind') return;
    const lag = await this.lag();
    if (lag.ms < this.options.behindAfterMs) return;
    await this.record({ type: 'forwarder.behind', data: { node: this.options.node, lag_events: lag.events, lag_ms: lag.ms } });
    this.state = 'behind';
    this.behindSince = this.clock();
  }

  private async fail(err: unknown) {
    const client = this.client;
    this.client = null;
    void endQuietly(client);
    this.counts.failures++;
    this.failuresInARow++;
    const error = describeError(err);
    this.lastError = { ...error, at: iso(this.clock()) };
    if (this.stopped) return;
    const delay = backoffDelay(this.failuresInARow, this.options.backoff, this.options.random);
    this.pump.retryIn(delay);
    if (this.state === 'failing') {
      this.logger.debug({ err: error, retryInMs: delay }, 'forwarder: still failing');
      return;
    }
    this.state = 'failing';
    this.failingSince = this.clock();
    this.behindSince = null;
    this.logger.warn({ err: error, target: this.target, retryInMs: delay }, 'forwarder: cannot ship to the centre; events wait in the local log');
    await this.record({
      type: 'forwarder.failing',
      data: { node: this.options.node, target: this.target, error, shipped_position: this.shipped, retry_in_ms: delay },
    });
  }

  /** Appends a state change to the local log; a closed log (shutdown) only loses the record, never the forwarder. */
  private async record(event: NewEvent) {
    try {
      await this.store.append(this.stream, [event]);
    } catch (err) {
      this.logger.warn({ err, type: event.type }, 'forwarder: could not record its state change');
    }
  }
}
