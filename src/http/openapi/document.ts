// The OpenAPI 3.1 document, generated from the routes' tables (spec.ts): their
// query and body schemas (the ones the handlers parse) as input JSON Schema,
// their response schemas as output JSON Schema (zod 4's z.toJSONSchema), the
// problems each route answers under the statuses of the error table, and the
// security the running configuration asks for. Named schemas (components.ts)
// become components/schemas; only those the routes reach are kept.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { statusOf, type ErrorCode } from '../../errors.ts';
import { isPublicPage, viewerRouteStream } from '../auth.ts';
import { TITLES } from '../errors.ts';
import { namedSchemas, problemSchema } from './components.ts';
import { eventDiscriminator, eventSchema } from './events.ts';
import type { ApiSpec, RouteSpec } from './spec.ts';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  description: string;
  license: string;
};

type Json = Record<string, unknown>;
const COMPONENT = '#/components/schemas/';
const ROUTE_PREFIX = 'route~';

/** What the document needs from the running configuration. */
export type DocumentOptions = { authToken: boolean; readToken: boolean };

const TAGS: Record<string, string> = {
  monitor: 'Read models of the log, under /api/v0/mcp/monitor/webrtc',
  events: 'The log itself, paged or live (SSE)',
  webrtc: 'The WebRTC controller, under /api/v0/mcp/webrtc, WHEP signaling and the player page',
  telemetry: 'Viewer-side telemetry (rtcstats protocol; the live WebSocket is ws://…/api/v0/mcp/telemetry/rtcstats)',
  metrics: 'Prometheus',
  dashboard: 'The operator page and its static files',
  issues: "Issues the detectors raised on the live log, and the detectors' rules",
  meta: 'This document',
};

/**
 * Tidies zod's JSON Schema for a reader: no per-schema `$schema`/`$id`, no
 * ±2^53 bounds on every integer, no 400-character pattern beside a
 * `date-time` format, and response objects left open (zod marks every
 * output object closed; the API may add fields).
 */
function tidy(io: 'input' | 'output') {
  return (ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }) => {
    const json = ctx.jsonSchema as Json;
    if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
    if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
    if (json.format === 'date-time' || json.format === 'date') delete json.pattern;
    const def = (ctx.zodSchema as { _zod: { def: { type: string; catchall?: unknown } } })._zod.def;
    if (io === 'output' && def.type === 'object' && def.catchall === undefined && json.additionalProperties === false) delete json.additionalProperties;
    if (ctx.zodSchema === eventSchema) json.discriminator = eventDiscriminator;
    // A record keyed by an enum (every key present): its keys as properties.
    const keys = (json.propertyNames as Json | undefined)?.enum as string[] | undefined;
    if (keys && typeof json.additionalProperties === 'object' && Array.isArray(json.required) && !json.properties) {
      json.properties = Object.fromEntries(keys.map((k) => [k, json.additionalProperties]));
      delete json.propertyNames;
      delete json.additionalProperties;
    }
  };
}

/** zod stamps `$schema` and `$id` on each schema it writes; inside an OpenAPI document they are noise (and `$id` a fragment). */
function unstamped(json: Json): Json {
  delete json.$schema;
  delete json.$id;
  return json;
}

const inputSchema = (schema: z.ZodType): Json => unstamped(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override: tidy('input') }) as Json);

