// The operation runner and task tracker. Every action (stream, stop, close,
// benchmark, ...) is an operation: `operation.started` is committed before the
// caller gets the id, the work runs as tracked tasks with an AbortSignal and a
// deadline, and the outcome is appended with its duration. Nothing runs
// untracked and nothing is reported that did not happen.
//
// An answer never outruns the log: an outcome is reported as it happened only
// once its event committed. When it cannot be recorded (storage full, busy,
// gone), the caller hears `failed` with the storage code instead, the runner
// records that failure, and if storage refuses that too it keeps the event
// (bounded) and writes it as soon as the log commits again; what is still
// missing at the next start is closed out by recovery.
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../log/store.ts';
import { AppError, isAppError, unavailable } from '../errors.ts';
import { storageError } from '../log/storage.ts';
import { streamName, type NewEvent } from '../log/catalogue.ts';

/** Outcome events kept for a later write while storage refuses them. */
export const MAX_UNRECORDED = 10_000;

export type OperationOutcome<T = unknown> =
  | { operationId: string; status: 'completed'; result: T; durationMs: number }
  | { operationId: string; status: 'failed' | 'cancelled'; error: { code: string; message: string }; durationMs: number };

export type TaskOptions = { connectionId?: string | null; timeoutMs?: number };

export type OperationContext = {
  operationId: string;
  signal: AbortSignal;
  /** Runs `fn` as a tracked task of this operation; rejects if it fails, is cancelled or times out. */
  task<R>(name: string, fn: (signal: AbortSignal) => Promise<R>, options?: TaskOptions): Promise<R>;
};

export type StartOptions = {
  connectionId?: string | null;
  serverId?: string | null;
  timeoutMs?: number;
  requestId?: string;
  /** Fixed id, for operations whose id the caller already shared. */
  operationId?: string;
};

export type Started<T> = { operationId: string; outcome: Promise<OperationOutcome<T>> };

type Running = { controller: AbortController; outcome: Promise<OperationOutcome> };

/** Why a signal was aborted: the reason decides cancelled vs timed_out. */
class AbortReason extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timed_out',
    message: string,
    readonly timeoutMs = 0,
  ) {
    super(message);
  }
}

export class OperationRunner {
  private readonly running = new Map<string, Running>();
  private readonly tasks = new Map<string, AbortController>();
  /**
   * Tasks given up on (timed out or cancelled) whose work has not settled:
   * the promise we stopped waiting for may still hold a socket or a file, so
   * they count as pending until it settles and `task.settled_late` is recorded.
   */
  private readonly abandoned = new Set<string>();
  /** `operation.started` appends in flight: shutdown waits for them before it counts what runs. */
  private readonly starting = new Set<Promise<unknown>>();
  /** Outcome events storage refused, by stream, written when the log commits again. */
  private readonly unrecorded = new Map<string, { events: NewEvent[]; meta: Record<string, unknown> }>();
  private retrying: Promise<void> | null = null;
  private accepting = true;

  /** Milliseconds on a monotonic clock, for durations only (deadlines are timers). */
  private readonly now: () => number;

  constructor(
    private readonly log: EventStore,
    private readonly options: { defaultTimeoutMs: number; clock?: () => number },
  ) {
    this.now = options.clock ?? (() => performance.now());
    log.onCommit(() => {
      if (this.unrecorded.size > 0 && !this.retrying) void this.recordKept();
    });
  }

  /** Outcome events waiting for storage to come back. */
  get pendingOutcomes(): number {
    return this.unrecorded.size;
  }

  get activeOperations(): number {
    return this.running.size;
  }

  /** Tasks holding work: running, or abandoned with their work still running. */
  get activeTasks(): number {
    return this.tasks.size + this.abandoned.size;
  }

  get abandonedTasks(): number {
    return this.abandoned.size;
  }

