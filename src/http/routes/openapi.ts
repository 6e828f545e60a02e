// GET /openapi.json: the document, generated once per server from the core
// routers' tables and those of the plugins it runs (a plugin's routes appear
// only when it is loaded, and this module loads no plugin). The `servers`
// entry is the origin the client reached, as stream URLs are built.
// test/http/openapi.test.ts checks the document against the registered
// routes in both directions and lints it with Redocly.
import Router from '@koa/router';
import type { HttpServices } from '../app.ts';
import { buildOpenApiDocument, documentFor } from '../openapi/document.ts';
import type { ApiSpec } from '../openapi/spec.ts';
import { monitorApi } from './monitor.ts';
import { eventsApi } from './events.ts';
import { metricsApi } from './metrics.ts';
import { dashboardApi } from './dashboard.ts';
import { issuesApi } from './issues.ts';
import { telemetryApi } from './telemetry.ts';

export const openapiApi: ApiSpec = {
  'GET /openapi.json': {
    operationId: 'getOpenApi',
    tag: 'meta',
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'The document', media: { type: 'application/json' } } },
  },
};

/** The core routers' tables; plugins bring their own (Plugin.api). */
export const CORE_API: ApiSpec[] = [monitorApi, eventsApi, metricsApi, dashboardApi, issuesApi, openapiApi, telemetryApi];

export function openapiRouter(services: HttpServices, pluginApi: ApiSpec[] = [], api: ApiSpec[] = CORE_API): Router {
  const { authToken, readToken } = services.config;
  const text = JSON.stringify(buildOpenApiDocument([...api, ...pluginApi], { authToken: authToken !== null, readToken: readToken !== null }));
  const router = new Router();
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'no-cache');
    // The Host was checked against the allowed names before any route runs.
    ctx.body = documentFor(text, `${ctx.protocol}://${ctx.host}`);
  });
  return router;
}