/** `/connections/:id` -> `/connections/{id}`. */
export const openApiPath = (koaPath: string) => koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export function buildOpenApiDocument(specs: ApiSpec[], options: DocumentOptions) {
  const routes: { method: string; path: string; spec: RouteSpec }[] = [];
  const seen = new Set<string>();
  const operationIds = new Set<string>();
  for (const spec of specs) {
    for (const [key, route] of Object.entries(spec)) {
      const [method, koaPath] = key.split(' ');
      const path = openApiPath(koaPath);
      if (seen.has(`${method} ${path}`)) throw new Error(`OpenAPI: ${method} ${path} is described twice`);
      if (operationIds.has(route.operationId)) throw new Error(`OpenAPI: operationId ${route.operationId} is used twice`);
      seen.add(`${method} ${path}`);
      operationIds.add(route.operationId);
      routes.push({ method: method.toLowerCase(), path, spec: route });
    }
  }

  // Every response schema, and every named schema, in one registry: zod
  // writes the named ones once and refers to them by $ref from the rest.
  const registry = z.registry<{ id: string }>();
  for (const [schema, name] of namedSchemas()) registry.add(schema, { id: name });
  const responseRef = new Map<string, z.ZodType>();
  for (const { spec } of routes) {
    for (const [status, response] of Object.entries(spec.responses)) {
      const schema = response.json ?? response.media?.schema;
      if (!schema || namedSchemas().has(schema)) continue;
      const id = `${ROUTE_PREFIX}${spec.operationId}~${status}`;
      registry.add(schema, { id });
      responseRef.set(id, schema);
    }
  }
  const generated = z.toJSONSchema(registry, { io: 'output', unrepresentable: 'any', uri: (id) => `${COMPONENT}${id}`, override: tidy('output') }).schemas as Record<string, Json>;
  for (const json of Object.values(generated)) unstamped(json);
  const outputSchema = (schema: z.ZodType, operationId: string, status: string): Json => {
    const name = namedSchemas().get(schema);
    if (name) return { $ref: `${COMPONENT}${name}` };
    return generated[`${ROUTE_PREFIX}${operationId}~${status}`];
  };

  const security = (method: string, path: string) => {
    const schemes: Json[] = [];
    // OPTIONS needs no token (src/http/auth.ts): it says only what a route takes.
    if (method === 'options') return schemes;
    if (viewerRouteStream(method.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x')) !== null) {
      if (options.authToken) schemes.push({ adminToken: [] }, { viewerToken: [] });
    } else if (method !== 'get') {
      if (options.authToken) schemes.push({ adminToken: [] });
    } else if (options.readToken && !isPublicPage(path.replace(/\{[^}]+\}/g, 'x'))) {
      schemes.push({ readToken: [] });
      if (options.authToken) schemes.push({ adminToken: [] });
    }
    return schemes;
  };

  const paths: Record<string, Record<string, Json>> = {};
  for (const { method, path, spec } of routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method))) {
    const parameters: Json[] = [];
    for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
      parameters.push({ name, in: 'path', required: true, description: spec.params?.[name] ?? name, schema: { type: 'string', maxLength: 200 } });
    }
    for (const [name, field] of Object.entries(spec.query?.shape ?? {}) as [string, z.ZodType][]) {
      const schema = inputSchema(field);
      const description = schema.description;
      delete schema.description;
      parameters.push({ name, in: 'query', required: !field.safeParse(undefined).success, ...(description ? { description } : {}), schema });
    }
    for (const header of spec.headers ?? []) {
      parameters.push({ name: header.name, in: 'header', required: false, description: header.description, schema: inputSchema(header.schema) });
    }

    const responses: Record<string, Json> = {};
    for (const [status, response] of Object.entries(spec.responses)) {
      const content: Json = {};
      if (response.json) content['application/json'] = { schema: outputSchema(response.json, spec.operationId, status) };
      if (response.media) {
        content[response.media.type] = { schema: response.media.schema ? outputSchema(response.media.schema, spec.operationId, status) : { type: 'string' } };
      }
      responses[status] = {
        description: response.description,
        ...(response.headers ? { headers: Object.fromEntries(Object.entries(response.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
        ...(Object.keys(content).length ? { content } : {}),
      };
    }
    // Problems, grouped by the status the error table gives each code. Every
    // route checks the Host (src/http/sameSite.ts); mutating ones, the origin.
    const errors = new Set<ErrorCode>(spec.errors ?? []);
    errors.add('HOST_NOT_ALLOWED');
    if (method !== 'get' && method !== 'options') errors.add('CROSS_SITE_REQUEST');
    const sec = security(method, path);
    if (method !== 'get' && options.authToken) errors.add('UNAUTHORIZED');
    if (method === 'get' && sec.length) errors.add('UNAUTHORIZED');
    // A token of another scope (read, or a viewer token elsewhere than its stream's WHEP routes).
    if (sec.length) errors.add('INSUFFICIENT_SCOPE');
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of errors) byStatus.set(statusOf(code), [...(byStatus.get(statusOf(code)) ?? []), code]);
    for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
      responses[String(status)] = {
        description: `${TITLES[status]}: ${codes.join(', ')}`,
        ...(status === 503 ? { headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } } } : {}),
        content: { 'application/problem+json': { schema: { $ref: `${COMPONENT}${namedSchemas().get(problemSchema)}` } } },
      };
    }

    let requestBody: Json | undefined;
    if (spec.body && 'json' in spec.body) {
      requestBody = { required: spec.body.required ?? false, content: { 'application/json': { schema: inputSchema(spec.body.json) } } };
    } else if (spec.body) {
      requestBody = { required: true, description: spec.body.description, content: { [spec.body.media]: { schema: { type: 'string' } } } };
    }

    (paths[path] ??= {})[method] = {
      operationId: spec.operationId,
      tags: [spec.tag],
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
      security: sec,
    };
  }

  // Keep the components the paths reach (directly or through each other).
  const schemas: Record<string, Json> = {};
  const pending = [...JSON.stringify(paths).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
  while (pending.length) {
    const name = pending.pop()!;
    if (schemas[name] || name.startsWith(ROUTE_PREFIX)) continue;
    schemas[name] = generated[name];
    for (const m of JSON.stringify(generated[name]).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) pending.push(m[1]);
  }
  const securitySchemes: Json = {};
  if (options.authToken) {
    securitySchemes.adminToken = { type: 'http', scheme: 'bearer', description: 'The admin token (--auth-token-file): every route, mutating ones included.' };
  }
  if (options.authToken) {
    securitySchemes.viewerToken = {
      type: 'http',
      scheme: 'bearer',
      description: "A stream's viewer token (answered once by POST stream): that stream's WHEP routes only.",
    };
  }
  if (options.readToken) {
    securitySchemes.readToken = { type: 'http', scheme: 'bearer', description: 'The read token (--read-token-file): reads only.' };
  }
  const usedTags = new Set(routes.map((r) => r.spec.tag));

  return {
    openapi: '3.1.0',
    info: {
      title: pkg.name,
      version: pkg.version,
      license: { name: pkg.license, identifier: pkg.license },
      description:
        `${pkg.description} Every monitor answer is a projection of the event log. ` +
        'Errors are application/problem+json with a stable `code`; times are ISO-8601 UTC; durations are milliseconds. ' +
        'Any route may answer 421 HOST_NOT_ALLOWED (a Host that is not an IP address, localhost or an allowed name) and ' +
        '503 with Retry-After (a limit, shutdown: SHUTTING_DOWN, or storage: STORAGE_FULL, STORAGE_BUSY, STORAGE_UNAVAILABLE); ' +
        'mutating routes answer 403 CROSS_SITE_REQUEST to pages on other origins.' +
        (options.authToken || options.readToken ? '' : ' No token is configured on this server: every route is open.'),
    },
    // Filled in per request with the origin the client reached (routes/openapi.ts).
    servers: [{ url: SERVER_PLACEHOLDER }],
    tags: Object.entries(TAGS)
      .filter(([name]) => usedTags.has(name))
      .map(([name, description]) => ({ name, description })),
    paths,
    components: { schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))), ...(Object.keys(securitySchemes).length ? { securitySchemes } : {}) },
  };
}

/** Replaced by the server's origin as the client reached it. */
export const SERVER_PLACEHOLDER = 'http://__server__';

/** The JSON text of the document with `servers` naming `origin`. */
export function documentFor(text: string, origin: string): string {
  return text.replace(JSON.stringify(SERVER_PLACEHOLDER), JSON.stringify(origin));
}
