// The live connections: a viewer's offer becomes a server peer (the connect
// operation), and every action on a peer (close one, close all, change its
// quality) runs through the operation runner. An offer is checked before an
// operation starts (bad input is a 4xx and leaves nothing in the log); what
// can only fail by trying (werift refusing the offer) fails the operation.
import { randomUUID } from 'node:crypto';
import { AppError, unavailable } from '../errors.ts';
import type { OperationContext, Started } from '../operations/runner.ts';
import type { WebRtcContext, Origin } from './context.ts';
import { PEER_RETRY_AFTER_S, type LiveStream } from './registry.ts';
import { ServerPeer } from './serverPeer.ts';
import { livenessSettings } from './liveness.ts';
import { mediaKinds } from './sdpFixes.ts';
import { checkOfferLimits } from './offerLimits.ts';
import { checkOfferCodecs } from './offerCodecs.ts';
import type { Exchange } from './viewer.ts';
import type { Quality } from './quality.ts';

/** A peer that has not connected this long after its answer is closed (initiator `ice`). */
export const CONNECT_TIMEOUT_MS = 30_000;

export class Connections {
  /** Aborted (and replaced) when the process runs out of descriptors: negotiations in flight stop at once. */
  private exhaustion = new AbortController();
  /** Times the process ran out of descriptors (EMFILE/ENFILE) opening a peer's sockets. */
  resourceExhaustions = 0;
  private readonly connectTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly ctx: WebRtcContext) {}

  /**
   * The process ran out of file descriptors (reported by the process guard:
   * werift binds its sockets with no 'error' listener). Negotiations in
   * flight fail with a 503 and their peers are closed, freeing what they held.
   */
  resourcesExhausted(err: unknown) {
    this.resourceExhaustions++;
    const code = (err as { code?: string }).code ?? 'EMFILE';
    const previous = this.exhaustion;
    this.exhaustion = new AbortController();
    previous.abort(unavailable('UNAVAILABLE', `the server ran out of file descriptors (${code}) opening a connection; retry later`, PEER_RETRY_AFTER_S));
  }

  /** Checks an offer can be tried at all, before anything is recorded. */
  checkOffer(stream: LiveStream, sdp: string) {
    if (!/^v=0\r?\n/.test(sdp)) throw new AppError('BAD_REQUEST', 'the body is not an SDP offer (it must start with v=0)');
    checkOfferLimits(sdp);
    const kinds = mediaKinds(sdp);
    if (kinds.length === 0) throw new AppError('BAD_REQUEST', 'the SDP offer has no m= line');
    if (stream.mode === 'media' && !kinds.some((k) => k === 'audio' || k === 'video')) {
      throw new AppError('VALIDATION_FAILED', 'a media stream needs an offer with an audio or video m-section');
    }
    if (stream.mode === 'data' && !kinds.includes('application')) {
      throw new AppError('VALIDATION_FAILED', 'a data stream needs an offer with a data channel (m=application)');
    }
    if (stream.mode === 'media' && stream.codecs) checkOfferCodecs(sdp, stream.codecs);
  }

  /**
   * A viewer's offer: creates the server peer and answers. The answer SDP is
   * handed back through `answer()` rather than the operation result, so the
   * log keeps the outcome, not a few KB of SDP per connection.
   */
  async connect(serverId: string, offerSdp: string, origin: Origin = {}) {
    const { config, runner, registry, gate } = this.ctx;
    gate.check();
    const stream = registry.requireStream(serverId);
    this.checkOffer(stream, offerSdp);
    // Taken before anything is awaited, so concurrent connects cannot all
    // pass the cap; it becomes the peer, or is released below.
    const slot = registry.reservePeer();
    const connectionId = randomUUID();
    const operationId = randomUUID();
    let answer: string | null = null;
    let started: Started<{ connection_id: string; server_id: string }>;
    try {
      started = await runner.start(
        'connect',
        { server_id: serverId, connection_id: connectionId, remote: origin.remote ?? null },
        async (op) => {
          try {
            gate.check();
            const peer = new ServerPeer(
              stream,
              {
                log: this.ctx.log,
                logger: this.ctx.logger,
                iceAdditionalHostAddresses: config.iceAdditionalHostAddresses,
                liveness: livenessSettings(config),
                onClosed: (p) => this.forget(p),
                resourceSignal: () => this.exhaustion.signal,
              },
              { id: connectionId, operationId, remote: origin.remote, userAgent: origin.userAgent },
            );
            registry.addPeer(peer, slot);
            try {
              await peer.recordCreated();
              answer = await op.task('negotiate', (signal) => peer.answer(offerSdp, signal));
            } catch (err) {
              // A failure, and the connection says why (its outcome is `failed`, not a clean close).
              await peer.recordFailure('NEGOTIATION_FAILED', err instanceof Error ? err.message : String(err));
              await peer.close('local', 'negotiation_failed', { operation_id: operationId });
              throw err;
            }
            this.armConnectTimeout(peer);
            return { connection_id: connectionId, server_id: serverId };
          } finally {
            slot.release();
          }
        },
        { connectionId, serverId, requestId: origin.requestId, operationId },
      );
    } catch (err) {
      slot.release();
      throw err;
    }
    return { started, connectionId, answer: () => answer };
  }

  async close(connectionId: string, initiator: 'local' | 'remote', reason: string, origin: Origin = {}) {
    const peer = this.ctx.registry.requirePeer(connectionId);
    return this.ctx.runner.start(
      initiator === 'remote' ? 'whep_delete' : 'connection_close',
      { connection_id: connectionId, reason },
      async (op) => {
        const { closedNow } = await op.task('close', () => peer.close(initiator, reason, { operation_id: op.operationId }));
        return { connection_id: connectionId, closed: closedNow };
      },
      { connectionId, serverId: peer.serverId, requestId: origin.requestId },
    );
  }

  /**
   * An ICE restart the viewer asked for (WHEP PATCH): an operation, like
   * every action on a peer. The new local description is handed back through
   * `local()` (it is the viewer's to have, not the log's).
   */
  async restartIce(connectionId: string, ice: { ufrag: string; pwd: string }, candidates: string[], origin: Origin = {}) {
    this.ctx.gate.check();
    const peer = this.ctx.registry.requirePeer(connectionId);
    let local: string | null = null;
    const started = await this.ctx.runner.start(
      'ice_restart',
      { connection_id: connectionId, candidates: candidates.length },
      async (op) => {
        local = await op.task('restart ice', (signal) => peer.restartIce(ice, candidates, signal), { connectionId });
        return { connection_id: connectionId, restarted: true };
      },
      { connectionId, serverId: peer.serverId, requestId: origin.requestId },
    );
    return { started, local: () => local };
  }

  async closeAll(origin: Origin = {}) {
    const { registry } = this.ctx;
    return this.ctx.runner.start(
      'close_all',
      { open: registry.peers.size },
      async (op) => {
        const closed = await this.closePeers(op, [...registry.peers.values()], 'local', 'close_all');
        return { closed: closed.length, connection_ids: closed };
      },
      { requestId: origin.requestId },
    );
  }

  async setQuality(connectionId: string, quality: Quality, origin: Origin = {}) {
    this.ctx.gate.check();
    const peer = this.ctx.registry.requirePeer(connectionId);
    return this.ctx.runner.start(
      'quality',
      { connection_id: connectionId, quality },
      async (op) => {
        const from = peer.quality;
        await op.task('apply quality', () => peer.setQuality(quality, { operation_id: op.operationId }));
        return { connection_id: connectionId, from, to: quality, mode: peer.spec.mode };
      },
      { connectionId, serverId: peer.serverId, requestId: origin.requestId },
    );
  }

  /** Closes peers as tasks of `op`, one each; returns the ids this call actually closed. */
  async closePeers(op: OperationContext, peers: ServerPeer[], initiator: 'local' | 'shutdown', reason: string) {
    const results = await Promise.all(
      peers.map((peer) =>
        op.task('close', () => peer.close(initiator, reason, { operation_id: op.operationId }), { connectionId: peer.id }).then(
          (r) => (r.closedNow ? peer.id : null),
        ),
      ),
    );
    return results.filter((id): id is string => id !== null);
  }

  /** An Exchange that goes straight to `connect`, for viewers in this process. */
  inProcessExchange(serverId: string, origin: Origin): Exchange {
    return async (offerSdp) => {
      const { started, connectionId, answer } = await this.connect(serverId, offerSdp, origin);
      const outcome = await started.outcome;
      const sdp = answer();
      if (outcome.status !== 'completed' || !sdp) {
        throw new Error(outcome.status === 'completed' ? 'no answer' : `${outcome.error.code}: ${outcome.error.message}`);
      }
      return {
        answerSdp: sdp,
        connectionId,
        hangUp: async () => {
          if (!this.ctx.registry.peers.has(connectionId)) return;
          const close = await this.close(connectionId, 'remote', 'viewer_left', origin);
          await close.outcome;
        },
      };
    };
  }

  /** Stops every connect timer (shutdown: the peers are closed by then). */
  clearTimers() {
    for (const timer of this.connectTimers.values()) clearTimeout(timer);
    this.connectTimers.clear();
  }

  private armConnectTimeout(peer: ServerPeer) {
    if (peer.connectedAt || peer.isClosing) return;
    const timer = setTimeout(() => {
      this.connectTimers.delete(peer.id);
      if (!peer.connectedAt && !peer.isClosing) {
        void peer.recordFailure('CONNECT_TIMEOUT', `not connected ${CONNECT_TIMEOUT_MS} ms after the answer`);
        void peer.close('ice', 'connect_timeout');
      }
    }, CONNECT_TIMEOUT_MS);
    timer.unref();
    this.connectTimers.set(peer.id, timer);
  }

  private forget(peer: ServerPeer) {
    this.ctx.registry.removePeer(peer);
    const timer = this.connectTimers.get(peer.id);
    if (timer) clearTimeout(timer);
    this.connectTimers.delete(peer.id);
  }
}
