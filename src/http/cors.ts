// CORS (the Fetch standard's CORS protocol) for pages on other origins that
// play a stream: a WHEP player hosted elsewhere POSTs its offer, PATCHes
// candidates and DELETEs its session, and may read the monitor. Only origins
// given with --cors-origin (or `*`) get CORS headers, and only on the WHEP
// routes and on reads (GET/HEAD: the monitor, the feed, /metrics, the player
// page); the controller's other writes (start a stream, close connections)
// never answer a cross-origin page, and the cross-site guard
// (src/http/sameSite.ts) keeps refusing them.
//
// The headers are set before the rest runs, so a refusal (401, 406, 503) is
// readable by the page too: a player can show why it cannot play.
import type { Context, Next } from 'koa';
import type { Config } from '../config.ts';
import { viewerRouteStream } from './auth.ts';

/** Request headers a cross-origin page may send (Authorization for tokens, If-Match for trickle ICE). */
export const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, If-Match, Prefer, Last-Event-ID, X-Request-Id';
/** Response headers a cross-origin page may read (WHEP's session, entity-tag and ICE servers among them). */
export const CORS_EXPOSE_HEADERS = 'Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After, X-Operation-Id, X-Request-Id';
/** How long a browser may cache a preflight, seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Whether `method path` may be used across origins at all: reads, and the WHEP routes. */
export const isCorsRoute = (method: string, path: string) => READ_METHODS.has(method) || viewerRouteStream(method, path) !== null;

/** Methods to name in a preflight's answer for `path`. */
function methodsFor(path: string): string {
  const whep = ['POST', 'PATCH', 'DELETE'].filter((m) => viewerRouteStream(m, path) !== null);
  return [...whep, 'GET', 'HEAD', 'OPTIONS'].join(', ');
}

/** Whether `origin` is one --cors-origin lets in. */
export function corsOriginAllowed(config: Pick<Config, 'corsOrigins'>): (origin: string) => boolean {
  const any = config.corsOrigins.includes('*');
  const origins = new Set(config.corsOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  return (origin) => origin !== '' && origin !== 'null' && (any || origins.has(origin.toLowerCase()));
}

export function cors(config: Pick<Config, 'corsOrigins'>) {
  const allowed = corsOriginAllowed(config);
  return async function corsHeaders(ctx: Context, next: Next) {
    const origin = ctx.get('origin');
    if (config.corsOrigins.length === 0 || !origin) return next();
    // Answers differ by Origin: a cache must not hand one origin's to another.
    ctx.vary('Origin');
    if (!allowed(origin)) return next();
    const requested = ctx.get('access-control-request-method').toUpperCase();
    if (ctx.method === 'OPTIONS' && requested) {
      // A preflight: answered here, before auth (browsers send it without
      // credentials). A method we would not serve across origins gets no
      // CORS headers, so the browser stops there.
      if (!isCorsRoute(requested, ctx.path)) return next();
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', methodsFor(ctx.path));
      ctx.set('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
      ctx.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
      ctx.vary('Access-Control-Request-Method');
      ctx.vary('Access-Control-Request-Headers');
      ctx.status = 204;
      return;
    }
    if (isCorsRoute(ctx.method, ctx.path)) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    }
    await next();
  };
}