  /**
   * Records `operation.started` (committed before this resolves), then runs
   * `work` as the operation's main task. The outcome promise never rejects:
   * a failure is an outcome, recorded in the log.
   */
  async start<T>(
    type: string,
    params: Record<string, unknown>,
    work: (ctx: OperationContext) => Promise<T>,
    options: StartOptions = {},
  ): Promise<Started<T>> {
    if (!this.accepting) throw unavailable('SHUTTING_DOWN', 'the server is shutting down', 10);
    const operationId = options.operationId ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs;
    const meta = { operation_id: operationId, ...(options.requestId ? { request_id: options.requestId } : {}) };
    const appending = this.log.append(
      streamName('operation', operationId),
      [
        {
          type: 'operation.started',
          data: {
            operation_id: operationId,
            type,
            params,
            connection_id: options.connectionId ?? null,
            server_id: options.serverId ?? null,
            timeout_ms: timeoutMs,
          },
        },
      ],
      { expectedVersion: 'no_stream', meta },
    );
    this.starting.add(appending);
    let started: Awaited<typeof appending>;
    try {
      started = await appending;
    } finally {
      this.starting.delete(appending);
    }
    if (!started.ok) throw new AppError('CONFLICT', `operation ${operationId} already exists`);

    const controller = new AbortController();
    const t0 = this.now();
    const deadline = setTimeout(
      () => controller.abort(new AbortReason('timed_out', `operation timed out after ${timeoutMs} ms`, timeoutMs)),
      timeoutMs,
    );
    const ctx: OperationContext = {
      operationId,
      signal: controller.signal,
      task: (name, fn, taskOptions = {}) =>
        this.runTask(operationId, name, fn, controller.signal, {
          connectionId: taskOptions.connectionId ?? options.connectionId ?? null,
          timeoutMs: taskOptions.timeoutMs,
        }, meta),
    };

    const outcome = (async (): Promise<OperationOutcome<T>> => {
      let result: OperationOutcome<T>;
      try {
        // The operation's deadline aborts this task through the parent signal.
        const value = await ctx.task('run', () => work(ctx));
        result = { operationId, status: 'completed', result: value, durationMs: this.elapsed(t0) };
      } catch (err) {
        const error = describe(err, controller.signal);
        const status = error.code === 'CANCELLED' ? 'cancelled' : 'failed';
        result = { operationId, status, error, durationMs: this.elapsed(t0) };
      } finally {
        clearTimeout(deadline);
      }
      try {
        const refused = await this.recordOutcome(operationId, result, meta).then(() => null, (err: unknown) => err);
        if (refused !== null) {
          // The outcome promise must never reject, and must not report what
          // the log does not hold: the caller hears a failure saying why. A
          // result the log cannot store (not serialisable) is INTERNAL;
          // storage that refused it gives its storage code (a 503 to HTTP
          // clients). If the log is closed the failure goes unrecorded and
          // the next start-up's recovery closes the operation out.
          const code = storageError(refused)?.code ?? (isAppError(refused) && refused.code === 'SHUTTING_DOWN' ? 'SHUTTING_DOWN' : 'INTERNAL');
          const what = result.status === 'completed' ? 'the result' : `the outcome (${result.status})`;
          const failed: OperationOutcome<T> = {
            operationId,
            status: 'failed',
            error: { code, message: `${what} could not be recorded: ${describe(refused, null).message}` },
            durationMs: result.durationMs,
          };
          result = failed;
          await this.recordOutcome(operationId, failed, meta).catch((err: unknown) => {
            if (storageError(err)) this.keep(streamName('operation', operationId), [outcomeEvent(failed)], meta);
          });
        }
      } finally {
        this.running.delete(operationId);
      }
      return result;
    })();
    this.running.set(operationId, { controller, outcome: outcome as Promise<OperationOutcome> });
    return { operationId, outcome };
  }

  /** Starts an operation and waits for its outcome. */
  async run<T>(
    type: string,
    params: Record<string, unknown>,
    work: (ctx: OperationContext) => Promise<T>,
    options: StartOptions = {},
  ): Promise<OperationOutcome<T>> {
    return (await this.start(type, params, work, options)).outcome;
  }

  /** Cancels a running operation; false if it is not running. */
  cancel(operationId: string, reason = 'cancelled by request'): boolean {
    const op = this.running.get(operationId);
    if (!op) return false;
    op.controller.abort(new AbortReason('cancelled', reason));
    return true;
  }

  outcomeOf(operationId: string): Promise<OperationOutcome> | null {
    return this.running.get(operationId)?.outcome ?? null;
  }

  /** Stops accepting operations; waits for running ones up to `graceMs`, then cancels the rest (recorded). */
  async shutdown(graceMs: number): Promise<{ finished: number; cancelled: number; unrecorded: number }> {
    this.accepting = false;
    // An operation whose `operation.started` is still being committed is not
    // running yet, but it will be: count it.
    await Promise.allSettled([...this.starting]);
    const all = [...this.running.values()];
    const settled = Promise.all(all.map((r) => r.outcome));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    let cancelled = 0;
    if (!inTime) {
      for (const r of this.running.values()) {
        r.controller.abort(new AbortReason('cancelled', 'shutdown'));
        cancelled++;
      }
      await settled;
    }
    // One last try for outcomes storage refused; what is still missing is
    // closed out by the next start's recovery.
    if (this.unrecorded.size > 0) await (this.retrying ?? this.recordKept());
    return { finished: all.length - cancelled, cancelled, unrecorded: this.unrecorded.size };
  }

