import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Router from '@koa/router';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createApp } from '../../src/http/app.ts';
import { webrtcPlugin } from '../../src/http/webrtcPlugin.ts';
import { buildOpenApiDocument } from '../../src/http/openapi/document.ts';

type Document = {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean }[]; responses: Record<string, unknown> }>>;
  components: Record<string, Record<string, unknown>>;
};

/** `METHOD /path/{param}` for every route the routers answer (HEAD comes with GET, so it is left out). */
function registeredRoutes(routers: Router[]): Set<string> {
  const routes = new Set<string>();
  for (const router of routers) {
    for (const layer of router.stack) {
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        routes.add(`${method} ${String(layer.path).replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
      }
    }
  }
  return routes;
}

function documentedRoutes(doc: Document): Set<string> {
  const routes = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of Object.keys(operations)) routes.add(`${method.toUpperCase()} ${path}`);
  }
  return routes;
}

async function withServer(run: (server: TestServer, doc: Document) => Promise<void>) {
  // Every plugin the CLI loads, and the test routes on, so every route exists.
  const server = await startTestServer({ enableTestRoutes: true, debug: true }, { plugins: [webrtcPlugin] });
  try {
    const res = await server.api('/openapi.json');
    assert.is(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    await run(server, await res.json());
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------
const document = suite('GET /openapi.json');

document('documents every registered route, and every documented route exists', async () => {
  await withServer(async (server, doc) => {
    assert.is(doc.openapi, '3.1.0');
    // The same routers the running server mounted: ours plus the plugins' (a
    // second plugin instance, only asked for its routers, never started).
    const { routers } = createApp(server.services, webrtcPlugin(server.services).routers ?? []);
    const registered = registeredRoutes(routers);
    const documented = documentedRoutes(doc);
    const undocumented = [...registered].filter((r) => !documented.has(r));
    const missing = [...documented].filter((r) => !registered.has(r));
    assert.equal(undocumented, [], `registered but not documented: ${undocumented.join(', ')}`);
    assert.equal(missing, [], `documented but not registered: ${missing.join(', ')}`);
    assert.ok(registered.size >= 14, `only ${registered.size} routes`);
  });
});

document('declares every path parameter and resolves every $ref', async () => {
  await withServer(async (_server, doc) => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(operations)) {
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
        assert.equal(declared.map((p) => p.name).sort(), [...names].sort(), `${method} ${path}`);
        assert.ok(declared.every((p) => p.required === true), `${method} ${path}: path parameters are required`);
        assert.ok(Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      }
    }
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/([^/]+)\/([^"]+)"/g)) {
      assert.ok(doc.components[m[1]]?.[m[2]], `unresolved $ref ${m[0]}`);
    }
  });
});

document('answers what the document says for a route it describes', async () => {
  await withServer(async (server, doc) => {
    // The events route declares 400 for a bad query; the server must agree.
    const events = doc.paths['/api/v0/mcp/monitor/webrtc/events'].get;
    assert.ok(events.responses['400']);
    const res = await server.api('/api/v0/mcp/monitor/webrtc/events?limit=nope');
    assert.is(res.status, 400);
    const monitor = doc.paths['/api/v0/mcp/monitor/webrtc/connections/{id}'].get;
    assert.ok(monitor.responses['404']);
    assert.is((await server.api('/api/v0/mcp/monitor/webrtc/connections/nope')).status, 404);
  });
});

const build = suite('buildOpenApiDocument');

build('refuses a route described by two fragments', () => {
  const op = { summary: 'x', responses: { 200: { description: 'ok' } } };
  assert.throws(() => buildOpenApiDocument([{ '/a': { get: op } }, { '/a': { get: op } }]), /described twice/);
  const doc = buildOpenApiDocument([{ '/a': { get: op } }, { '/a': { post: op } }]);
  assert.equal(Object.keys(doc.paths['/a']).sort(), ['get', 'post']);
});

document.run();
build.run();
