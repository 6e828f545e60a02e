// Safe by default against pages on other sites. Two checks, before anything
// is read or recorded:
//
// - Host: a browser on a DNS-rebinding page (attacker.example resolved to
//   127.0.0.1) sends `Host: attacker.example`, and everything it then does is
//   same-origin to the browser. IP literals cannot be rebound, so requests
//   naming an IP address, `localhost`, the bound host or a configured
//   --allowed-host are served; any other name gets 421.
// - Cross-site writes: a page on another origin can POST to a server on
//   loopback (a form, or fetch with mode no-cors) without any preflight. A
//   mutating request whose Origin is not this server (or an --allowed-origin),
//   or that the browser marks Sec-Fetch-Site cross-site or same-site, gets
//   403. Clients that send neither header (curl, the CLI, werift, aiortc)
//   are not browsers and are served. A --cors-origin page may use the WHEP
//   routes (src/http/cors.ts), and nothing else that writes.
import { isIP } from 'node:net';
import type { Context, Next } from 'koa';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { corsOriginAllowed, isCorsRoute } from './cors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Host header -> [hostname (lowercase, no brackets), port or null]. */
export function splitHost(header: string): [string, string | null] {
  const h = header.trim().toLowerCase();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(h);
  if (v6) return [v6[1], v6[2] ?? null];
  const at = h.lastIndexOf(':');
  if (at > 0 && h.indexOf(':') === at) return [h.slice(0, at), h.slice(at + 1)];
  return [h, null];
}

const defaultPort = (scheme: string) => (scheme === 'https:' ? '443' : '80');

export function sameSiteGuard(config: Config) {
  const names = new Set(['localhost', ...config.allowedHosts.map((h) => h.toLowerCase().replace(/\.$/, ''))]);
  if (!isIP(config.host)) names.add(config.host.toLowerCase());
  const origins = new Set(config.allowedOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  // A --cors-origin page may use the WHEP routes (and only those) across origins.
  const corsAllowed = corsOriginAllowed(config);

  const hostAllowed = (hostname: string) => isIP(hostname) !== 0 || names.has(hostname.replace(/\.$/, ''));

  /** Whether Origin names this very server (scheme aside: a TLS proxy may sit in front). */
  const isOwnOrigin = (origin: string, host: string) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    const [hostname, port] = splitHost(host);
    const originHost = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return originHost === hostname && (url.port || defaultPort(url.protocol)) === (port ?? defaultPort(url.protocol));
  };

  return async function sameSite(ctx: Context, next: Next) {
    const host = ctx.get('host');
    if (host) {
      const [hostname] = splitHost(host);
      if (!hostAllowed(hostname)) {
        // The name comes from the client; quote it back only in a safe shape.
        const shown = /^[a-z0-9.-]{1,100}$/i.test(hostname) ? hostname : 'this name';
        throw new AppError('HOST_NOT_ALLOWED', `requests for ${shown} are not served here (use an IP address or localhost, or start the server with --allowed-host ${shown})`);
      }
    }
    if (!SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get('origin');
      const site = ctx.get('sec-fetch-site').toLowerCase();
      const allowed = origin
        ? origin !== 'null' && (isOwnOrigin(origin, host) || origins.has(origin.toLowerCase()) || (isCorsRoute(ctx.method, ctx.path) && corsAllowed(origin)))
        : site === '' || site === 'same-origin' || site === 'none';
      if (!allowed) {
        throw new AppError('CROSS_SITE_REQUEST', 'mutating requests from pages on other sites are refused (send them from this server\'s own pages, or add the page\'s origin with --allowed-origin)');
      }
    }
    await next();
  };
}
