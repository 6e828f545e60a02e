// The add-on's WebRTC controller, under /api/v0/mcp/webrtc, and its test
// route under the monitor prefix. Every action runs through the operation
// runner (via WebRtcService) and answers through respond.ts: the outcome when
// it comes within --operation-timeout, else 202 and a Location to poll.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Services } from '../app.ts';
import type { Config } from '../../config.ts';
import { AppError, notFound } from '../../errors.ts';
import { parseBody } from '../validate.ts';
import { randomBytes } from 'node:crypto';
import { tokenSha256 } from '../auth.ts';
import { answerAccepted, origin, respondWithOutcome } from '../respond.ts';
import { MONITOR_PREFIX } from './monitor.ts';
import { WHEP_PREFIX } from './whep.ts';
import { QUALITIES } from '../../webrtc/quality.ts';
import { MAX_BENCHMARK_SECONDS, type WebRtcService } from '../../webrtc/service.ts';
import type { ServerPeer } from '../../webrtc/serverPeer.ts';
import { acceptedSchema, completed, isoTime, named } from '../openapi/components.ts';
import { PREFER_HEADER, type ApiSpec } from '../openapi/spec.ts';
import { EVENT_SCHEMAS } from '../../log/catalogue.ts';
import type { ErrorCode } from '../../errors.ts';

export const WEBRTC_PREFIX = '/api/v0/mcp/webrtc';

const id = z.string().min(1).max(200);
const contentRef = z.string().min(1).max(255);
const quality = z.enum(QUALITIES);
const iceServerUrl = z.string().max(500).regex(/^(stun|stuns|turn|turns):[^\s]+$/, 'a stun:, stuns:, turn: or turns: URL');

