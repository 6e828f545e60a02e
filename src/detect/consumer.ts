// Runs the detectors (detectors.ts) over the log as a checkpointed consumer.
// It reads the events after its checkpoint in position order, a bounded page
// at a time, and writes the issue events they caused together with its new
// checkpoint and its state in one transaction (EventStore.appendWithCheckpoint):
// after a crash or a restart it goes on from exactly where those issue
// events left it, so an issue is neither lost nor raised twice.
//
// A timer ticks the detectors' clock every rules.tick_ms, so a deadline or
// a hold time passes with no event arriving. Pages that emit nothing move
// the checkpoint at most once a second: re-reading them after a crash gives
// the same (empty) result from the same state.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventStore } from '../log/store.ts';
import { Pump } from '../pump.ts';
import { DETECTED_TYPES, detectInPlace, emptyDetectorState, type DetectorState, type Emit } from './detectors.ts';
import type { RulesHolder } from './rulesHolder.ts';

export const DETECTOR_CONSUMER = 'detectors';
const PAGE = 200;
/** Positions one read looks through at most. */
const SCAN = 5000;
/** Pages per turn of the event loop, so a long backlog never holds it. */
const PAGES_PER_TURN = 2;
const IDLE_CHECKPOINT_MS = 1000;
const RETRY_MS = 1000;

export type DetectorConsumerOptions = {
  clock?: () => number;
  newId?: () => string;
};

export class DetectorConsumer {
  private state: DetectorState = emptyDetectorState();
  private position = 0;
  private savedAt = 0;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private tickMs = 0;
  private readonly pump = new Pump(() => this.pass());
  private tickWanted = false;
  private stopped = false;
  private started = false;
  private readonly clock: () => number;
  private readonly newId: () => string;
  /** What this process did, for tests and logs. */
  readonly counts = { events: 0, emitted: 0, failures: 0 };

  constructor(
    private readonly store: EventStore,
    private readonly rules: RulesHolder,
    private readonly logger: Logger,
    options: DetectorConsumerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.newId = options.newId ?? randomUUID;
  }

  /** Loads the checkpoint and state, then catches up and follows the log in the background. */
  async start(): Promise<void> {
    await this.load();
    this.started = true;
    this.unsubscribe = this.store.onCommit(() => this.pump.kick());
    this.armTimer();
    this.pump.kick();
  }

  /** Stops following the log once the pass in flight ends; what it read is saved with its state. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const failing = this.pump.close();
    await this.pump.idle();
    if (this.started && !failing) {
      try {
        await this.save([], this.position);
      } catch (err) {
        this.logger.warn({ err }, 'detectors: could not save their checkpoint at stop; the next start reads again from the last one');
      }
    }
  }

  /** Resolves when no pass is in flight (tests). */
  async idle(): Promise<void> {
    await this.pump.idle();
  }

  /** Where it has read up to. */
  get checkpoint(): number {
    return this.position;
  }

  /** Re-arms the tick after the rules changed. */
  rulesChanged(): void {
    this.armTimer();
    this.pump.kick();
  }

  private async load() {
    const saved = await this.store.readConsumerState(DETECTOR_CONSUMER);
    // The first start begins at the head: a log that predates the detectors
    // is not searched for issues long over. From then on nothing is skipped.
    this.position = saved ? this.store.positionOf(saved.checkpoint) : await this.store.head();
    this.state = saved?.state ? (JSON.parse(saved.state) as DetectorState) : emptyDetectorState();
    // The row exists from the start, so prune keeps every event not yet read.
    if (!saved) await this.save([], this.position);
  }

  private armTimer() {
    const tickMs = this.rules.current.tick_ms;
    if (this.stopped || !this.started || (this.timer && tickMs === this.tickMs)) return;
    if (this.timer) clearInterval(this.timer);
    this.tickMs = tickMs;
    this.timer = setInterval(() => {
      this.tickWanted = true;
      this.pump.kick();
    }, tickMs);
    this.timer.unref();
  }

  /**
   * Catches up with what is committed, then ticks the clock if a tick is
   * due. A failure (storage away, a row that does not parse) is logged and
   * retried from the last checkpoint, never thrown out of a timer.
   */
  private async pass(): Promise<void> {
    try {
      for (let turn = 0; ; turn++) {
        if (this.stopped) return;
        const more = await this.drain(PAGES_PER_TURN);
        if (!more) break;
        // Let other work run between pages of a long backlog.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (this.tickWanted && !this.stopped) {
        this.tickWanted = false;
        const emits = detectInPlace(this.state, { type: 'tick', at: this.clock() }, { rules: this.rules.current, newId: this.newId });
        if (emits.length > 0 || this.clock() - this.savedAt >= IDLE_CHECKPOINT_MS) await this.save(emits, this.position);
      }
    } catch (err) {
      this.counts.failures++;
      this.logger.warn({ err }, 'detectors: could not read the log or record issues; retrying from the last checkpoint');
      try {
        await this.load();
      } catch {
        // storage still away: the retry loads again
      }
      this.pump.retryIn(RETRY_MS, { unref: true });
    }
  }

  /** Reads and detects up to `pages` pages; true when more may wait. */
  private async drain(pages: number): Promise<boolean> {
    for (let i = 0; i < pages; i++) {
      // Only the types the detectors fold are read (and parsed), a bounded
      // window of positions per read so a rare match never scans the log.
      const head = await this.store.head();
      if (head <= this.position) return false;
      const until = Math.min(head, this.position + SCAN);
      const events = await this.store.readLog({ after: this.position, until, limit: PAGE, types: DETECTED_TYPES });
      const ctx = { rules: this.rules.current, newId: this.newId };
      const emits: Emit[] = [];
      for (const event of events) emits.push(...detectInPlace(this.state, event, ctx));
      const last = events.length === PAGE ? events[events.length - 1].position : until;
      if (emits.length > 0 || this.clock() - this.savedAt >= IDLE_CHECKPOINT_MS) await this.save(emits, last);
      this.position = last;
      this.counts.events += events.length;
      if (last >= head) return false;
    }
    return true;
  }

  private async save(emits: Emit[], position: number) {
    await this.store.appendWithCheckpoint(groupByStream(emits), {
      consumer: DETECTOR_CONSUMER,
      checkpoint: this.store.checkpointAt(position),
      state: JSON.stringify(this.state),
    });
    this.savedAt = this.clock();
    this.counts.emitted += emits.length;
  }
}

function groupByStream(emits: Emit[]): { stream: string; events: Emit['event'][] }[] {
  const out: { stream: string; events: Emit['event'][] }[] = [];
  for (const e of emits) {
    const last = out[out.length - 1];
    if (last && last.stream === e.stream) last.events.push(e.event);
    else out.push({ stream: e.stream, events: [e.event] });
  }
  return out;
}
