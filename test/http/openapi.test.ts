import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Router from '@koa/router';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createApp } from '../../src/http/app.ts';
import { webrtcPlugin } from '../../src/http/webrtcPlugin.ts';
import { buildOpenApiDocument } from '../../src/http/openapi/document.ts';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WEBRTC_PREFIX } from '../../src/http/routes/webrtc.ts';

type Document = {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, { operationId: string; security: unknown[]; parameters?: { name: string; in: string; required?: boolean }[]; responses: Record<string, unknown> }>>;
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

async function withServer(run: (server: TestServer, doc: Document) => Promise<void>, config: Parameters<typeof startTestServer>[0] = {}) {
  // Every plugin the CLI loads, and the test routes on, so every route exists.
  const server = await startTestServer({ enableTestRoutes: true, debug: true, ...config }, { plugins: [webrtcPlugin] });
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

document('is valid by Redocly\'s recommended rules, with and without tokens configured', async () => {
  for (const config of [{}, { authToken: 'admin-secret', readToken: 'read-secret' }]) {
    await withServer(async (server, doc) => {
      const file = join(server.dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(doc));
      const report = await redoclyLint(file);
      assert.equal(report.totals.errors, 0, JSON.stringify(report.problems.slice(0, 5), null, 1));
      assert.equal(report.totals.warnings, 0, JSON.stringify(report.problems.slice(0, 5), null, 1));
    }, config);
  }
});

document('names every operation once, the server as reached, and the security the configuration asks for', async () => {
  await withServer(async (server, doc) => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    assert.is(new Set(ids).size, ids.length);
    assert.equal(doc.servers, [{ url: server.url }]);
    const summary = doc.paths['/api/v0/mcp/monitor/webrtc/summary'].get;
    const stream = doc.paths[`${WEBRTC_PREFIX}/stream`].post;
    assert.equal(summary.security, [{ readToken: [] }, { adminToken: [] }]);
    assert.equal(stream.security, [{ adminToken: [] }]);
    assert.equal(doc.paths['/player/{server_id}'].get.security, [], 'the pages a browser navigates to need no token');
    assert.ok(summary.responses['401'] && stream.responses['401']);
  }, { authToken: 'admin-secret', readToken: 'read-secret' });
  await withServer(async (_server, doc) => {
    assert.equal(doc.paths[`${WEBRTC_PREFIX}/stream`].post.security, [], 'no token configured: open, and said so');
    assert.not.ok(doc.components.securitySchemes);
  });
});

document('describes what the routes answer: their responses parse with the schemas the document was made from', async () => {
  await withServer(async (server) => {
    // Something in every read model: a stream, a real loopback connection (the test route) and its operations, an export.
    const stream = await server.api(`${WEBRTC_PREFIX}/stream`, { method: 'POST', json: { content: 'sample.webm', mode: 'data' } });
    assert.is(stream.status, 200, await stream.clone().text());
    const { server_id: serverId } = (await stream.json()) as { server_id: string };
    const test = await server.api('/api/v0/mcp/monitor/webrtc/test/async_close', { method: 'POST', json: {} });
    const { connection_id: connectionId } = (await test.json()) as { connection_id: string };
    await (await server.api('/api/v0/mcp/monitor/webrtc/export', { method: 'POST', json: {} })).body?.cancel();
    const { monitorApi } = await import('../../src/http/routes/monitor.ts');
    const { eventsApi } = await import('../../src/http/routes/events.ts');
    const { webrtcApi } = await import('../../src/http/routes/webrtc.ts');
    const tables = [monitorApi, eventsApi, webrtcApi(server.services.config)];
    const operation = ((await (await server.api('/api/v0/mcp/monitor/webrtc/operations?status=all')).json()) as { operations: { id: string }[] }).operations[0].id;
    const fill = (path: string) => path.replace('connections/:id', `connections/${connectionId}`).replace('streams/:id', `streams/${serverId}`).replace(':id', operation).replace(':server_id', serverId);
    let checked = 0;
    for (const table of tables) {
      for (const [key, route] of Object.entries(table)) {
        const [method, path] = key.split(' ');
        const schema = route.responses[200]?.json;
        if (method !== 'GET' || !schema || path.includes(':id/stats')) continue;
        const res = await server.api(fill(path));
        const body = await res.json();
        assert.is(res.status, 200, `${key}: ${JSON.stringify(body)}`);
        const parsed = (schema as z.ZodType).safeParse(body);
        assert.ok(parsed.success, `${key}: ${parsed.success ? '' : z.prettifyError(parsed.error)}`);
        checked++;
      }
    }
    assert.ok(checked >= 9, `only ${checked} routes checked`);
  });
});

document('leaves out the WebRTC routes when the plugin is not loaded', async () => {
  const server = await startTestServer();
  try {
    const doc = (await (await server.api('/openapi.json')).json()) as Document;
    const paths = Object.keys(doc.paths);
    assert.ok(paths.includes('/api/v0/mcp/monitor/webrtc/summary'));
    assert.equal(paths.filter((p) => p.startsWith(WEBRTC_PREFIX) || p.startsWith('/player') || p.includes('test/async_close')), []);
  } finally {
    await server.stop();
  }
});

const imports = suite('the core app\'s imports');

imports('never reach werift (the OpenAPI module included)', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const seen = new Set<string>();
  const reached: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports that load code (`import type` loads nothing); a dynamic import() is loaded only when it runs.
    for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[1];
      if (spec === 'werift' || spec.startsWith('werift/')) reached.push(`${file} imports ${spec}`);
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
    }
  };
  visit(join(root, 'src', 'http', 'app.ts'));
  assert.ok(seen.has(join(root, 'src', 'http', 'routes', 'openapi.ts')));
  assert.equal(reached, []);
});