  /**
   * Keeps outcome events storage refused, to write when the log commits
   * again. A stream's kept events stay in order, except that a task's
   * `task.settled_late` always follows the end it settles.
   */
  private keep(stream: string, events: NewEvent[], meta: Record<string, unknown>) {
    const kept = this.unrecorded.get(stream);
    if (kept) {
      const late = kept.events.filter((e) => e.type === 'task.settled_late');
      kept.events = [...kept.events.filter((e) => e.type !== 'task.settled_late'), ...events, ...late];
      return;
    }
    if (this.unrecorded.size >= MAX_UNRECORDED) return; // recovery closes it out at the next start
    this.unrecorded.set(stream, { events, meta });
  }

  private recordKept(): Promise<void> {
    this.retrying = (async () => {
      for (const [stream, kept] of [...this.unrecorded]) {
        const events = kept.events;
        try {
          await this.log.append(stream, events, { meta: kept.meta });
          // Events kept for this stream while that append ran wait for the next pass.
          kept.events = kept.events.filter((e) => !events.includes(e));
          if (kept.events.length === 0) this.unrecorded.delete(stream);
        } catch {
          break; // still refused: wait for the next commit
        }
      }
    })().finally(() => (this.retrying = null));
    return this.retrying;
  }

  private async runTask<R>(
    operationId: string,
    name: string,
    fn: (signal: AbortSignal) => Promise<R>,
    parent: AbortSignal,
    options: { connectionId: string | null; timeoutMs?: number },
    meta: { operation_id: string },
  ): Promise<R> {
    const taskId = randomUUID();
    const stream = streamName('task', taskId);
    const controller = new AbortController();
    const onParentAbort = () => controller.abort(parent.reason);
    if (parent.aborted) onParentAbort();
    else parent.addEventListener('abort', onParentAbort, { once: true });
    const timer = options.timeoutMs
      ? setTimeout(
          () => controller.abort(new AbortReason('timed_out', `task "${name}" timed out after ${options.timeoutMs} ms`, options.timeoutMs)),
          options.timeoutMs,
        )
      : undefined;
    this.tasks.set(taskId, controller);
    const t0 = this.now();
    try {
      await this.log.append(
        stream,
        [
          {
            type: 'task.created',
            data: {
              task_id: taskId,
              name,
              operation_id: operationId,
              connection_id: options.connectionId,
              timeout_ms: options.timeoutMs ?? null,
            },
          },
          { type: 'task.started', data: {} },
        ],
        { expectedVersion: 'no_stream', meta },
      );
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(controller.signal.reason);
        if (controller.signal.aborted) fail();
        else controller.signal.addEventListener('abort', fail, { once: true });
      });
      aborted.catch(() => {});
      const work = Promise.resolve().then(() => fn(controller.signal));
      let workSettled = false;
      // If the abort wins the race the work may still settle later; never let
      // that surface as an unhandled rejection.
      work.then(
        () => (workSettled = true),
        () => (workSettled = true),
      );
      let value: R;
      try {
        value = await Promise.race([work, aborted]);
      } catch (err) {
        const reason = controller.signal.aborted ? controller.signal.reason : null;
        const durationMs = this.elapsed(t0);
        // The deadline or a cancel ended the wait, not the work. Work that
        // honours its signal stops at once, or after recording its own tasks'
        // ends; give it ABANDON_GRACE_MS to do so (the task still counts as
        // running meanwhile). Work still running after that is abandoned:
        // counted until it really settles. The grace only decides how the end
        // is told, never what is counted.
        if (reason !== null && !workSettled) await settledWithin(work, ABANDON_GRACE_MS);
        const abandoned = reason !== null && !workSettled;
        if (abandoned) this.watchAbandoned(taskId, stream, work, t0, meta);
        if (reason instanceof AbortReason && reason.kind === 'timed_out') {
          await this.recordTaskEnd(stream, { type: 'task.timed_out', data: { timeout_ms: reason.timeoutMs, duration_ms: durationMs, abandoned } }, meta, t0, abandoned);
        } else if (reason) {
          const why = reason instanceof Error ? reason.message : String(reason);
          await this.recordTaskEnd(stream, { type: 'task.cancelled', data: { reason: why, duration_ms: durationMs, abandoned } }, meta, t0, abandoned);
        } else {
          await this.recordTaskEnd(stream, { type: 'task.failed', data: { error: describe(err, null), duration_ms: durationMs } }, meta, t0);
        }
        throw reason ?? err;
      }
      await this.recordTaskEnd(stream, { type: 'task.completed', data: { result: summarize(value), duration_ms: this.elapsed(t0) } }, meta, t0);
      return value;
    } finally {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
      this.tasks.delete(taskId);
    }
  }

  /**
   * Keeps an abandoned task counted until its work settles, then records how
   * it ended. If storage refuses that, it is kept and written when storage
   * returns (after the task's end, if that is still waiting too). If the log
   * is closed by then (shutdown), nothing is recorded and the next start-up's
   * recovery closes the task out (`process_restart`).
   */
  private watchAbandoned(taskId: string, stream: string, work: Promise<unknown>, t0: number, meta: { operation_id: string }) {
    this.abandoned.add(taskId);
    const abandonedAt = this.now();
    const settle = (outcome: 'completed' | 'failed', error?: { code: string; message: string }) => {
      const late: NewEvent = {
        type: 'task.settled_late',
        data: { outcome, ...(error ? { error } : {}), late_ms: this.elapsed(abandonedAt), duration_ms: this.elapsed(t0) },
      };
      // The give-up event was appended in the turn that called this; if
      // storage refused it, it waits among the kept events and this must
      // follow it there, not overtake it.
      if (this.unrecorded.has(stream)) {
        this.keep(stream, [late], meta);
        this.abandoned.delete(taskId);
        return;
      }
      this.log
        .append(stream, [late], { meta })
        .catch((err: unknown) => {
          if (storageError(err)) this.keep(stream, [late], meta);
        })
        .finally(() => this.abandoned.delete(taskId));
    };
    work.then(
      () => settle('completed'),
      (err) => settle('failed', describe(err, null)),
    );
  }

  /**
   * Records a task's end. If storage refuses it, the task is recorded as
   * failed with the storage code as soon as storage returns (still
   * `abandoned` when its work runs on), and the task throws that error: its
   * caller must not act on an end the log lacks.
   */
  private async recordTaskEnd(stream: string, event: NewEvent, meta: { operation_id: string }, t0: number, abandoned = false) {
    try {
      await this.log.append(stream, [event], { meta });
    } catch (err) {
      const storage = storageError(err);
      if (storage) {
        const error = { code: storage.code, message: `the task's end (${event.type}) could not be recorded: ${storage.message}` };
        this.keep(stream, [{ type: 'task.failed', data: { error, duration_ms: this.elapsed(t0), ...(abandoned ? { abandoned } : {}) } }], meta);
      }
      throw err;
    }
  }

  private elapsed(t0: number): number {
    return Math.round(this.now() - t0);
  }

  private async recordOutcome(operationId: string, outcome: OperationOutcome, meta: { operation_id: string }) {
    await this.log.append(streamName('operation', operationId), [outcomeEvent(outcome)], { meta });
  }
}