const streamBody = z
  .object({
    content: contentRef.meta({ description: 'A file name inside --content-dir, or its SHA-256' }),
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
      throw new AppError('CONFLICT', `connection "${connectionId}" is already closed (${known.close?.initiator ?? 'unknown'}: ${known.close?.reason ?? 'unknown'})`);
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
    // The stream's viewer token: answered here once, kept (and recorded) only
    // as its SHA-256, so neither the log nor an export can hand it out again.
    const viewerToken = randomBytes(32).toString('base64url');
    const started = await webrtc.startStream(
      { content: body.content, quality: body.quality, mode: body.mode, iceServers: body.ice_servers, viewerTokenSha256: tokenSha256(viewerToken) },
      origin(ctx),
    );
    // The server id is fixed before the work runs, so even a 202 can name it.
    const serverId = started.serverId;
    const urls = { ...streamUrls(ctx, serverId), viewer_token: viewerToken };
    const viewer = { ...urls, viewer_url: `${urls.url}#token=${viewerToken}` };
    await respondWithOutcome(ctx, started, bound, (result) => ({ ...result, ...viewer }), {
      acceptedExtra: { server_id: serverId, ...viewer },
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

const count = z.number().int().nonnegative();
const stringOrNull = z.string().nullable();
const streamUrlsShape = {
  url: z.string().meta({ description: 'Absolute URL of the player page' }),
  whep_url: z.string().meta({ description: 'Absolute URL of the WHEP endpoint' }),
  viewer_token: z.string().meta({
    description: "The stream's viewer token: it opens this stream's WHEP routes and nothing else. Answered only here, once; the server keeps only its SHA-256.",
  }),
  viewer_url: z.string().meta({ description: 'The player page with the viewer token in the fragment (`#token=...`, never sent to the server)' }),
};
const liveConnection = named(
  'LiveConnection',
  z.object({
    id: z.string(),
    server_id: z.string(),
    mode: z.enum(['media', 'data']),
    content: z.string(),
    quality: quality,
    created_at: isoTime,
    connected_at: isoTime.nullable(),
    connection_state: z.string(),
    ice_connection_state: z.string(),
    ice_gathering_state: z.string(),
    signaling_state: z.string(),
    closing: z.boolean(),
  }),
);
const codecInfo = z.object({ mime_type: z.string(), clock_rate: z.number().int(), channels: z.number().int().optional() });
const benchmarkResult = z.object({
  viewers_requested: count,
  viewers_connected: count,
  viewers_failed: count,
  errors: z.array(z.string()),
  setup_ms: z.object({ min: z.number(), median: z.number(), p95: z.number(), max: z.number() }).nullable(),
  duration_ms: count,
  received: z.object({
    bytes_total: count,
    bytes_per_viewer_median: z.number(),
    throughput_bps_total: count,
    throughput_bps_per_viewer_median: z.number(),
    rtp_packets_total: count,
    packets_lost_total: count,
    loss_ratio: z.number().min(0).max(1),
    frames_per_viewer_median: z.number().nullable(),
    data_passes_verified_total: z.number().int().nullable(),
    sha256_mismatches_total: z.number().int().nullable(),
  }),
});
const liveStats = EVENT_SCHEMAS['connection.stats_sampled'].extend({
  dtls_state: stringOrNull,
  ice_state: stringOrNull,
  selected_pair: z.object({ local: z.string(), remote: z.string() }).nullable(),
  frames_dropped: z.number().nullable(),
  stalled: z.boolean(),
  data: z.unknown().meta({ description: 'For a data stream: what was sent, and the rate limit; null for media.' }),
  quality,
});
const acceptedWithLocation = { description: 'Accepted and still running; poll Location.', json: acceptedSchema, headers: { Location: 'The operation' } };
const operationErrors: ErrorCode[] = ['SHUTTING_DOWN', 'WEBRTC_ERROR'];
const bodyErrors: ErrorCode[] = ['INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED'];

/** The controller's table; the benchmark's viewer limit is the configured one. */
export const webrtcApi = (config: Config): ApiSpec => ({
  [`GET ${WEBRTC_PREFIX}/check`]: {
    operationId: 'checkWebRtc',
    tag: 'webrtc',
    summary: 'werift version, codecs, ICE and liveness settings, and the content directory, read from the running configuration and the installed werift',
    responses: {
      200: {
        description: 'The report; `success` is false when the content directory is unusable',
        json: z.object({
          success: z.boolean(),
          status: z.enum(['ok', 'degraded']),
          webrtc: z.object({
            library: z.literal('werift'),
            version: stringOrNull,
            node: z.string(),
            codecs: z.object({ audio: z.array(codecInfo), video: z.array(codecInfo) }),
            playable_source_codecs: z.unknown(),
            ice: z.object({ lite: z.boolean(), bundle_policy: stringOrNull, servers: z.array(z.string()), additional_host_addresses: z.array(z.string()) }),
            liveness: z.object({ stall_after_ms: count, consent_timeout_ms: count, watchdog_tick_ms: count }),
            stats_interval_ms: count,
          }),
          content: z.object({
            directory: z.string().meta({ description: "The directory's name (not its path)" }),
            exists: z.boolean(),
            readable: z.boolean(),
            error: z.string().optional(),
            files: z.array(z.object({ name: z.string(), size: count, sha256: z.string(), media: z.boolean() })),
          }),
          live: z.object({ streams: count, connections: count }),
          timestamp: isoTime,
        }),
      },
    },
  },
  [`POST ${WEBRTC_PREFIX}/stream`]: {
    operationId: 'startStream',
    tag: 'webrtc',
    summary: 'Create a stream (a "server") of a content file; viewers join through its WHEP URL or player page',
    headers: [PREFER_HEADER],
    body: { json: streamBody, required: true },
    responses: {
      200: {
        description: 'The stream exists',
        json: completed({ server_id: z.string(), content: z.string(), sha256: z.string(), mode: z.enum(['media', 'data']), quality, ...streamUrlsShape }),
      },
      202: { ...acceptedWithLocation, json: acceptedSchema.extend({ server_id: z.string(), ...streamUrlsShape }) },
    },
    errors: [...bodyErrors, 'CONTENT_NOT_FOUND', 'UNAVAILABLE', ...operationErrors],
  },
  [`POST ${WEBRTC_PREFIX}/stream/stop/:server_id`]: {
    operationId: 'stopStream',
    tag: 'webrtc',
    summary: "Stop a stream: close that stream's connections only; reports how many it closed",
    params: { server_id: 'The stream' },
    headers: [PREFER_HEADER],
    body: { json: emptyBody },
    responses: {
      200: { description: 'Stopped', json: completed({ server_id: z.string(), closed: count, connection_ids: z.array(z.string()) }) },
      202: acceptedWithLocation,
    },
    errors: [...bodyErrors, 'NOT_FOUND', ...operationErrors],
  },
  [`GET ${WEBRTC_PREFIX}/connections`]: {
    operationId: 'listLiveConnections',
    tag: 'webrtc',
    summary: 'The live connections of this process with their current states',
    responses: { 200: { description: 'The live connections', json: z.array(liveConnection) } },
  },
  [`GET ${WEBRTC_PREFIX}/connections/:id/stats`]: {
    operationId: 'getConnectionStats',
    tag: 'webrtc',
    summary: 'A stats sample of one live connection built now: totals, per-track RTCP figures, data channels, DTLS/ICE state, stalled',
    params: { id: 'The connection' },
    responses: { 200: { description: 'The sample', json: z.object({ connection: liveConnection, stats: liveStats, timestamp: isoTime }) } },
    errors: ['NOT_FOUND', 'CONFLICT'],
  },
  [`POST ${WEBRTC_PREFIX}/connections/:id/close`]: {
    operationId: 'closeConnection',
    tag: 'webrtc',
    summary: 'Close one connection (recorded with initiator `local`)',
    params: { id: 'The connection' },
    headers: [PREFER_HEADER],
    body: { json: emptyBody },
    responses: { 200: { description: 'Closed', json: completed({ connection_id: z.string(), closed: z.boolean() }) }, 202: acceptedWithLocation },
    errors: [...bodyErrors, 'NOT_FOUND', 'CONFLICT', ...operationErrors],
  },
  [`POST ${WEBRTC_PREFIX}/connections/close-all`]: {
    operationId: 'closeAllConnections',
    tag: 'webrtc',
    summary: 'Close every live connection; reports the real count closed',
    headers: [PREFER_HEADER],
    body: { json: emptyBody },
    responses: { 200: { description: 'Closed', json: completed({ closed: count, connection_ids: z.array(z.string()) }) }, 202: acceptedWithLocation },
    errors: [...bodyErrors, ...operationErrors],
  },
  [`POST ${WEBRTC_PREFIX}/connections/quality`]: {
    operationId: 'setConnectionQuality',
    tag: 'webrtc',
    summary: 'Change what one connection is sent: data mode caps the send rate (low 32 KiB/s, medium 128, high 512, auto 1024); media `low` sends only video keyframes',
    headers: [PREFER_HEADER],
    body: { json: qualityBody, required: true },
    responses: {
      200: { description: 'Applied', json: completed({ connection_id: z.string(), from: z.string(), to: quality, mode: z.enum(['media', 'data']) }) },
      202: acceptedWithLocation,
    },
    errors: [...bodyErrors, 'NOT_FOUND', 'CONFLICT', ...operationErrors],
  },
  [`POST ${WEBRTC_PREFIX}/benchmark`]: {
    operationId: 'runBenchmark',
    tag: 'webrtc',
    summary: 'Run real in-process werift viewers against a stream of this server; answers set-up time, throughput and loss',
    headers: [PREFER_HEADER],
    body: { json: benchmarkBody(config.maxBenchmarkViewers), required: true },
    responses: { 200: { description: 'The measurements', json: completed({ result: benchmarkResult }) }, 202: acceptedWithLocation },
    errors: [...bodyErrors, 'CONTENT_NOT_FOUND', 'UNAVAILABLE', ...operationErrors],
  },
  [`GET ${WEBRTC_PREFIX}/stats/resources`]: {
    operationId: 'getResourceStats',
    tag: 'webrtc',
    summary: 'Process CPU, RSS, heap, event-loop delay, open peers and pending tasks (never blocks the loop)',
    responses: {
      200: {
        description: 'The report',
        json: z.looseObject({
          cpu: z.object({ percent: z.number(), user_ms: count, system_ms: count, window_ms: count }),
          memory: z.object({ rss_bytes: count, heap_used_bytes: count, heap_total_bytes: count, external_bytes: count, array_buffers_bytes: count }),
          event_loop_delay: z.object({ min_ms: z.number(), mean_ms: z.number(), p50_ms: z.number(), p99_ms: z.number(), max_ms: z.number(), samples: count, window_ms: count }),
          handles: z.object({ udp_sockets: count, timers: count, total: count }),
          webrtc: z.looseObject({ open_peers: count, max_peers: count, streams: count, stalled_peers: count, pending_tasks: count, abandoned_tasks: count, running_operations: count }),
          timestamp: isoTime,
        }),
      },
    },
  },
});

/** Described only when the route exists (--debug or --enable-test-routes). */
export const webrtcTestApi: ApiSpec = {
  [`POST ${MONITOR_PREFIX}/test/async_close`]: {
    operationId: 'testAsyncClose',
    tag: 'webrtc',
    summary: 'Test route: set up a real loopback pair, close it in the background, answer 202',
    body: { json: emptyBody },
    responses: {
      202: {
        description: 'The close runs in the background; poll Location',
        json: acceptedSchema.extend({ connection_id: z.string(), server_id: z.string(), setup_operation_id: z.string() }),
        headers: { Location: 'The operation' },
      },
    },
    errors: [...bodyErrors, 'UNAVAILABLE', ...operationErrors],
  },
};