const build = suite('buildOpenApiDocument');

build('refuses a route described twice, and an operationId used twice', () => {
  const op = (operationId: string) => ({ operationId, tag: 'meta', summary: 'x', responses: { 200: { description: 'ok' } } });
  const none = { authToken: false, readToken: false };
  assert.throws(() => buildOpenApiDocument([{ 'GET /a': op('a') }, { 'GET /a': op('b') }], none), /described twice/);
  assert.throws(() => buildOpenApiDocument([{ 'GET /a': op('a') }, { 'POST /b': op('a') }], none), /used twice/);
  const doc = buildOpenApiDocument([{ 'GET /a': op('a') }, { 'POST /a': op('b') }], none);
  assert.equal(Object.keys(doc.paths['/a']).sort(), ['get', 'post']);
});

/** `redocly lint` (the devDependency), its recommended rules, as JSON. */
function redoclyLint(file: string): Promise<{ totals: { errors: number; warnings: number }; problems: unknown[] }> {
  const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../node_modules/.bin/redocly');
  return new Promise((resolvePromise, reject) => {
    execFile(
      bin,
      ['lint', file, '--format=json', '--extends=recommended'],
      // No telemetry or update check: tests reach nothing but loopback.
      { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        try {
          resolvePromise(JSON.parse(stdout));
        } catch {
          reject(new Error(`redocly lint gave no report (${err?.message ?? 'no error'}): ${stderr.slice(-2000)}`));
        }
      },
    );
  });
}

const fleetDocument = suite('the fleet monitor\'s /openapi.json');

fleetDocument('documents exactly the routes fleet serve mounts (no write route), with ?node=, and is lint-clean', async () => {
  const { fleetRouters, FLEET_API } = await import('../../src/http/fleetServe.ts');
  const { centrePool } = await import('../../src/fleet/pg.ts');
  const { FleetReads } = await import('../../src/fleet/reads.ts');
  const { FleetFeed } = await import('../../src/fleet/feed.ts');
  const { makeConfig } = await import('../../src/config.ts');
  const pino = (await import('pino')).default;
  // Routers are built, never asked: the pool connects on its first query, and there is none.
  const pool = centrePool('postgres://nobody@127.0.0.1:1/none', { applicationName: 'openapi test' });
  try {
    const logger = pino({ level: 'silent' });
    const fleet = { reads: new FleetReads(pool), feed: new FleetFeed('postgres://nobody@127.0.0.1:1/none', logger, 1000), projectorRole: () => 'off' as const };
    const registered = registeredRoutes(fleetRouters({ config: makeConfig(), reads: fleet.reads, logger, startedAt: 0, fleet }, pool));
    const doc = buildOpenApiDocument(FLEET_API, { authToken: false, readToken: true }) as unknown as Document;
    assert.equal([...registered].sort(), [...documentedRoutes(doc)].sort());
    assert.ok([...registered].every((r) => r.startsWith('GET ')), 'reads only');
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (path.startsWith('/api/')) assert.ok(ops.get.parameters?.some((p) => p.name === 'node' && p.in === 'query'), `${path} takes ?node=`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'wrm-fleet-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify({ ...doc, servers: [{ url: 'http://127.0.0.1:9999' }] }));
      const report = await redoclyLint(file);
      assert.equal({ errors: report.totals.errors, warnings: report.totals.warnings }, { errors: 0, warnings: 0 }, JSON.stringify(report.problems, null, 1).slice(0, 3000));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await pool.end();
  }
});

document.run();
imports.run();
fleetDocument.run();
build.run();
