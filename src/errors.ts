// One error type for the whole project: a stable code, a message, and whether
// the message may be shown to a client. The code decides everything else: its
// HTTP status (the table below, the only one), and through the status the
// CLI's exit code. The HTTP layer translates errors in exactly one place
// (src/http/errors.ts). Recognise an AppError by its tag, not instanceof, so
// duplicated modules or test loaders cannot break the check.

/**
 * Every code and its HTTP status. A 4xx is the caller's to fix; a 503 is a
 * refusal the server makes while healthy (a limit, shutdown, storage away:
 * retry later); a 504 is a deadline; a 500 is something that broke, and its
 * message is never shown to a client.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  /** An SQL statement SQLite refused (`query`). */
  SQL_ERROR: 400,
  /**
   * A log position (Last-Event-ID, `after`) past the head of this log: one
   * from another database, or from before a restore. Refused, never waited on.
   */
  POSITION_BEYOND_LOG: 400,
  /** A time-travel question (`?at=`) that would replay more of the log than a request may, or a log whose start was pruned. */
  TIME_TRAVEL_TOO_FAR: 400,
  /**
   * A read the fleet monitor does not serve because it does not project what
   * it needs (streams, time travel over the whole log): ask the node.
   */
  NOT_ON_FLEET: 400,
  UNAUTHORIZED: 401,
  CROSS_SITE_REQUEST: 403,
  /** A valid token presented where its scope does not reach (a read token on a write, a viewer token outside its stream's WHEP routes). */
  INSUFFICIENT_SCOPE: 403,
  /** A write attempted through a read-only door (`query`). */
  READ_ONLY: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  CONTENT_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** A WHEP offer this stream cannot serve: none of its codecs is in the offer for a kind the stream plays. */
  CODEC_NOT_SUPPORTED: 406,
  /** A statement ran past the caller's `--timeout` (`query`). */
  QUERY_TIMEOUT: 408,
  CONFLICT: 409,
  /** Work stopped on request before it finished. */
  CANCELLED: 409,
  /** If-Match names an entity-tag that is no longer current (a WHEP session after an ICE restart). */
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HOST_NOT_ALLOWED: 421,
  VALIDATION_FAILED: 422,
  /** A conditional request sent without its condition (a WHEP PATCH without If-Match). */
  PRECONDITION_REQUIRED: 428,
  /** An event whose payload the catalogue refuses. */
  INVALID_EVENT: 422,
  /** A file given as the database that is not one of ours (not SQLite, or SQLite without our tables). */
  NOT_A_DATABASE: 422,
  /** A detectors' rules file (--rules) that cannot be read or does not validate; the rules in force stay. */
  RULES_INVALID: 422,
  INTERNAL: 500,
  WEBRTC_ERROR: 500,
  UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  STORAGE_FULL: 503,
  STORAGE_BUSY: 503,
  STORAGE_UNAVAILABLE: 503,
  /** An operation's deadline passed before its work finished. */
  TIMEOUT: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_STATUS, code);

/** The HTTP status of a code; a code this build does not know (an old log's) is a 500. */
export const statusOf = (code: string): number => (isErrorCode(code) ? ERROR_STATUS[code] : 500);

export class AppError extends Error {
  readonly isAppError = true;
  readonly status: number;
  /** Whether the message is safe to show to a client: true below 500, and for 5xx only when the creator says so. */
  readonly expose: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    expose?: boolean,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
    this.expose = expose ?? this.status < 500;
  }

  /** Seconds a client should wait before retrying (sent as Retry-After with a 503). */
  retryAfterSeconds?: number;
}

/**
 * A refusal at a limit or while storage is away: 503 with Retry-After, a
 * message safe to show (so it must name no file), and the server otherwise
 * healthy.
 */
export function unavailable(code: ErrorCode, message: string, retryAfterSeconds = 5): AppError {
  const err = new AppError(code, message, undefined, true);
  err.retryAfterSeconds = retryAfterSeconds;
  return err;
}

export function isAppError(err: unknown): err is AppError {
  return typeof err === 'object' && err !== null && (err as { isAppError?: unknown }).isAppError === true;
}

export const notFound = (what: string, id: string) => new AppError('NOT_FOUND', `${what} "${id}" was not found`);

/**
 * The CLI's exit status for an error: 2 when the command or its input was
 * refused (a 4xx: fix the command and run it again), 1 when something failed
 * (a 5xx, or anything that is not an AppError).
 */
export function exitCodeOf(err: unknown): 1 | 2 {
  return isAppError(err) && err.status < 500 ? 2 : 1;
}
