// "Wait up to a bound, else 202", written once for every route that starts an
// operation (DESIGN.md section 5). The request waits for the outcome up to
// --operation-timeout; with `Prefer: respond-async` (RFC 7240) or when the
// bound passes it answers 202 with the operation id and a Location to poll.
// A failed or cancelled outcome becomes a problem with the operation's code;
// nothing is ever reported that did not happen.
import type { Context } from 'koa';
import { AppError, isErrorCode, statusOf, type ErrorCode } from '../errors.ts';
import type { OperationOutcome, Started } from '../operations/runner.ts';
import { MONITOR_PREFIX } from './paths.ts';

/** Who asked, as the WebRTC service records it. */
export function origin(ctx: Context): { remote?: string; userAgent?: string; requestId?: string } {
  return { remote: ctx.ip, userAgent: ctx.get('user-agent') || undefined, requestId: ctx.state.requestId };
}

export const operationLocation = (operationId: string) => `${MONITOR_PREFIX}/operations/${operationId}`;

export const wantsAsync = (ctx: Context) => /(^|[\s,;])respond-async([\s,;]|$)/i.test(ctx.get('prefer'));

/** Waits for `started` up to `boundMs` (null when the bound passed first). */
export async function waitBounded<T>(started: Started<T>, boundMs: number): Promise<OperationOutcome<T> | null> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), boundMs)));
  try {
    return await Promise.race([started.outcome, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * 202: the operation was accepted and is running, nothing more. No `success`:
 * whether it succeeds is not known yet (the add-on answered `success: true`
 * for work it had not done); the operation at Location will say.
 */
export function answerAccepted(ctx: Context, operationId: string, extra: Record<string, unknown> = {}) {
  const location = operationLocation(operationId);
  ctx.status = 202;
  ctx.set('Location', location);
  if (wantsAsync(ctx)) ctx.set('Preference-Applied', 'respond-async');
  ctx.body = { ...extra, accepted: true, status: 'running', operation_id: operationId, location };
}

/**
 * The problem for an outcome that did not complete, with the status its
 * recorded code has in the one table (src/errors.ts): the caller's fault
 * stays 4xx, a refusal 503, a deadline 504.
 */
export function failure(outcome: Exclude<OperationOutcome, { status: 'completed' }>): AppError {
  const { code, message } = outcome.error;
  // A code this build does not know (written by another version) is a 500.
  const known: ErrorCode = isErrorCode(code) ? code : 'INTERNAL';
  const broke = statusOf(known) === 500;
  // The messages of our own refusals (4xx, 503, 504) are ours to show. A 500
  // is something that broke (werift, the file system): its message may name
  // files by absolute path, so the answer points to the operation instead,
  // where the error is on the record.
  const shown = broke ? `see ${operationLocation(outcome.operationId)} for the error` : message;
  return new AppError(known, `operation ${outcome.operationId} ${outcome.status}: ${shown}`, { operation_id: outcome.operationId }, true);
}

/**
 * The common route ending: 202 when asked or when the bound passes, the
 * problem when the operation failed, else `render(result)` with 200.
 */
export async function respondWithOutcome<T>(
  ctx: Context,
  started: Started<T>,
  boundMs: number,
  render: (result: T, outcome: Extract<OperationOutcome<T>, { status: 'completed' }>) => Record<string, unknown>,
  options: { allowAsync?: boolean; acceptedExtra?: Record<string, unknown> } = {},
) {
  if (options.allowAsync !== false && wantsAsync(ctx)) return answerAccepted(ctx, started.operationId, options.acceptedExtra);
  const outcome = await waitBounded(started, boundMs);
  if (!outcome) return answerAccepted(ctx, started.operationId, options.acceptedExtra);
  if (outcome.status !== 'completed') throw failure(outcome);
  ctx.status = 200;
  ctx.body = { success: true, operation_id: outcome.operationId, duration_ms: outcome.durationMs, ...render(outcome.result, outcome) };
}
