// GET /openapi.json: the document, built once per server from every router's
// fragment. test/http/openapi.test.ts checks it against the registered routes
// in both directions, so a route cannot be added or dropped silently.
import Router from '@koa/router';
import type { Services } from '../app.ts';
import { buildOpenApiDocument } from '../openapi/document.ts';
import { monitorOpenApiPaths } from '../openapi/monitor.ts';
import type { OpenApiPaths } from '../openapi/types.ts';
import { eventsOpenApiPaths } from './events.ts';
import { metricsOpenApiPaths } from './metrics.ts';
import { dashboardOpenApiPaths } from './dashboard.ts';
import { webrtcOpenApiPaths } from './webrtc.ts';

export const openapiOpenApiPaths: OpenApiPaths = {
  '/openapi.json': {
    get: {
      tags: ['meta'],
      summary: 'This OpenAPI 3.1 document',
      responses: { 200: { description: 'The document', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
};

export const FRAGMENTS: OpenApiPaths[] = [
  monitorOpenApiPaths,
  webrtcOpenApiPaths,
  eventsOpenApiPaths,
  metricsOpenApiPaths,
  dashboardOpenApiPaths,
  openapiOpenApiPaths,
];

export function openapiRouter(_services: Services): Router {
  const document = JSON.stringify(buildOpenApiDocument(FRAGMENTS));
  const router = new Router();
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = document;
  });
  return router;
}
