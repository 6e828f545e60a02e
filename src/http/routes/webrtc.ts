// The add-on's WebRTC controller, under /api/v0/mcp/webrtc, and its test
// route under the monitor prefix. Every action runs through the operation
// runner (via WebRtcService) and answers through respond.ts: the outcome when
// it comes within --operation-timeout, else 202 and a Location to poll.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app.ts';
import { AppError, notFound } from '../../errors.ts';
import { parseBody } from '../validate.ts';
import { answerAccepted, origin, respondWithOutcome } from '../respond.ts';
import { MONITOR_PREFIX } from './monitor.ts';
import { WHEP_PREFIX } from './whep.ts';
import { QUALITIES } from '../../webrtc/quality.ts';
import { MAX_BENCHMARK_SECONDS, type WebRtcService } from '../../webrtc/service.ts';
import type { ServerPeer } from '../../webrtc/serverPeer.ts';
import { json, pathParam, ref } from '../openapi/components.ts';
import type { OpenApiPaths } from '../openapi/types.ts';

export const WEBRTC_PREFIX = '/api/v0/mcp/webrtc';

const id = z.string().min(1).max(200);
const contentRef = z.string().min(1).max(255);
const quality = z.enum(QUALITIES);
const iceServerUrl = z.string().max(500).regex(/^(stun|stuns|turn|turns):[^\s]+$/, 'a stun:, stuns:, turn: or turns: URL');

const streamBody = z
  .object({
    content: contentRef,
    quality: quality.default('auto'),
    mode: z.enum(['media', 'data']).default('media'),
    ice_servers: z.array(iceServerUrl).max(5).optional(),
  })
  .strict();

const qualityBody = z.object({ connection_id: id, quality }).strict();
/**
 * Routes that take no parameters in their body: nothing, or `{}`. Anything
 * else is refused (415 for a body that is not JSON, 422 for fields), so a
 * form or text/plain post from another page is not silently taken as a
 * request to act.
 */
const emptyBody = z.object({}).strict();

const benchmarkBody = (maxViewers: number) =>
  z
    .object({
      content: contentRef,
      duration_s: z.number().int().min(1).max(MAX_BENCHMARK_SECONDS).default(5),
      viewers: z.number().int().min(1).max(maxViewers).default(1),
      mode: z.enum(['media', 'data']).default('media'),
      quality: quality.default('auto'),
    })
    .strict();

/** Absolute URLs for a stream, as the client reached us. */
export function streamUrls(ctx: Context, serverId: string) {
  // Koa 3's ctx.origin reads 'null' here; build it from the request as received.
  const base = `${ctx.protocol}://${ctx.host}`;
  return { url: `${base}/player/${serverId}`, whep_url: `${base}${WHEP_PREFIX}/${serverId}` };
}

function connectionView(peer: ServerPeer) {
  const s = peer.state;
  return {
    id: peer.id,
    server_id: peer.serverId,
    mode: peer.spec.mode,
    content: peer.spec.content.name,
    quality: peer.quality,
    created_at: new Date(peer.createdAt).toISOString(),
    connected_at: peer.connectedAt ? new Date(peer.connectedAt).toISOString() : null,
    connection_state: s.connection,
    ice_connection_state: s.ice,
    ice_gathering_state: s.gathering,
    signaling_state: s.signaling,
    closing: peer.isClosing,
  };
}

