// WHEP (draft-ietf-wish-whep) signaling: the viewer POSTs an SDP offer and
// gets 201 with the answer (non-trickle: every candidate is in it) and a
// session Location; DELETE on the Location hangs up, recorded as a close
// initiated by the remote side. Offers are bounded (src/webrtc/offerLimits.ts)
// before werift sees them.
import Router from '@koa/router';
import type { Services } from '../app.ts';
import { AppError, notFound } from '../../errors.ts';
import { answerAccepted, failure, origin, waitBounded } from '../respond.ts';
import type { WebRtcService } from '../../webrtc/service.ts';
import { z } from 'zod';
import { acceptedSchema } from '../openapi/components.ts';
import type { ApiSpec } from '../openapi/spec.ts';

export const WHEP_PREFIX = '/api/v0/mcp/webrtc/whep';
export const sessionPath = (serverId: string, connectionId: string) => `${WHEP_PREFIX}/${serverId}/sessions/${connectionId}`;

export function whepRouter(services: Services, webrtc: WebRtcService): Router {
  const bound = services.config.operationTimeoutMs;
  const router = new Router({ prefix: WHEP_PREFIX });

  router.post('/:server_id', async (ctx) => {
    const serverId = ctx.params.server_id;
    webrtc.getStream(serverId); // 404 before reading anything else
    if (!ctx.is('application/sdp')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the offer as application/sdp');
    const sdp = (ctx.request as { body?: unknown }).body;
    if (typeof sdp !== 'string' || sdp.length === 0) throw new AppError('BAD_REQUEST', 'the body must be an SDP offer');
    const { started, connectionId, answer } = await webrtc.connect(serverId, sdp, origin(ctx));
    const location = sessionPath(serverId, connectionId);
    // No 202 here: a WHEP client needs the answer and can do nothing with an
    // operation to poll. The operation's own deadline (--operation-timeout)
    // bounds the wait: past it the negotiation is abandoned and the viewer
    // gets 504 TIMEOUT, with the operation on the record.
    const outcome = await started.outcome;
    if (outcome.status !== 'completed') throw failure(outcome);
    const sdpAnswer = answer();
    if (!sdpAnswer) throw new AppError('WEBRTC_ERROR', 'the operation completed without an answer');
    ctx.status = 201;
    ctx.type = 'application/sdp';
    ctx.set('Location', location);
    ctx.set('X-Operation-Id', outcome.operationId);
    ctx.body = sdpAnswer;
  });

  router.delete('/:server_id/sessions/:connection_id', async (ctx) => {
    const { server_id: serverId, connection_id: connectionId } = ctx.params;
    const peer = webrtc.registry.peers.get(connectionId);
    if (!peer || peer.serverId !== serverId) throw notFound('WHEP session', connectionId);
    const started = await webrtc.closeConnection(connectionId, 'remote', 'whep_delete', origin(ctx));
    const outcome = await waitBounded(started, bound);
    if (!outcome) return answerAccepted(ctx, started.operationId, { connection_id: connectionId });
    if (outcome.status !== 'completed') throw failure(outcome);
    ctx.status = 204;
  });

  return router;
}

// ---- OpenAPI ----------------------------------------------------------------

export const whepApi: ApiSpec = {
  [`POST ${WHEP_PREFIX}/:server_id`]: {
    operationId: 'whepOffer',
    tag: 'webrtc',
    summary: 'WHEP: POST an SDP offer, get 201 with the SDP answer (all candidates) and the session Location',
    description:
      'Offers are bounded before werift sees them: at most 64 KiB (413), 1,000 lines, 8 media sections, 50 candidates and 16 rids (400). ' +
      'Never 202: past --operation-timeout the answer is 504 TIMEOUT, with the operation on the record.',
    params: { server_id: 'The stream' },
    body: { media: 'application/sdp', description: 'The SDP offer' },
    responses: {
      201: {
        description: 'The SDP answer',
        media: { type: 'application/sdp' },
        headers: { Location: 'The session: DELETE it to hang up', 'X-Operation-Id': 'The connect operation' },
      },
    },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED', 'UNAVAILABLE', 'SHUTTING_DOWN', 'TIMEOUT', 'WEBRTC_ERROR'],
  },
  [`DELETE ${WHEP_PREFIX}/:server_id/sessions/:connection_id`]: {
    operationId: 'whepHangUp',
    tag: 'webrtc',
    summary: 'WHEP: end the session (recorded as a close with initiator `remote`)',
    params: { server_id: 'The stream', connection_id: 'The connection' },
    responses: {
      204: { description: 'Closed' },
      202: { description: 'Accepted and still running; poll Location.', json: acceptedSchema.extend({ connection_id: z.string() }), headers: { Location: 'The operation' } },
    },
    errors: ['NOT_FOUND', 'SHUTTING_DOWN', 'WEBRTC_ERROR'],
  },
};
