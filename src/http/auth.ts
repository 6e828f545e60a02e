// Bearer tokens, three scopes:
//
// - admin (`--auth-token-file`): everything. When one is configured, every
//   mutating route needs it (or, on a stream's WHEP routes, that stream's
//   viewer token).
// - read (`--read-token-file`): reads. Reads are open unless a read token is
//   configured; then every read needs the read token or the admin token,
//   except the static pages that carry no monitor data (the dashboard shell
//   and its assets, the player page, the OpenAPI document), which a browser
//   loads before it can send any header: those pages ask for the token and
//   send it with their requests.
// - viewer: one per stream, made by `POST stream` and answered once; only its
//   SHA-256 is kept (in memory with the live stream, and in the log's
//   `server.created`). It opens that stream's WHEP routes (offer, trickle/ICE
//   restart, hang-up) and, through `authorizeStreamViewer`, whatever other
//   viewer route a stream has; nothing else.
//
// A known token presented where its scope does not reach is 403
// INSUFFICIENT_SCOPE (RFC 6750 section 3.1), not 401: the client holds a
// good token for something else, and asking it again for one would not help.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const digest = (s: string) => createHash('sha256').update(s).digest();

/** SHA-256 of a token, hex: what is stored and recorded for a viewer token. */
export const tokenSha256 = (token: string) => digest(token).toString('hex');

/** Pages a browser loads by navigation (no Authorization header possible) that hold no monitor data. */
const PUBLIC_PAGES = [/^\/$/, /^\/dashboard$/, /^\/assets\/[^/]+$/, /^\/player\/[^/]+$/, /^\/openapi\.json$/];

/** Whether a GET of `path` is one of those pages (the OpenAPI document marks them as needing no token). */
export const isPublicPage = (path: string) => PUBLIC_PAGES.some((p) => p.test(path));

const WHEP = '/api/v0/mcp/webrtc/whep';
/**
 * Routes a stream's viewer token opens, each capturing the stream id: the
 * WHEP endpoint (POST an offer) and its sessions (PATCH for trickle ICE and
 * ICE restart, DELETE to hang up). A route added here must belong to the
 * stream it captures.
 */
const VIEWER_ROUTES: { methods: ReadonlySet<string>; path: RegExp }[] = [
  { methods: new Set(['POST']), path: new RegExp(`^${WHEP}/([^/]+)$`) },
  { methods: new Set(['PATCH', 'DELETE']), path: new RegExp(`^${WHEP}/([^/]+)/sessions/[^/]+$`) },
];

/** The stream whose viewer route `method path` is, or null when it is no viewer route. */
export function viewerRouteStream(method: string, path: string): string | null {
  for (const route of VIEWER_ROUTES) {
    if (!route.methods.has(method)) continue;
    const match = route.path.exec(path);
    if (match) {
      try {
        return decodeURIComponent(match[1]);
      } catch {
        return match[1];
      }
    }
  }
  return null;
}

/** Where viewer tokens are known: the live streams. */
export type ViewerTokens = {
  /** The stream whose viewer token has this SHA-256 digest, or null. */
  streamWithToken(sha256: Buffer): string | null;
};

/** Who the request's bearer token says the client is. */
export type Bearer =
  | { scope: 'admin' }
  | { scope: 'read' }
  | { scope: 'viewer'; streamId: string }
  /** A token that is none of the above. */
  | { scope: 'unknown' }
  | { scope: 'none' };

/** What the auth middleware leaves in `ctx.state.auth` for the routes. */
export type AuthState = { bearer: Bearer; adminRequired: boolean };

