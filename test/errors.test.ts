import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AppError, ERROR_CODES, ERROR_STATUS, exitCodeOf, isAppError, statusOf, unavailable } from '../src/errors.ts';
import { TITLES } from '../src/http/errors.ts';

const Table = suite('the error table (code -> status)');

Table('gives every ErrorCode a 4xx or 5xx status that the problem middleware has a title for', () => {
  assert.ok(ERROR_CODES.length >= 25);
  for (const code of ERROR_CODES) {
    const status = ERROR_STATUS[code];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
    assert.type(TITLES[status], 'string', `${code}: no title for ${status}`);
    assert.is(new AppError(code, 'x').status, status, code);
  }
});

Table('keeps the codes the README and clients rely on at their statuses', () => {
  const expected: Record<string, number> = {
    VALIDATION_FAILED: 422, NOT_FOUND: 404, UNAUTHORIZED: 401, INVALID_EVENT: 422, READ_ONLY: 403, PAYLOAD_TOO_LARGE: 413,
    CROSS_SITE_REQUEST: 403, HOST_NOT_ALLOWED: 421, SHUTTING_DOWN: 503, STORAGE_FULL: 503, TIMEOUT: 504, CANCELLED: 409,
  };
  for (const [code, status] of Object.entries(expected)) assert.is(statusOf(code), status, code);
});

Table('treats a code it does not know (an old log\'s) as a 500', () => {
  assert.is(statusOf('SOMETHING_OLD'), 500);
});

Table.run();

const Errors = suite('AppError');

Errors('shows its message below 500 and hides it at 500 unless its creator says it is safe', () => {
  assert.ok(new AppError('NOT_FOUND', 'x').expose);
  assert.not.ok(new AppError('INTERNAL', '/srv/secret/path broke').expose);
  assert.ok(new AppError('WEBRTC_ERROR', 'see operation 1', undefined, true).expose);
  const refused = unavailable('UNAVAILABLE', 'too many', 7);
  assert.equal([refused.status, refused.expose, refused.retryAfterSeconds], [503, true, 7]);
});

Errors('is recognised by its tag, not by instanceof', () => {
  assert.ok(isAppError(new AppError('CONFLICT', 'x')));
  assert.ok(isAppError({ isAppError: true, code: 'CONFLICT' }));
  assert.not.ok(isAppError(new Error('x')));
});

Errors.run();

const Exit = suite('exitCodeOf');

Exit('exits 2 for a refused command or input (4xx) and 1 for a failure (5xx or anything else)', () => {
  assert.is(exitCodeOf(new AppError('NOT_FOUND', 'x')), 2);
  assert.is(exitCodeOf(new AppError('QUERY_TIMEOUT', 'x')), 2);
  assert.is(exitCodeOf(new AppError('STORAGE_UNAVAILABLE', 'x')), 1);
  assert.is(exitCodeOf(new Error('x')), 1);
});

Exit.run();
