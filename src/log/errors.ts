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
}

export function isAppError(err: unknown): err is AppError {
  return typeof err === 'object' && err !== null && (err as { isAppError?: unknown }).isAppError === true;
}

export const notFound = (what: string, id: string) => new AppError(404, 'NOT_FOUND', `${what} "${id}" was not found`);
