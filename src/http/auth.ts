// Bearer tokens. Mutating routes need the auth (admin) token when one is
// configured. Reads are open unless a read token is configured; then every
// read needs the read token or the auth token, except the static pages that
// carry no monitor data (the dashboard shell and its assets, the player
// page, the OpenAPI document), which a browser loads before it can send any
// header: those pages ask for the token and send it with their requests.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const digest = (s: string) => createHash('sha256').update(s).digest();

/** Pages a browser loads by navigation (no Authorization header possible) that hold no monitor data. */
const PUBLIC_PAGES = [/^\/$/, /^\/dashboard$/, /^\/assets\/[^/]+$/, /^\/player\/[^/]+$/, /^\/openapi\.json$/];

/** Whether a GET of `path` is one of those pages (the OpenAPI document marks them as needing no token). */
export const isPublicPage = (path: string) => PUBLIC_PAGES.some((p) => p.test(path));

export function requireTokens(tokens: { authToken: string | null; readToken: string | null }) {
  const admin = tokens.authToken ? digest(tokens.authToken) : null;
  const reader = tokens.readToken ? digest(tokens.readToken) : null;
  const presented = (ctx: Context) => {
    const match = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
    return match ? digest(match[1].trim()) : null;
  };
  // Compare digests so the comparison is constant-time whatever the lengths.
  const is = (given: Buffer | null, expected: Buffer | null) => given !== null && expected !== null && timingSafeEqual(given, expected);
  return async function auth(ctx: Context, next: Next) {
    if (SAFE_METHODS.has(ctx.method)) {
      if (reader && !isPublicPage(ctx.path)) {
        const given = presented(ctx);
        if (!is(given, reader) && !is(given, admin)) {
          throw new AppError('UNAUTHORIZED', 'reads need Authorization: Bearer <read token or auth token>');
        }
      }
    } else if (admin && !is(presented(ctx), admin)) {
      throw new AppError('UNAUTHORIZED', 'this route needs Authorization: Bearer <token>');
    }
    await next();
  };
}

/**
 * Who may send viewer-side telemetry for `meeting` (the stream the page
 * watches, when it names one): the one place that decides, so a per-stream
 * viewer token replaces the admin token here and nowhere else. Until then:
 * the admin token, or anyone when none is configured (as for WHEP).
 */
export function authorizeTelemetry(tokens: { authToken: string | null }, presented: string | null, _meeting: string | null): boolean {
  if (!tokens.authToken) return true;
  if (presented === null) return false;
  return timingSafeEqual(digest(presented), digest(tokens.authToken));
}
