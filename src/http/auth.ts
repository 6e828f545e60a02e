// Bearer-token check for mutating routes. Reads stay open so dashboards and
// scrapers work; when no token is configured everything is open (and the CLI
// warns if the bind address is not loopback).
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../log/errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const digest = (s: string) => createHash('sha256').update(s).digest();

export function requireTokenForWrites(token: string | null) {
  const expected = token ? digest(token) : null;
  return async function auth(ctx: Context, next: Next) {
    if (expected && !SAFE_METHODS.has(ctx.method)) {
      const header = ctx.get('authorization');
      const match = /^Bearer\s+(.+)$/i.exec(header);
      // Compare digests so the comparison is constant-time whatever the lengths.
      if (!match || !timingSafeEqual(digest(match[1].trim()), expected)) {
        throw new AppError(401, 'UNAUTHORIZED', 'this route needs Authorization: Bearer <token>');
      }
    }
    await next();
  };
}
