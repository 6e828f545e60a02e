// The operation runner and task tracker. Every action (stream, stop, close,
// benchmark, ...) is an operation: `operation.started` is committed before the
// caller gets the id, the work runs as tracked tasks with an AbortSignal and a
// deadline, and the outcome is appended with its duration. Nothing runs
// untracked and nothing is reported that did not happen.
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../log/append.ts';
import { AppError, isAppError } from '../log/errors.ts';
import { streamName } from '../log/catalogue.ts';

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
  private accepting = true;

  constructor(
    private readonly log: EventLog,
    private readonly options: { defaultTimeoutMs: number },
  ) {}

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
    if (!this.accepting) throw new AppError(503, 'SHUTTING_DOWN', 'the server is shutting down');
    const operationId = options.operationId ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs;
    const meta = { operation_id: operationId, ...(options.requestId ? { request_id: options.requestId } : {}) };
    const started = await this.log.append(
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
    if (!started.ok) throw new AppError(409, 'CONFLICT', `operation ${operationId} already exists`);

    const controller = new AbortController();
    const t0 = performance.now();
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
        result = { operationId, status: 'completed', result: value, durationMs: elapsed(t0) };
      } catch (err) {
        const error = describe(err, controller.signal);
        const status = error.code === 'CANCELLED' ? 'cancelled' : 'failed';
        result = { operationId, status, error, durationMs: elapsed(t0) };
      } finally {
        clearTimeout(deadline);
      }
      try {
        await this.recordOutcome(operationId, result, meta);
      } catch (err) {
        // The outcome promise must never reject. A result the log cannot
        // store (e.g. not serialisable) becomes a recorded failure; if the
        // log is closed, the outcome goes unrecorded and the next start-up's
        // recovery closes the operation out (process_restart).
        if (result.status === 'completed') {
          const failed: OperationOutcome<T> = {
            operationId,
            status: 'failed',
            error: { code: 'INTERNAL', message: `the result could not be recorded: ${describe(err, null).message}` },
            durationMs: result.durationMs,
          };
          if (await this.recordOutcome(operationId, failed, meta).then(() => true, () => false)) result = failed;
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
  async shutdown(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    this.accepting = false;
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
    return { finished: all.length - cancelled, cancelled };
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
    const t0 = performance.now();
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
        const durationMs = elapsed(t0);
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
          await this.log.append(stream, [{ type: 'task.timed_out', data: { timeout_ms: reason.timeoutMs, duration_ms: durationMs, abandoned } }], { meta });
        } else if (reason) {
          const why = reason instanceof Error ? reason.message : String(reason);
          await this.log.append(stream, [{ type: 'task.cancelled', data: { reason: why, duration_ms: durationMs, abandoned } }], { meta });
        } else {
          await this.log.append(stream, [{ type: 'task.failed', data: { error: describe(err, null), duration_ms: durationMs } }], { meta });
        }
        throw reason ?? err;
      }
      await this.log.append(
        stream,
        [{ type: 'task.completed', data: { result: summarize(value), duration_ms: elapsed(t0) } }],
        { meta },
      );
      return value;
    } finally {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
      this.tasks.delete(taskId);
    }
  }

  /**
   * Keeps an abandoned task counted until its work settles, then records how
   * it ended. If the log is closed by then (shutdown), nothing is recorded and
   * the next start-up's recovery closes the task out (`process_restart`).
   */
  private watchAbandoned(taskId: string, stream: string, work: Promise<unknown>, t0: number, meta: { operation_id: string }) {
    this.abandoned.add(taskId);
    const abandonedAt = performance.now();
    const settle = (outcome: 'completed' | 'failed', error?: { code: string; message: string }) => {
      // Appended after the give-up event, which the caller appends in this same turn.
      const late = { outcome, ...(error ? { error } : {}), late_ms: elapsed(abandonedAt), duration_ms: elapsed(t0) };
      this.log
        .append(stream, [{ type: 'task.settled_late', data: late }], { meta })
        .catch(() => {})
        .finally(() => this.abandoned.delete(taskId));
    };
    work.then(
      () => settle('completed'),
      (err) => settle('failed', describe(err, null)),
    );
  }

  private async recordOutcome(operationId: string, outcome: OperationOutcome, meta: { operation_id: string }) {
    const stream = streamName('operation', operationId);
    const durationMs = Math.round(outcome.durationMs);
    if (outcome.status === 'completed') {
      await this.log.append(stream, [{ type: 'operation.completed', data: { result: outcome.result ?? null, duration_ms: durationMs } }], { meta });
    } else if (outcome.status === 'cancelled') {
      await this.log.append(stream, [{ type: 'operation.cancelled', data: { reason: outcome.error.message, duration_ms: durationMs } }], { meta });
    } else {
      await this.log.append(stream, [{ type: 'operation.failed', data: { error: outcome.error, duration_ms: durationMs } }], { meta });
    }
  }
}

const elapsed = (t0: number) => Math.round(performance.now() - t0);

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
