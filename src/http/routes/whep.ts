// WHEP (draft-ietf-wish-whep, whose mechanics are WHIP's, RFC 9725) signaling:
// the viewer POSTs an SDP offer and gets 201 with the answer (every server
// candidate is in it), a session Location, the session's entity-tag (ETag)
// and the configured ICE servers as `Link: <url>; rel="ice-server"`; PATCH on
// the Location with an `application/trickle-ice-sdpfrag` body trickles the
// viewer's candidates (204) or, with new ICE credentials, restarts ICE (200
// with the server's new credentials and candidates, and a new ETag); DELETE
// hangs up, recorded as a close initiated by the remote side. Offers are
// bounded (src/webrtc/offerLimits.ts) and checked against what the stream
// can send (406 CODEC_NOT_SUPPORTED) before werift sees them.
import Router from '@koa/router';
import type { Services } from '../app.ts';
import { AppError, notFound } from '../../errors.ts';
import { answerAccepted, failure, origin, waitBounded } from '../respond.ts';
import type { WebRtcService } from '../../webrtc/service.ts';
import type { ServerPeer } from '../../webrtc/serverPeer.ts';
import { parseSdpFrag, restartAnswerFrag } from '../../webrtc/sdpFrag.ts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { acceptedSchema } from '../openapi/components.ts';
import type { ApiSpec } from '../openapi/spec.ts';

export const WHEP_PREFIX = '/api/v0/mcp/webrtc/whep';
const SDPFRAG = 'application/trickle-ice-sdpfrag';

/**
 * The session's entity-tag: it names the ICE session (the server's current
 * credentials), so it changes with every ICE restart and only then.
 */
export function sessionTag(peer: ServerPeer): string {
  const ice = peer.localIce;
  return `"${createHash('sha256').update(ice ? `${ice.ufrag}:${ice.pwd}` : peer.id).digest('base64url').slice(0, 22)}"`;
}

/** The strong entity-tags of an If-Match list (weak ones never match a strong comparison, RFC 9110 section 8.8.3.2). */
const entityTags = (header: string) => header.split(',').map((t) => t.trim()).filter((t) => t.startsWith('"'));

/**
 * `Link: <url>; rel="ice-server"` for each ICE server (RFC 9725 section 4.6),
 * so a player uses the same STUN/TURN servers as the stream's peers. URLs
 * with credentials are never handed out (the configuration takes bare URLs).
 */
