// Viewer-side telemetry over HTTP: a whole rtcstats dump in one request (the
// live protocol is the WebSocket, src/http/rtcstatsSocket.ts). The dump is
// translated and validated whole before anything is appended.
import Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../app.ts';
import { AppError } from '../../errors.ts';
import { appendDump, parseRtcstatsDump, translateRtcstatsDump } from '../../telemetry/dump.ts';
import { RTCSTATS_PATH } from '../rtcstatsSocket.ts';
import type { ApiSpec } from '../openapi/spec.ts';

export function telemetryRouter(services: Services): Router {
  const { config, store } = services;
  const router = new Router({ prefix: RTCSTATS_PATH });
  router.post('/dump', async (ctx) => {
    if (!ctx.is('application/x-ndjson', 'application/jsonl')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the dump as application/x-ndjson (one JSON array per line)');
    }
    const body = (ctx.request as { body?: unknown }).body;
    if (typeof body !== 'string' || body.length === 0) throw new AppError('BAD_REQUEST', 'the body must be an rtcstats dump');
    const parsed = parseRtcstatsDump(body);
    const imported = await translateRtcstatsDump(
      parsed,
      { source: 'rtcstats_dump', meeting: null, userAgent: ctx.get('user-agent').slice(0, 500) || null, obfuscateIps: config.obfuscateIps, maxPeers: config.telemetryMaxPeers },
      (key) => store.connectionNegotiatedWith(key.field, key.key),
    );
    const result = await appendDump(store, imported);
    ctx.status = 201;
    ctx.body = { session_id: imported.sessionId, streams: result.streams, events: result.events };
  });
  return router;
}

export const telemetryApi: ApiSpec = {
  [`POST ${RTCSTATS_PATH}/dump`]: {
    operationId: 'importRtcstatsDump',
    tag: 'telemetry',
    summary: 'Append a whole rtcstats dump (one JSON array per line) as client streams',
    description:
      'The same translation as the rtcstats WebSocket at ' + RTCSTATS_PATH + ' (live: identity, stats-entry with delta-compressed getStats, keepalive). ' +
      'The whole dump is validated before anything is written; a session imported twice is 409.',
    body: { media: 'application/x-ndjson', description: 'An rtcstats dump: optional `RTCStatsDump` and metadata lines, then [method, pc id, value, time] per line' },
    responses: {
      201: {
        description: 'Appended',
        json: z.object({ session_id: z.string(), streams: z.array(z.string()), events: z.number().int() }),
      },
    },
    errors: ['BAD_REQUEST', 'UNAUTHORIZED', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED', 'UNAVAILABLE'],
  },
};