export function requireTokens(tokens: { authToken: string | null; readToken: string | null }, viewers: ViewerTokens | null = null) {
  const admin = tokens.authToken ? digest(tokens.authToken) : null;
  const reader = tokens.readToken ? digest(tokens.readToken) : null;
  // Compare digests so the comparison is constant-time whatever the lengths.
  const is = (given: Buffer, expected: Buffer | null) => expected !== null && timingSafeEqual(given, expected);
  const bearerOf = (ctx: Context): Bearer => {
    const match = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
    if (!match) return { scope: ctx.get('authorization') ? 'unknown' : 'none' };
    const given = digest(match[1].trim());
    if (is(given, admin)) return { scope: 'admin' };
    if (is(given, reader)) return { scope: 'read' };
    const streamId = viewers?.streamWithToken(given) ?? null;
    return streamId !== null ? { scope: 'viewer', streamId } : { scope: 'unknown' };
  };

  return async function auth(ctx: Context, next: Next) {
    const bearer = bearerOf(ctx);
    const state: AuthState = { bearer, adminRequired: admin !== null };
    ctx.state.auth = state;
    const viewerStream = viewerRouteStream(ctx.method, ctx.path);
    if (viewerStream !== null) {
      authorizeStreamViewer(ctx, viewerStream);
    } else if (SAFE_METHODS.has(ctx.method)) {
      // OPTIONS says only which methods a route has (and answers CORS
      // preflights, which browsers send without credentials).
      if (ctx.method !== 'OPTIONS' && !isPublicPage(ctx.path)) {
        if (bearer.scope === 'viewer') throw outOfScope('a viewer token opens only its stream\'s WHEP routes; reads need the read token or the admin token');
        if (reader && bearer.scope !== 'read' && bearer.scope !== 'admin') {
          throw new AppError('UNAUTHORIZED', 'reads need Authorization: Bearer <read token or auth token>');
        }
      }
    } else {
      if (bearer.scope === 'viewer') throw outOfScope('a viewer token opens only its stream\'s WHEP routes');
      if (admin && bearer.scope !== 'admin') {
        if (bearer.scope === 'read') throw outOfScope('the read token only reads; this route needs the admin token');
        throw new AppError('UNAUTHORIZED', 'this route needs Authorization: Bearer <token>');
      }
    }
    await next();
  };
}

const outOfScope = (message: string) => new AppError('INSUFFICIENT_SCOPE', message);

/**
 * Whether the request may act as a viewer of `streamId`; throws 401/403 when
 * not. Open when no admin token is configured (a viewer token of another
 * stream is still refused); otherwise the admin token or that stream's
 * viewer token. The auth middleware calls it for the WHEP routes; a route
 * that serves a stream's viewers elsewhere (viewer telemetry) calls it with
 * the stream it serves.
 */
export function authorizeStreamViewer(ctx: Pick<Context, 'state'>, streamId: string): void {
  const auth = ctx.state.auth as AuthState | undefined;
  if (!auth) throw new AppError('INTERNAL', 'authorizeStreamViewer called before the auth middleware ran');
  const { bearer } = auth;
  if (bearer.scope === 'admin') return;
  if (bearer.scope === 'viewer') {
    if (bearer.streamId === streamId) return;
    throw outOfScope('this viewer token belongs to another stream');
  }
  if (!auth.adminRequired) return;
  if (bearer.scope === 'read') throw outOfScope('the read token only reads; this route needs the stream\'s viewer token or the admin token');
  throw new AppError('UNAUTHORIZED', 'this route needs Authorization: Bearer <the stream\'s viewer token or the admin token>');
}

/**
 * Who may send viewer-side telemetry (the rtcstats WebSocket, which is no
 * Koa request) for `streamId`, the stream the page names as its meeting:
 * decided by `authorizeStreamViewer`, as for the stream's WHEP routes. The
 * admin token or that stream's viewer token; anyone when no admin token is
 * configured (a viewer token of another stream is still refused).
 */
export function authorizeTelemetry(
  tokens: { authToken: string | null; readToken: string | null },
  viewers: ViewerTokens | null,
  presented: string | null,
  streamId: string | null,
): { ok: true } | { ok: false; code: 'UNAUTHORIZED' | 'INSUFFICIENT_SCOPE'; message: string } {
  let bearer: Bearer = { scope: 'none' };
  if (presented !== null) {
    const given = digest(presented);
    const same = (t: string | null) => t !== null && timingSafeEqual(given, digest(t));
    if (same(tokens.authToken)) bearer = { scope: 'admin' };
    else if (same(tokens.readToken)) bearer = { scope: 'read' };
    else {
      const stream = viewers?.streamWithToken(given) ?? null;
      bearer = stream !== null ? { scope: 'viewer', streamId: stream } : { scope: 'unknown' };
    }
  }
  try {
    authorizeStreamViewer({ state: { auth: { bearer, adminRequired: tokens.authToken !== null } } }, streamId ?? '');
    return { ok: true };
  } catch (err) {
    const e = err as AppError;
    return { ok: false, code: e.code === 'INSUFFICIENT_SCOPE' ? 'INSUFFICIENT_SCOPE' : 'UNAUTHORIZED', message: e.message };
  }
}
