// Turning untrusted input into typed values with zod; failures are 400/415/422.
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../errors.ts';

function issues(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** Query strings: a bad value is a 400 (the request line itself is wrong). */
export function parseQuery<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(ctx.query);
  if (!parsed.success) {
    throw new AppError('BAD_REQUEST', `invalid query: ${summary(parsed.error)}`, issues(parsed.error));
  }
  return parsed.data;
}

/**
 * JSON bodies: a non-JSON content type is 415, malformed JSON is 400 (from
 * the body parser), well-formed JSON of the wrong shape is 422. An empty body
 * is treated as `{}` so routes whose fields are all optional accept it.
 */
export function parseBody<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  const hasBody = Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
  if (hasBody && !ctx.is('application/json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  }
  // Only a missing body defaults to {}: a client that sent `null` sent the wrong shape.
  const sent = (ctx.request as { body?: unknown }).body;
  const body = hasBody ? sent : (sent ?? {});
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new AppError('VALIDATION_FAILED', `invalid body: ${summary(parsed.error)}`, issues(parsed.error));
  }
  return parsed.data;
}

function summary(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Reusable query pieces. */
export const limitParam = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);
export const boolParam = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
