// The one place errors become HTTP answers: RFC 9457 problem+json with a
// stable `code`. Client errors show their message; server errors show a
// generic one and are the only ones logged.
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError, isAppError, type ErrorCode } from '../errors.ts';
import { isStorageError } from '../log/storage.ts';

/** Retry-After for a 503 whose error does not say. */
const DEFAULT_RETRY_AFTER_S = 5;

type Problem = { type: string; title: string; status: number; code: string; detail?: string; instance?: string; [k: string]: unknown };

/** RFC 9110 reason phrases, one for every status in the error table (test/http/errors.test.ts checks). */
export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** What Koa's own helpers (ctx.throw, body parsing) mean by a status, in our codes. */
const CODE_OF_FOREIGN_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'VALIDATION_FAILED',
};

/** Errors thrown by Koa's own helpers carry a status; give them our codes. Anything else is a 500 whose message stays in the log. */
function fromForeign(err: { status?: number; statusCode?: number; type?: string; message?: string }): AppError {
  const status = err.status ?? err.statusCode ?? 500;
  if (status === 400 && /JSON|Unexpected token|invalid json/i.test(err.message ?? '')) {
    return new AppError('INVALID_JSON', 'the request body is not valid JSON');
  }
  if (status === 413 || err.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  const code = status < 500 ? CODE_OF_FOREIGN_STATUS[status] : undefined;
  if (!code) return new AppError('INTERNAL', err.message ?? 'internal error');
  return new AppError(code, err.message ?? TITLES[status] ?? 'error');
}

export function problemMiddleware(logger: Logger, onRefused?: (code: string) => void) {
  return async function problems(ctx: Context, next: Next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('ROUTE_NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      }
      // The router answers a method it does not know (PROPFIND, TRACE) with
      // 501; to the client both are "not this method here", a 4xx. Its Allow
      // header stays on the response.
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
        throw new AppError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    } catch (raw) {
      const err = isAppError(raw) ? raw : fromForeign(raw as object);
      onRefused?.(err.code);
      if (err.status === 503) {
        // A refusal (a limit, shutdown, storage away) is the server working
        // as designed: no stack, and a client that is refused again and
        // again must not flood the log. Storage trouble is worth a warning.
        if (isStorageError(err)) logger.warn({ code: err.code, path: ctx.path, method: ctx.method }, err.message);
        else logger.debug({ code: err.code, path: ctx.path, method: ctx.method }, err.message);
        ctx.set('Retry-After', String(err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_S));
      } else if (err.status >= 500) {
        logger.error({ err: raw, path: ctx.path, method: ctx.method }, 'request failed');
      }
      const problem: Problem = {
        type: `urn:webrtc-monitor:problem:${err.code.toLowerCase()}`,
        title: TITLES[err.status] ?? 'Error',
        status: err.status,
        code: err.code,
        // A 5xx shows its message only when its creator made it safe to (a
        // refusal's reason, a pointer to an operation): never an internal
        // message, which may name files by absolute path.
        detail: err.expose ? err.message : 'an internal error occurred; see the server log',
        instance: ctx.path,
      };
      if (err.expose && err.details !== undefined) problem.errors = err.details;
      ctx.status = err.status;
      ctx.type = 'application/problem+json';
      ctx.body = problem;
      if (err.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      if (err.code === 'INSUFFICIENT_SCOPE') ctx.set('WWW-Authenticate', 'Bearer error="insufficient_scope"');
    }
  };
}