export function webrtcRouter(services: Services, webrtc: WebRtcService): Router {
  const { config, reads } = services;
  const bound = config.operationTimeoutMs;
  const router = new Router({ prefix: WEBRTC_PREFIX });

  /** 404 for ids never seen, 409 for connections the log says are closed. */
  const livePeer = async (connectionId: string) => {
    const peer = webrtc.registry.peers.get(connectionId);
    if (peer) return peer;
    const known = await reads.connection(connectionId);
    if (known?.category === 'closed') {
      throw new AppError(409, 'CONFLICT', `connection "${connectionId}" is already closed (${known.close?.initiator ?? 'unknown'}: ${known.close?.reason ?? 'unknown'})`);
    }
    throw notFound('connection', connectionId);
  };

  router.get('/check', async (ctx) => {
    const report = await webrtc.check();
    const ready = report.content.readable && report.content.files.length > 0 && report.webrtc.version !== null;
    ctx.body = { success: ready, status: ready ? 'ok' : 'degraded', ...report, timestamp: new Date().toISOString() };
  });

  router.post('/stream', async (ctx) => {
    const body = parseBody(ctx, streamBody);
    const started = await webrtc.startStream(
      { content: body.content, quality: body.quality, mode: body.mode, iceServers: body.ice_servers },
      origin(ctx),
    );
    // The server id is fixed before the work runs, so even a 202 can name it.
    const serverId = started.serverId;
    const urls = streamUrls(ctx, serverId);
    await respondWithOutcome(ctx, started, bound, (result) => ({ ...result, ...urls }), {
      acceptedExtra: { server_id: serverId, ...urls },
    });
  });

  router.post('/stream/stop/:server_id', async (ctx) => {
    parseBody(ctx, emptyBody);
    const started = await webrtc.stopStream(ctx.params.server_id, origin(ctx));
    await respondWithOutcome(ctx, started, bound, (result) => result);
  });

  router.get('/connections', (ctx) => {
    const connections = [...webrtc.registry.peers.values()].map(connectionView);
    ctx.body = connections;
  });

  router.get('/connections/:id/stats', async (ctx) => {
    const peer = await livePeer(ctx.params.id);
    const stats = await peer.liveStats();
    ctx.body = { connection: connectionView(peer), stats, timestamp: new Date().toISOString() };
  });

  router.post('/connections/close-all', async (ctx) => {
    parseBody(ctx, emptyBody);
    const started = await webrtc.closeAll(origin(ctx));
    await respondWithOutcome(ctx, started, bound, (result) => result);
  });

  router.post('/connections/quality', async (ctx) => {
    const body = parseBody(ctx, qualityBody);
    await livePeer(body.connection_id);
    const started = await webrtc.setQuality(body.connection_id, body.quality, origin(ctx));
    await respondWithOutcome(ctx, started, bound, (result) => result);
  });

  router.post('/connections/:id/close', async (ctx) => {
    parseBody(ctx, emptyBody);
    await livePeer(ctx.params.id);
    const started = await webrtc.closeConnection(ctx.params.id, 'local', 'close_requested', origin(ctx));
    await respondWithOutcome(ctx, started, bound, (result) => result);
  });

  router.post('/benchmark', async (ctx) => {
    const body = parseBody(ctx, benchmarkBody(config.maxBenchmarkViewers));
    const started = await webrtc.benchmark(
      { content: body.content, mode: body.mode, quality: body.quality, durationS: body.duration_s, viewers: body.viewers },
      origin(ctx),
    );
    // A benchmark outlives the usual bound by design: wait for its duration plus set-up.
    await respondWithOutcome(ctx, started, Math.max(bound, body.duration_s * 1000 + 30_000), (result) => ({ result }));
  });

  router.get('/stats/resources', (ctx) => {
    ctx.body = { ...webrtc.resourceReport(), timestamp: new Date().toISOString() };
  });

  return router;
}

/** POST .../monitor/webrtc/test/async_close: only with --debug or --enable-test-routes. */
export function webrtcTestRouter(services: Services, webrtc: WebRtcService): Router {
  const router = new Router({ prefix: MONITOR_PREFIX });
  if (!services.config.debug && !services.config.enableTestRoutes) return router;
  router.post('/test/async_close', async (ctx) => {
    parseBody(ctx, emptyBody);
    const { started, connectionId, serverId, setupOperationId } = await webrtc.asyncCloseTest(origin(ctx));
    answerAccepted(ctx, started.operationId, { connection_id: connectionId, server_id: serverId, setup_operation_id: setupOperationId });
  });
  return router;
}

// ---- OpenAPI ----------------------------------------------------------------

/** Mutating routes: the bearer scheme, or nothing when no token is configured. */
const writeSecurity: Record<string, string[]>[] = [{ bearer: [] }, {}];
const problemRefs = { '400': ref('BadRequest'), '401': ref('Unauthorized'), '404': ref('NotFound') };
const accepted = json('Accepted and still running (Prefer: respond-async, or --operation-timeout passed): no outcome yet; poll Location.', {
  type: 'object',
  required: ['accepted', 'status', 'operation_id', 'location'],
  properties: {
    accepted: { const: true },
    status: { const: 'running' },
    operation_id: { type: 'string' },
    location: { type: 'string' },
  },
});
const jsonBody = (schema: Record<string, unknown>) => ({ required: true, content: { 'application/json': { schema } } });
const preferHeader = {
  name: 'Prefer',
  in: 'header' as const,
  required: false,
  description: '`respond-async` answers 202 at once with the operation id.',
  schema: { type: 'string', examples: ['respond-async'] },
};
const qualityEnum = { type: 'string', enum: [...QUALITIES] };
const failedOperation = json('The operation failed; the problem carries its code and operation id.');

