// The operator dashboard at / and /dashboard: one HTML page and a few plain ES
// modules from src/http/public, no build step. Every response carries a strict
// Content-Security-Policy (no inline script, nothing from elsewhere), so even
// a rendering mistake could not run injected script.
//
// Static files are an allowlist read once at start-up: a request names a file
// in that list or gets 404, so no path (`..`, encoded slashes, symlinks) can
// reach anything else.
import Router from '@koa/router';
import type { Context } from 'koa';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpServices } from '../app.ts';
import { notFound } from '../../errors.ts';
import type { ApiSpec } from '../openapi/spec.ts';

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
const PAGE = 'index.html';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

type Asset = { body: Buffer; type: string; etag: string };

/** Every servable file, by name. Files only, no folders: the names are the whole namespace. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(PUBLIC_DIR, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || !type) continue;
    const body = readFileSync(join(PUBLIC_DIR, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(entry.name, { body, type, etag });
  }
  return assets;
}

function send(ctx: Context, asset: Asset) {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  // File names carry no hash, so browsers revalidate every time (cheap: 304).
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('ETag', asset.etag);
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.type = asset.type;
  ctx.body = asset.body;
}

export function dashboardRouter(_services: HttpServices): Router {
  const assets = loadAssets();
  const page = assets.get(PAGE);
  if (!page) throw new Error(`dashboard page missing: ${join(PUBLIC_DIR, PAGE)}`);
  const router = new Router();
  router.get('/', (ctx) => send(ctx, page));
  router.get('/dashboard', (ctx) => send(ctx, page));
  router.get('/assets/:file', (ctx) => {
    const name = ctx.params.file;
    const asset = name === PAGE ? undefined : assets.get(name);
    if (!asset) throw notFound('asset', name);
    send(ctx, asset);
  });
  return router;
}

const htmlPage = (operationId: string, summary: string) => ({
  operationId,
  tag: 'dashboard',
  summary,
  responses: {
    200: { description: 'The dashboard page', media: { type: 'text/html' } },
    304: { description: 'Not modified (ETag)' },
  },
});

export const dashboardApi: ApiSpec = {
  'GET /': htmlPage('getDashboard', 'The dashboard'),
  'GET /dashboard': htmlPage('getDashboardPage', 'The dashboard (same page as /)'),
  'GET /assets/:file': {
    operationId: 'getDashboardAsset',
    tag: 'dashboard',
    summary: 'A static file of the dashboard (scripts, styles)',
    params: { file: 'The file name' },
    responses: {
      200: { description: 'The file, with its content type', media: { type: 'text/javascript' } },
      304: { description: 'Not modified (ETag)' },
    },
    errors: ['NOT_FOUND'],
  },
};
