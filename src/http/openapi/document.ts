// Assembles the OpenAPI 3.1 document from the per-router fragments. A path
// given by two fragments is a mistake (one would hide the other), so it throws.
import { readFileSync } from 'node:fs';
import { components } from './components.ts';
import type { OpenApiPaths } from './types.ts';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  description: string;
};

export function buildOpenApiDocument(fragments: OpenApiPaths[]) {
  const paths: OpenApiPaths = {};
  for (const fragment of fragments) {
    for (const [path, operations] of Object.entries(fragment)) {
      for (const [method, operation] of Object.entries(operations)) {
        const existing = (paths[path] ??= {});
        if (method in existing) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} is described twice`);
        Object.assign(existing, { [method]: operation });
      }
    }
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: '3.1.0',
    info: {
      title: pkg.name,
      version: pkg.version,
      description:
        `${pkg.description} Every monitor answer is a projection of the event log. ` +
        'Errors are application/problem+json with a stable `code`; times are ISO-8601 UTC; durations are milliseconds. ' +
        'Any route may answer 421 HOST_NOT_ALLOWED (a Host that is not an IP address, localhost or an allowed name), ' +
        '503 with Retry-After (a limit, shutdown: SHUTTING_DOWN, or storage: STORAGE_FULL, STORAGE_BUSY, STORAGE_UNAVAILABLE) ' +
        'and, with a read token configured, 401 for reads; mutating routes answer 403 CROSS_SITE_REQUEST to pages on other origins.',
    },
    tags: [
      { name: 'monitor', description: 'Read models of the log, under /api/v0/mcp/monitor/webrtc' },
      { name: 'events', description: 'The log itself, paged or live (SSE)' },
      { name: 'webrtc', description: 'The WebRTC controller, under /api/v0/mcp/webrtc' },
      { name: 'metrics', description: 'Prometheus' },
      { name: 'dashboard', description: 'The operator page and its static files' },
      { name: 'meta', description: 'This document' },
    ],
    paths: sorted,
    components,
  };
}