export const webrtcOpenApiPaths: OpenApiPaths = {
  [`${WEBRTC_PREFIX}/check`]: {
    get: {
      tags: ['webrtc'],
      summary: 'werift version, codecs, ICE and liveness settings, and content directory status, all read from the running configuration and the installed werift',
      responses: { '200': json('The report; `success` is false when the content directory is unusable.') },
    },
  },
  [`${WEBRTC_PREFIX}/stream`]: {
    post: {
      tags: ['webrtc'],
      summary: 'Create a stream (a "server") of a content file; viewers join through its WHEP URL or player page',
      security: writeSecurity,
      parameters: [preferHeader],
      requestBody: jsonBody({
        type: 'object',
        required: ['content'],
        additionalProperties: false,
        properties: {
          content: { type: 'string', description: 'A file name inside --content-dir, or its SHA-256' },
          quality: { ...qualityEnum, default: 'auto' },
          mode: { type: 'string', enum: ['media', 'data'], default: 'media' },
          ice_servers: { type: 'array', maxItems: 5, items: { type: 'string', pattern: '^(stun|stuns|turn|turns):' } },
        },
      }),
      responses: {
        '200': json('The stream exists', {
          type: 'object',
          properties: {
            success: { type: 'boolean' },
            operation_id: { type: 'string' },
            server_id: { type: 'string' },
            url: { type: 'string', description: 'Absolute URL of the player page' },
            whep_url: { type: 'string', description: 'Absolute URL of the WHEP endpoint' },
          },
        }),
        '202': accepted,
        ...problemRefs,
        '415': ref('UnsupportedMediaType'),
        '422': ref('ValidationFailed'),
      },
    },
  },
  [`${WEBRTC_PREFIX}/stream/stop/{server_id}`]: {
    post: {
      tags: ['webrtc'],
      summary: "Stop a stream: close that stream's connections only; reports how many it closed",
      security: writeSecurity,
      parameters: [pathParam('server_id', 'The stream'), preferHeader],
      responses: { '200': json('Stopped', { type: 'object', properties: { closed: { type: 'integer' }, connection_ids: { type: 'array', items: { type: 'string' } } } }), '202': accepted, ...problemRefs },
    },
  },
  [`${WEBRTC_PREFIX}/connections`]: {
    get: {
      tags: ['webrtc'],
      summary: 'The live connections of this process with their current states',
      responses: { '200': json('An array of connections', { type: 'array', items: { type: 'object', required: ['id', 'server_id'] } }) },
    },
  },
  [`${WEBRTC_PREFIX}/connections/{id}/stats`]: {
    get: {
      tags: ['webrtc'],
      summary: 'A stats sample of one connection built now: totals, per-track RTCP figures (loss, jitter, RTT, NACK/PLI/FIR), data channels, DTLS/ICE state, stalled',
      parameters: [pathParam('id', 'The connection')],
      responses: { '200': json('The summary'), '404': ref('NotFound'), '409': failedOperation },
    },
  },
  [`${WEBRTC_PREFIX}/connections/{id}/close`]: {
    post: {
      tags: ['webrtc'],
      summary: 'Close one connection (recorded with initiator `local`)',
      security: writeSecurity,
      parameters: [pathParam('id', 'The connection'), preferHeader],
      responses: { '200': json('Closed'), '202': accepted, ...problemRefs, '409': json('The connection is already closed') },
    },
  },
  [`${WEBRTC_PREFIX}/connections/close-all`]: {
    post: {
      tags: ['webrtc'],
      summary: 'Close every live connection; reports the real count closed',
      security: writeSecurity,
      parameters: [preferHeader],
      responses: { '200': json('Closed', { type: 'object', properties: { closed: { type: 'integer' } } }), '202': accepted, '401': ref('Unauthorized') },
    },
  },
  [`${WEBRTC_PREFIX}/connections/quality`]: {
    post: {
      tags: ['webrtc'],
      summary: 'Change what one connection is sent: data mode caps the send rate (low 32 KiB/s, medium 128, high 512, auto 1024); media `low` sends only video keyframes',
      security: writeSecurity,
      parameters: [preferHeader],
      requestBody: jsonBody({ type: 'object', required: ['connection_id', 'quality'], additionalProperties: false, properties: { connection_id: { type: 'string' }, quality: qualityEnum } }),
      responses: { '200': json('Applied'), '202': accepted, ...problemRefs, '409': json('The connection is already closed'), '415': ref('UnsupportedMediaType'), '422': ref('ValidationFailed') },
    },
  },
  [`${WEBRTC_PREFIX}/benchmark`]: {
    post: {
      tags: ['webrtc'],
      summary: 'Run real in-process werift viewers against a stream of this server; answers set-up time, throughput and loss',
      security: writeSecurity,
      parameters: [preferHeader],
      requestBody: jsonBody({
        type: 'object',
        required: ['content'],
        additionalProperties: false,
        properties: {
          content: { type: 'string' },
          duration_s: { type: 'integer', minimum: 1, maximum: MAX_BENCHMARK_SECONDS, default: 5 },
          viewers: { type: 'integer', minimum: 1, description: 'At most the configured maxBenchmarkViewers (default 50)', default: 1 },
          mode: { type: 'string', enum: ['media', 'data'], default: 'media' },
          quality: { ...qualityEnum, default: 'auto' },
        },
      }),
      responses: { '200': json('The measurements'), '202': accepted, ...problemRefs, '415': ref('UnsupportedMediaType'), '422': ref('ValidationFailed') },
    },
  },
  [`${WEBRTC_PREFIX}/stats/resources`]: {
    get: {
      tags: ['webrtc'],
      summary: 'Process CPU, RSS, heap, event-loop delay, open peers and pending tasks (never blocks the loop)',
      responses: { '200': json('The report') },
    },
  },
  [`${WHEP_PREFIX}/{server_id}`]: {
    post: {
      tags: ['webrtc'],
      summary: 'WHEP: POST an SDP offer, get 201 with the SDP answer (all candidates) and the session Location',
      security: writeSecurity,
      parameters: [pathParam('server_id', 'The stream')],
      requestBody: { required: true, content: { 'application/sdp': { schema: { type: 'string' } } } },
      responses: {
        '201': {
          description: 'The SDP answer',
          headers: { Location: { description: 'The session: DELETE it to hang up', schema: { type: 'string' } } },
          content: { 'application/sdp': { schema: { type: 'string' } } },
        },
        ...problemRefs,
        '413': json('The offer is larger than 64 KiB (code PAYLOAD_TOO_LARGE); more than 1,000 lines, 8 media sections, 50 candidates or 16 rids is a 400'),
        '415': json('The body is not application/sdp'),
        '422': ref('ValidationFailed'),
        '503': json('No connection slot free (code UNAVAILABLE), or the server is shutting down; retry after Retry-After'),
        '504': json('The negotiation did not finish within --operation-timeout (code TIMEOUT); the operation says what happened'),
      },
    },
  },
  [`${WHEP_PREFIX}/{server_id}/sessions/{connection_id}`]: {
    delete: {
      tags: ['webrtc'],
      summary: 'WHEP: end the session (recorded as a close with initiator `remote`)',
      security: writeSecurity,
      parameters: [pathParam('server_id', 'The stream'), pathParam('connection_id', 'The connection')],
      responses: { '204': { description: 'Closed' }, '202': accepted, '401': ref('Unauthorized'), '404': ref('NotFound') },
    },
  },
  '/player/{server_id}': {
    get: {
      tags: ['webrtc'],
      summary: 'A player page for the stream (connects through WHEP; a bearer token goes in the fragment, `#token=...`, which is never sent to the server, or the page asks for it)',
      parameters: [pathParam('server_id', 'The stream')],
      responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } }, '404': ref('NotFound') },
    },
  },
  [`${MONITOR_PREFIX}/test/async_close`]: {
    post: {
      tags: ['webrtc'],
      summary: 'Test route (--debug or --enable-test-routes): set up a real loopback pair, close it in the background, answer 202',
      security: writeSecurity,
      responses: { '202': accepted, '401': ref('Unauthorized'), '404': json('Test routes are disabled (code ROUTE_NOT_FOUND)') },
    },
  },
};