export function iceServerLinks(iceServers: readonly string[]): string[] {
  return iceServers.filter((url) => /^(stun|stuns|turn|turns):[^\s<>@]+$/.test(url)).map((url) => `<${url}>; rel="ice-server"`);
}
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
    const peer = webrtc.registry.peers.get(connectionId);
    if (peer) ctx.set('ETag', sessionTag(peer));
    ctx.set('Accept-Patch', SDPFRAG);
    const links = iceServerLinks(webrtc.getStream(serverId).iceServers);
    if (links.length) ctx.set('Link', links);
    ctx.body = sdpAnswer;
  });

  // Without a preflight (CORS answers those in src/http/cors.ts): what the
  // endpoint takes.
  router.options('/:server_id', (ctx) => {
    webrtc.getStream(ctx.params.server_id);
    ctx.set('Allow', 'OPTIONS, POST');
    ctx.set('Accept-Post', 'application/sdp');
    ctx.status = 204;
  });
  router.options('/:server_id/sessions/:connection_id', (ctx) => {
    sessionPeer(ctx.params.server_id, ctx.params.connection_id);
    ctx.set('Allow', 'OPTIONS, PATCH, DELETE');
    ctx.set('Accept-Patch', SDPFRAG);
    ctx.status = 204;
  });

  /** The live peer of a session, or 404. */
  const sessionPeer = (serverId: string, connectionId: string) => {
    const peer = webrtc.registry.peers.get(connectionId);
    if (!peer || peer.serverId !== serverId) throw notFound('WHEP session', connectionId);
    return peer;
  };

  // Trickle ICE and ICE restart (RFC 9725 section 4.3, which WHEP follows).
  router.patch('/:server_id/sessions/:connection_id', async (ctx) => {
    const { server_id: serverId, connection_id: connectionId } = ctx.params;
    const peer = sessionPeer(serverId, connectionId);
    if (!ctx.is(SDPFRAG)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `send trickle candidates and ICE restarts as ${SDPFRAG} (RFC 8840)`);
    const body = (ctx.request as { body?: unknown }).body;
    const frag = parseSdpFrag(typeof body === 'string' ? body : '');
    const remote = peer.remoteIce;
    const restart = frag.ufrag !== null && frag.pwd !== null && (frag.ufrag !== remote?.ufrag || frag.pwd !== remote?.pwd);
    // If-Match: an ICE restart needs it (the session's ETag, or *); a trickle
    // is checked when it sends one. RFC 9725 asks trickling clients to send
    // it too, but widely used ones do not (medooze's whip-whep keeps the ETag
    // only from a restart), and a trickle names its ICE session anyway: a
    // fragment with other credentials is a restart, never applied as candidates.
    const ifMatch = ctx.get('if-match').trim();
    const current = sessionTag(peer);
    if (!ifMatch && restart) throw new AppError('PRECONDITION_REQUIRED', "an ICE restart needs If-Match: the session's ETag (from the 201 or the last restart), or *");
    if (ifMatch && ifMatch !== '*' && !entityTags(ifMatch).includes(current)) {
      throw new AppError('PRECONDITION_FAILED', `If-Match does not name the session's current entity-tag (${current}): the ICE session was restarted since`);
    }
    if (!restart) {
      await peer.addRemoteCandidates(
        frag.media.flatMap((m) => m.candidates.map((candidate) => ({ mid: m.mid, candidate }))),
        frag.endOfCandidates || frag.media.some((m) => m.endOfCandidates),
      );
      ctx.set('ETag', current);
      ctx.status = 204;
      return;
    }
    const { started, local } = await webrtc.restartIce(connectionId, { ufrag: frag.ufrag!, pwd: frag.pwd! }, frag.media.flatMap((m) => m.candidates), origin(ctx));
    // Like the offer, never 202: the viewer needs the new credentials now.
    const outcome = await started.outcome;
    if (outcome.status !== 'completed') throw failure(outcome);
    const sdp = local();
    if (!sdp) throw new AppError('WEBRTC_ERROR', 'the ICE restart completed without a local description');
    ctx.status = 200;
    ctx.type = SDPFRAG;
    ctx.set('ETag', sessionTag(peer));
    ctx.set('X-Operation-Id', outcome.operationId);
    ctx.body = restartAnswerFrag(sdp);
  });

  router.delete('/:server_id/sessions/:connection_id', async (ctx) => {
    const { server_id: serverId, connection_id: connectionId } = ctx.params;
    sessionPeer(serverId, connectionId);
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
        headers: {
          Location: 'The session: PATCH it (trickle ICE, ICE restart), DELETE it to hang up',
          ETag: "The session's entity-tag: send it in If-Match with a PATCH",
          'Accept-Patch': SDPFRAG,
          Link: 'Each configured ICE server: `<url>; rel="ice-server"` (absent when none is configured)',
          'X-Operation-Id': 'The connect operation',
        },
      },
    },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'CODEC_NOT_SUPPORTED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED', 'UNAVAILABLE', 'SHUTTING_DOWN', 'TIMEOUT', 'WEBRTC_ERROR'],
  },
  [`OPTIONS ${WHEP_PREFIX}/:server_id`]: {
    operationId: 'whepEndpointOptions',
    tag: 'webrtc',
    summary: 'WHEP: what the endpoint takes (a CORS preflight from a --cors-origin page is answered before this)',
    params: { server_id: 'The stream' },
    responses: { 204: { description: 'Allow and Accept-Post', headers: { Allow: 'OPTIONS, POST', 'Accept-Post': 'application/sdp' } } },
    errors: ['NOT_FOUND'],
  },
  [`PATCH ${WHEP_PREFIX}/:server_id/sessions/:connection_id`]: {
    operationId: 'whepPatch',
    tag: 'webrtc',
    summary: 'WHEP: trickle ICE candidates (204), or restart ICE with new credentials (200 with the server\'s new ones)',
    description:
      'The body is an SDP fragment (RFC 8840). If-Match names the ETag of the 201 or of the last restart (412 when stale), or * for an ICE restart; an ICE restart without it is 428, a trickle without it is taken (its credentials, when it sends them, must be the session\'s). ' +
      'A fragment whose ice-ufrag/ice-pwd differ from the session\'s is an ICE restart: the answer is a fragment with the server\'s new credentials and candidates, and a new ETag. Never 202.',
    params: { server_id: 'The stream', connection_id: 'The connection' },
    headers: [{ name: 'If-Match', description: 'The session\'s ETag, or * for an ICE restart (required for a restart)', schema: z.string().max(200) }],
    body: { media: SDPFRAG, description: 'Candidates (a=candidate, a=end-of-candidates) per media section (m=, a=mid), and for an ICE restart new a=ice-ufrag / a=ice-pwd' },
    responses: {
      200: { description: 'ICE restarted', media: { type: SDPFRAG }, headers: { ETag: 'The new entity-tag', 'X-Operation-Id': 'The ice_restart operation' } },
      204: { description: 'Candidates taken', headers: { ETag: 'The entity-tag (unchanged)' } },
    },
    errors: ['BAD_REQUEST', 'NOT_FOUND', 'CONFLICT', 'PRECONDITION_FAILED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED', 'PRECONDITION_REQUIRED', 'SHUTTING_DOWN', 'TIMEOUT', 'WEBRTC_ERROR'],
  },
  [`OPTIONS ${WHEP_PREFIX}/:server_id/sessions/:connection_id`]: {
    operationId: 'whepSessionOptions',
    tag: 'webrtc',
    summary: 'WHEP: what a session takes',
    params: { server_id: 'The stream', connection_id: 'The connection' },
    responses: { 204: { description: 'Allow and Accept-Patch', headers: { Allow: 'OPTIONS, PATCH, DELETE', 'Accept-Patch': SDPFRAG } } },
    errors: ['NOT_FOUND'],
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
