// One error type for the whole project: an HTTP status, a stable code and
// whether its message may be shown to a client. The HTTP layer translates it
// in exactly one place (src/http/errors.ts). Recognise it by its tag, not
// instanceof, so duplicated modules or test loaders cannot break the check.

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_JSON'
  | 'VALIDATION_FAILED'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_EVENT'
  | 'READ_ONLY'
  | 'SQL_ERROR'
  | 'UNAVAILABLE'
  | 'SHUTTING_DOWN'
  | 'STORAGE_FULL'
  | 'STORAGE_BUSY'
  | 'STORAGE_UNAVAILABLE'
  | 'CROSS_SITE_REQUEST'
  | 'HOST_NOT_ALLOWED'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'WEBRTC_ERROR'
  | 'CONTENT_NOT_FOUND'
  | 'INTERNAL';

export class AppError extends Error {
  readonly isAppError = true;
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Whether the message is safe to show to a client; true for 4xx. */
    readonly expose: boolean = status < 500,
  ) {
    super(message);
    this.name = 'AppError';
  }

  /** Seconds a client should wait before retrying (sent as Retry-After with a 503). */
  retryAfterSeconds?: number;
}

/**
 * A refusal at a limit or while storage is away: 503 with Retry-After, a
 * message safe to show, and the server otherwise healthy.
 */
export function unavailable(code: ErrorCode, message: string, retryAfterSeconds = 5): AppError {
  const err = new AppError(503, code, message, undefined, true);
  err.retryAfterSeconds = retryAfterSeconds;
  return err;
}

export function isAppError(err: unknown): err is AppError {
  return typeof err === 'object' && err !== null && (err as { isAppError?: unknown }).isAppError === true;
}

export const notFound = (what: string, id: string) => new AppError(404, 'NOT_FOUND', `${what} "${id}" was not found`);
