// Runs the detectors (detectors.ts) over the log as a checkpointed consumer.
// It reads the events after its checkpoint in position order, a bounded page
// per turn, and writes the issue events they caused together with its new
// checkpoint and its state in one transaction (EventLog.appendWithCheckpoint):
// after a crash or a restart it goes on from exactly where those issue
// events left it, so an issue is neither lost nor raised twice.
//
// A timer ticks the detectors' clock every rules.tick_ms, so a deadline or
// a hold time passes with no event arriving. Pages that emit nothing move
// the checkpoint at most once a second: re-reading them after a crash gives
// the same (empty) result from the same state.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../log/open.ts';
import type { EventLog } from '../log/append.ts';
import { headPosition, readAll } from '../log/read.ts';
import { readConsumerState } from '../log/checkpoint.ts';
import { DETECTED_TYPES, detectInPlace, emptyDetectorState, type DetectorState, type Emit } from './detectors.ts';
import type { RulesHolder } from './rulesHolder.ts';

export const DETECTOR_CONSUMER = 'detectors';
const PAGE = 200;
/** Positions one query looks through at most. */
const SCAN = 5000;
/** Pages per turn of the event loop, so a long backlog never holds it. */
const PAGES_PER_TURN = 2;
const IDLE_CHECKPOINT_MS = 1000;

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
  private scheduled: NodeJS.Immediate | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly clock: () => number;
  private readonly newId: () => string;
  /** Issue events written by this process, for tests and /metrics. */
  readonly counts = { events: 0, emitted: 0, failures: 0 };

  constructor(
    private readonly db: Db,
    private readonly log: EventLog,
    private readonly rules: RulesHolder,
    private readonly logger: Logger,
    options: DetectorConsumerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.newId = options.newId ?? randomUUID;
  }

  /** Loads the checkpoint and state, catches up and starts following the log. */
  start(): void {
    this.load();
    this.unsubscribe = this.log.onCommit(() => this.kick());
    this.armTimer();
    this.kick();
  }

  /** Stops following the log; what it has read so far is saved with its state (nothing to redo on the next start). */
  stop(): void {
    if (!this.stopped && this.unsubscribe && !this.retryTimer) {
      try {
        this.save([]);
      } catch (err) {
        this.logger.warn({ err }, 'detectors: could not save their checkpoint at stop; the next start reads again from the last one');
      }
    }
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.scheduled) clearImmediate(this.scheduled);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = null;
    this.scheduled = null;
  }

  /** Where it has read up to. */
  get checkpoint(): number {
    return this.position;
  }

  /** Issues open now, as the detectors see them. */
  openIssues() {
    return Object.values(this.state.issues).map((i) => ({ id: i.id, type: i.type, severity: i.severity, subject: i.subject }));
  }

  /** Re-arms the tick after the rules changed. */
  rulesChanged(): void {
    this.armTimer();
    this.kick();
  }

  private load() {
    const saved = readConsumerState(this.db, DETECTOR_CONSUMER);
    // The first start begins at the head: a log that predates the detectors
    // is not searched for issues long over. From then on nothing is skipped.
    this.position = saved?.position ?? headPosition(this.db);
    this.state = saved?.state ? (JSON.parse(saved.state) as DetectorState) : emptyDetectorState();
    // The row exists from the start, so prune keeps every event not yet read.
    if (!saved) this.save([]);
  }

  private armTimer() {
    const tickMs = this.rules.current.tick_ms;
    if (this.stopped || (this.timer && tickMs === this.tickMs)) return;
    if (this.timer) clearInterval(this.timer);
    this.tickMs = tickMs;
    this.timer = setInterval(() => this.guarded(() => this.tick()), tickMs);
    this.timer.unref();
  }

  private kick() {
    if (this.stopped || this.scheduled || this.retryTimer) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      if (this.guarded(() => this.drain(PAGES_PER_TURN))) this.kick();
    });
  }

  /**
   * Runs `work`; a failure to read the log (storage gone, a row that does not
   * parse) is logged and retried later from the last checkpoint, never
   * thrown out of a timer where it would end the process.
   */
  private guarded<T>(work: () => T): T | false {
    try {
      return work();
    } catch (err) {
      this.counts.failures++;
      this.logger.warn({ err }, 'detectors: could not read the log; retrying from the last checkpoint');
      try {
        this.load();
      } catch {
        // storage still away: the retry loads again
      }
      if (!this.stopped && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.kick();
        }, 1000);
        this.retryTimer.unref();
      }
      return false;
    }
  }

  /** Reads and detects up to `pages` pages; true when more may wait. */
  private drain(pages: number): boolean {
    for (let i = 0; i < pages; i++) {
      if (this.stopped) return false;
      // Only the types the detectors fold are read (and parsed), a bounded
      // window of positions per query so a rare match never scans the log.
      const head = headPosition(this.db);
      if (head <= this.position) return false;
      const until = Math.min(head, this.position + SCAN);
      const events = readAll(this.db, { after: this.position, until, limit: PAGE, types: [...DETECTED_TYPES] });
      const ctx = { rules: this.rules.current, newId: this.newId };
      const emits: Emit[] = [];
      for (const event of events) emits.push(...detectInPlace(this.state, event, ctx));
      const last = events.length === PAGE ? events[events.length - 1].position : until;
      if (!this.commit(emits, last)) return false;
      this.counts.events += events.length;
      if (last >= head) return false;
    }
    return true;
  }

  /** One tick of the detectors' clock, after catching up with what is committed. */
  private tick() {
    if (this.stopped || this.retryTimer) return;
    if (this.drain(PAGES_PER_TURN)) return this.kick(); // still catching up: tick after
    const emits = detectInPlace(this.state, { type: 'tick', at: this.clock() }, { rules: this.rules.current, newId: this.newId });
    if (emits.length > 0 || this.clock() - this.savedAt >= IDLE_CHECKPOINT_MS) this.commit(emits, this.position);
  }

  /** Writes the emits with the checkpoint; on failure the state goes back to the last one saved. */
  private commit(emits: Emit[], position: number): boolean {
    if (emits.length === 0 && position !== this.position && this.clock() - this.savedAt < IDLE_CHECKPOINT_MS) {
      this.position = position;
      return true;
    }
    try {
      this.save(emits, position);
      this.position = position;
      this.counts.emitted += emits.length;
      return true;
    } catch (err) {
      this.counts.failures++;
      this.logger.warn({ err }, 'detectors: could not record issue events; retrying from the last checkpoint');
      try {
        this.load();
      } catch {
        // storage still away: the retry loads again
      }
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, 1000);
      this.retryTimer.unref();
      return false;
    }
  }

  private save(emits: Emit[], position = this.position) {
    this.log.appendWithCheckpoint(groupByStream(emits), { consumer: DETECTOR_CONSUMER, position, state: JSON.stringify(this.state) });
    this.savedAt = this.clock();
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