function outcomeEvent(outcome: OperationOutcome): NewEvent {
  const durationMs = Math.round(outcome.durationMs);
  if (outcome.status === 'completed') return { type: 'operation.completed', data: { result: outcome.result ?? null, duration_ms: durationMs } };
  if (outcome.status === 'cancelled') return { type: 'operation.cancelled', data: { reason: outcome.error.message, duration_ms: durationMs } };
  return { type: 'operation.failed', data: { error: outcome.error, duration_ms: durationMs } };
}

/** How long aborted work has to stop before its task is recorded as abandoned. */
export const ABANDON_GRACE_MS = 100;

/** Resolves when `work` settles or `ms` passes, whichever is first. */
function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const done = () => clearTimeout(timer);
  return Promise.race([
    work.then(done, done),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
}

function describe(err: unknown, signal: AbortSignal | null): { code: string; message: string } {
  const reason = signal?.aborted ? signal.reason : err;
  if (reason instanceof AbortReason) return { code: reason.kind === 'timed_out' ? 'TIMEOUT' : 'CANCELLED', message: reason.message };
  if (isAppError(reason)) return { code: reason.code, message: reason.message };
  if (reason instanceof Error) return { code: 'INTERNAL', message: reason.message };
  return { code: 'INTERNAL', message: String(reason) };
}

/** Task results are summaries: large values belong in the operation result, not every task event. */
function summarize(value: unknown): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    // A BigInt or a cycle (a werift object, say) must not fail the task it describes.
    return { not_recorded: `result is not JSON: ${(err as Error).message}` };
  }
  if (text === undefined) return null;
  // Large results are the operation's business (its outcome records them whole);
  // the task event says how large it was instead of repeating it.
  return text.length <= 2000 ? value : { not_recorded: 'large result: see the operation outcome', json_bytes: text.length };
}
