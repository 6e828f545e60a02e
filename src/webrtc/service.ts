// The WebRTC service: streams, live peers and every action on them, each run
// through the operation runner so it appears in the log with its tasks and
// outcome. Input is checked before an operation starts (bad input is a 4xx
// and leaves nothing in the log); what can only fail by trying (werift
// refusing an offer, a file that will not play) fails the operation.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { defaultPeerConfig } from 'werift';
import type { getUserMedia } from 'werift/nonstandard';
import { loadFilePlayer } from './filePlayer.ts';
import type { Config } from '../config.ts';
import type { EventLog } from '../log/append.ts';
import { streamName } from '../log/catalogue.ts';
import { AppError, notFound, unavailable } from '../errors.ts';
import type { OperationContext, OperationRunner, Started } from '../operations/runner.ts';
import { describeDir, resolveContent, type ContentItem } from './content.ts';
import { PEER_RETRY_AFTER_S, Registry, type LiveStream } from './registry.ts';
import { peerBudget, type PeerBudget } from './admission.ts';
import { ServerPeer, type StreamCodecs, type StreamMode } from './serverPeer.ts';
import { checkOfferCodecs } from './offerCodecs.ts';
import { StatsSampler } from './statsSampler.ts';
import { LivenessWatchdog } from './watchdog.ts';
import { serverPeerConfig } from './peerConfig.ts';
import { ResourceMonitor } from './resources.ts';
import { openViewer, type Exchange, type Viewer } from './viewer.ts';
import { mediaKinds } from './sdpFixes.ts';
import { checkOfferLimits } from './offerLimits.ts';
import type { Quality } from './quality.ts';
import { runBenchmark, type BenchmarkResult } from './benchmark.ts';

export type ServiceDeps = {
  config: Config;
  log: EventLog;
  runner: OperationRunner;
  logger: Logger;
  /** HTTP connections the server admits (their descriptors are not the peers'); 0 when unknown. */
  httpConnections?: number;
};

/** A peer that has not connected this long after its answer is closed (initiator `ice`). */
export const CONNECT_TIMEOUT_MS = 30_000;
export const MAX_BENCHMARK_SECONDS = 60;

export type StreamRequest = { content: string; quality: Quality; mode: StreamMode; iceServers?: string[]; viewerTokenSha256?: string | null };
export type StreamResult = { server_id: string; content: string; sha256: string; mode: StreamMode; quality: Quality };
export type Origin = { remote?: string; userAgent?: string; requestId?: string };

const require = createRequire(import.meta.url);

export class WebRtcService {
  readonly registry: Registry;
  readonly budget: PeerBudget;
  readonly resources = new ResourceMonitor();
  /** Aborted (and replaced) when the process runs out of descriptors: negotiations in flight stop at once. */
  private exhaustion = new AbortController();
  /** Times the process ran out of descriptors (EMFILE/ENFILE) opening a peer's sockets. */
  resourceExhaustions = 0;
  private readonly sampler: StatsSampler;
  private readonly watchdog: LivenessWatchdog;
  private readonly connectTimers = new Map<string, NodeJS.Timeout>();
  private readonly benchmarks = new Set<string>();
  private readonly testViewers = new Set<Viewer>();
  /**
   * Set at the start of shutdown: no stream, peer or benchmark starts after
   * it, so nothing appears after shutdown took its list of what to close
   * (work already running when it is set fails instead of adding state).
   */
  private stopping = false;

  constructor(private readonly deps: ServiceDeps) {
    this.budget = peerBudget({
      configured: deps.config.maxPeers,
      httpConnections: deps.httpConnections ?? 0,
      additionalHostAddresses: deps.config.iceAdditionalHostAddresses,
    });
    this.registry = new Registry(this.budget.maxPeers);
    this.sampler = new StatsSampler(this.registry, deps.config.statsIntervalMs);
    this.watchdog = new LivenessWatchdog(this.registry, this.livenessSettings);
  }

  private get livenessSettings() {
    return { stallAfterMs: this.deps.config.stallAfterMs, consentTimeoutMs: this.deps.config.consentTimeoutMs };
  }

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

  start() {
    this.sampler.start();
    this.watchdog.start();
  }

  // ---- check ------------------------------------------------------------

  /** Every field derived from the running configuration and the installed werift, none written in. */
  async check() {
    const config = this.deps.config;
    const content = await describeDir(config.contentDir);
    const codec = (c: { mimeType: string; clockRate: number; channels?: number; payloadType?: number }) => ({
      mime_type: c.mimeType,
      clock_rate: c.clockRate,
      ...(c.channels ? { channels: c.channels } : {}),
    });
    // The configuration a server peer is built with, as ServerPeer builds it.
    const peer = serverPeerConfig({ iceServers: config.iceServers, iceAdditionalHostAddresses: config.iceAdditionalHostAddresses });
    return {
      webrtc: {
        library: 'werift',
        version: weriftVersion(),
        node: process.version,
        codecs: {
          audio: (defaultPeerConfig.codecs.audio ?? []).map(codec),
          video: (defaultPeerConfig.codecs.video ?? []).map(codec),
        },
        // What werift's file player (getUserMedia) packetizes: read from the installed werift.
        playable_source_codecs: playableSourceCodecs(),
        ice: {
          lite: peer.iceLite === true,
          bundle_policy: peer.bundlePolicy ?? null,
          servers: config.iceServers,
          additional_host_addresses: config.iceAdditionalHostAddresses,
        },
        liveness: {
          stall_after_ms: config.stallAfterMs,
          consent_timeout_ms: config.consentTimeoutMs,
          watchdog_tick_ms: this.watchdog.tickMs,
        },
        stats_interval_ms: config.statsIntervalMs,
      },
      content: {
        // The directory's name, not its absolute path: the layout of the
        // host's file system is not a client's business.
        directory: basename(content.path),
        exists: content.exists,
        readable: content.readable,
        ...(content.error ? { error: content.error } : {}),
        files: content.items.map((i) => ({ name: i.name, size: i.size, sha256: i.sha256, media: i.media })),
      },
      live: { streams: this.registry.streams.size, connections: this.registry.peers.size },
    };
  }

  // ---- streams ----------------------------------------------------------

  async startStream(request: StreamRequest, origin: Origin = {}): Promise<Started<StreamResult> & { serverId: string }> {
    this.refuseWhenStopping();
    const content = await this.contentFor(request.content, request.mode);
    const serverId = randomUUID();
    const params = { content: content.name, sha256: content.sha256, mode: request.mode, quality: request.quality };
    const started = await this.deps.runner.start(
      'stream',
      { ...params, ice_servers: request.iceServers ?? null },
      async (ctx) => {
        const probed = request.mode === 'media' ? await ctx.task('probe media', () => probeMedia(content.path)) : null;
        await this.openStream(ctx, {
          serverId,
          content,
          mode: request.mode,
          quality: request.quality,
          iceServers: request.iceServers ?? this.deps.config.iceServers,
          viewerTokenSha256: request.viewerTokenSha256 ?? null,
          codecs: probed?.codecs ?? null,
          createdAt: Date.now(),
        });
        return { server_id: serverId, ...params };
      },
      { serverId, requestId: origin.requestId },
    );
    return { ...started, serverId };
  }

  getStream(serverId: string): LiveStream {
    const stream = this.registry.streams.get(serverId);
    if (!stream) throw notFound('stream', serverId);
    return stream;
  }

  async stopStream(serverId: string, origin: Origin = {}) {
    const stream = this.getStream(serverId);
    // Gone at once, so no viewer joins while its peers are being closed.
    this.registry.streams.delete(serverId);
    try {
      return await this.deps.runner.start(
        'stream_stop',
        { server_id: serverId },
        async (ctx) => {
          const peers = this.registry.peersOf(serverId);
          const closed = await this.closePeers(ctx, peers, 'local', 'stream_stopped');
          await this.deps.log.append(
            streamName('server', serverId),
            [{ type: 'server.stopped', data: { server_id: serverId, reason: 'stopped' } }],
            { meta: { operation_id: ctx.operationId } },
          );
          return { server_id: serverId, closed: closed.length, connection_ids: closed };
        },
        { serverId, requestId: origin.requestId },
      );
    } catch (err) {
      this.registry.streams.set(serverId, stream);
      throw err;
    }
  }

  // ---- connections ------------------------------------------------------

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
    this.refuseWhenStopping();
    const stream = this.getStream(serverId);
    this.checkOffer(stream, offerSdp);
    // Taken before anything is awaited, so concurrent connects cannot all
    // pass the cap; it becomes the peer, or is released below.
    const slot = this.registry.reservePeer();
    const connectionId = randomUUID();
    const operationId = randomUUID();
    let answer: string | null = null;
    let started: Started<{ connection_id: string; server_id: string }>;
    try {
      started = await this.deps.runner.start(
        'connect',
        { server_id: serverId, connection_id: connectionId, remote: origin.remote ?? null },
        async (ctx) => {
          try {
            this.refuseWhenStopping();
            const peer = new ServerPeer(
              stream,
              {
                log: this.deps.log,
                logger: this.deps.logger,
                iceAdditionalHostAddresses: this.deps.config.iceAdditionalHostAddresses,
                liveness: this.livenessSettings,
                onClosed: (p) => this.forget(p),
                resourceSignal: () => this.exhaustion.signal,
              },
              { id: connectionId, operationId, remote: origin.remote, userAgent: origin.userAgent },
            );
            this.registry.addPeer(peer, slot);
            try {
              await peer.recordCreated();
              answer = await ctx.task('negotiate', (signal) => peer.answer(offerSdp, signal));
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

  getPeer(connectionId: string): ServerPeer {
    const peer = this.registry.peers.get(connectionId);
    if (!peer) throw notFound('live connection', connectionId);
    return peer;
  }

  async closeConnection(connectionId: string, initiator: 'local' | 'remote', reason: string, origin: Origin = {}) {
    const peer = this.getPeer(connectionId);
    return this.deps.runner.start(
      initiator === 'remote' ? 'whep_delete' : 'connection_close',
      { connection_id: connectionId, reason },
      async (ctx) => {
        const { closedNow } = await ctx.task('close', () => peer.close(initiator, reason, { operation_id: ctx.operationId }));
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
    this.refuseWhenStopping();
    const peer = this.getPeer(connectionId);
    let local: string | null = null;
    const started = await this.deps.runner.start(
      'ice_restart',
      { connection_id: connectionId, candidates: candidates.length },
      async (ctx) => {
        local = await ctx.task('restart ice', (signal) => peer.restartIce(ice, candidates, signal), { connectionId });
        return { connection_id: connectionId, restarted: true };
      },
      { connectionId, serverId: peer.serverId, requestId: origin.requestId },
    );
    return { started, local: () => local };
  }

  async closeAll(origin: Origin = {}) {
    return this.deps.runner.start(
      'close_all',
      { open: this.registry.peers.size },
      async (ctx) => {
        const closed = await this.closePeers(ctx, [...this.registry.peers.values()], 'local', 'close_all');
        return { closed: closed.length, connection_ids: closed };
      },
      { requestId: origin.requestId },
    );
  }

  async setQuality(connectionId: string, quality: Quality, origin: Origin = {}) {
    this.refuseWhenStopping();
    const peer = this.getPeer(connectionId);
    return this.deps.runner.start(
      'quality',
      { connection_id: connectionId, quality },
      async (ctx) => {
        const from = peer.quality;
        await ctx.task('apply quality', () => peer.setQuality(quality, { operation_id: ctx.operationId }));
        return { connection_id: connectionId, from, to: quality, mode: peer.spec.mode };
      },
      { connectionId, serverId: peer.serverId, requestId: origin.requestId },
    );
  }

  // ---- benchmark and the async-close test -------------------------------

  async benchmark(request: { content: string; mode: StreamMode; quality: Quality; durationS: number; viewers: number }, origin: Origin = {}) {
    this.refuseWhenStopping();
    const max = this.deps.config.maxBenchmarkViewers;
    if (request.viewers > max) throw new AppError('VALIDATION_FAILED', `viewers must be at most ${max} (config maxBenchmarkViewers)`);
    if (request.durationS > MAX_BENCHMARK_SECONDS) throw new AppError('VALIDATION_FAILED', `duration_s must be at most ${MAX_BENCHMARK_SECONDS}`);
    // Each viewer is a server peer and an in-process viewer peer, both in this process.
    if (this.registry.availablePeers < 2 * request.viewers) {
      throw unavailable('UNAVAILABLE', `not enough connection slots left for ${request.viewers} viewers (${this.registry.availablePeers} free)`, PEER_RETRY_AFTER_S);
    }
    const content = await this.contentFor(request.content, request.mode);
    const serverId = randomUUID();
    const started = await this.deps.runner.start<BenchmarkResult>(
      'benchmark',
      { content: content.name, mode: request.mode, quality: request.quality, duration_s: request.durationS, viewers: request.viewers },
      async (ctx) => {
        await this.openStream(ctx, { serverId, content, mode: request.mode, quality: request.quality, iceServers: this.deps.config.iceServers, createdAt: Date.now() });
        try {
          return await runBenchmark(ctx, {
            viewers: request.viewers,
            durationMs: request.durationS * 1000,
            expect: request.mode,
            exchange: this.inProcessExchange(serverId, { remote: 'benchmark' }),
          });
        } finally {
          // Unless a shutdown already stopped (and recorded) the stream.
          const mine = this.registry.streams.delete(serverId);
          const leftovers = this.registry.peersOf(serverId);
          if (leftovers.length) await this.closePeers(ctx, leftovers, 'local', 'benchmark_finished').catch(() => {});
          if (mine) await this.deps.log.append(
            streamName('server', serverId),
            [{ type: 'server.stopped', data: { server_id: serverId, reason: 'benchmark_finished' } }],
            { meta: { operation_id: ctx.operationId } },
          );
        }
      },
      { serverId, requestId: origin.requestId, timeoutMs: request.durationS * 1000 + 60_000 },
    );
    this.benchmarks.add(started.operationId);
    void started.outcome.then(() => this.benchmarks.delete(started.operationId));
    return started;
  }

  /**
   * The add-on's event-loop fix, demonstrated: sets up a real loopback pair
   * (this server's peer and an in-process werift viewer), then closes it
   * through the runner in the background; the caller answers 202.
   */
  async asyncCloseTest(origin: Origin = {}) {
    this.refuseWhenStopping();
    const listing = await describeDir(this.deps.config.contentDir);
    const item = listing.items[0];
    if (!item) throw new AppError('UNAVAILABLE', `the content directory ${listing.path} has no file to stream`);
    const serverId = randomUUID();
    let viewer: Viewer | null = null;
    const setup = await this.deps.runner.run(
      'test_async_close_setup',
      { content: item.name },
      async (ctx) => {
        await this.openStream(ctx, { serverId, content: item, mode: 'data', quality: 'low', iceServers: [], createdAt: Date.now() });
        // Task results go into the log as JSON: hand the viewer out through the closure.
        const summary = await ctx.task('connect loopback pair', async (signal) => {
          const v = await openViewer(this.inProcessExchange(serverId, { remote: 'async_close_test' }), { expect: 'data', signal });
          viewer = v;
          this.testViewers.add(v);
          return { connection_id: v.connectionId, setup_ms: v.setupMs };
        });
        return summary;
      },
      { serverId, requestId: origin.requestId },
    );
    if (setup.status !== 'completed' || !viewer) {
      this.registry.streams.delete(serverId);
      // Why is on the record (the operation's error); the answer does not repeat it.
      throw new AppError('WEBRTC_ERROR', `the loopback pair could not be set up; see operation ${setup.operationId}`, { operation_id: setup.operationId }, true);
    }
    const testViewer: Viewer = viewer;
    const { connection_id: connectionId, setup_ms: setupMs } = setup.result;
    const peer = this.registry.peers.get(connectionId);
    const started = await this.deps.runner.start(
      'test_async_close',
      { connection_id: connectionId, server_id: serverId },
      async (ctx) => {
        try {
          const closed = peer
            ? (await ctx.task('close', () => peer.close('local', 'async_close_test', { operation_id: ctx.operationId }), { connectionId })).closedNow
            : false;
          await ctx.task('close viewer', () => testViewer.leave());
          return { connection_id: connectionId, closed, setup_ms: setupMs };
        } finally {
          this.testViewers.delete(testViewer);
          if (this.registry.streams.delete(serverId)) await this.deps.log.append(
            streamName('server', serverId),
            [{ type: 'server.stopped', data: { server_id: serverId, reason: 'async_close_test' } }],
            { meta: { operation_id: ctx.operationId } },
          );
        }
      },
      { connectionId, serverId, requestId: origin.requestId },
    );
    return { started, connectionId, serverId, setupOperationId: setup.operationId };
  }

  // ---- resources and shutdown -------------------------------------------

  resourceReport() {
    return {
      ...this.resources.read(),
      webrtc: {
        open_peers: this.registry.peers.size,
        max_peers: this.registry.maxPeers,
        admitted_peers: this.registry.admittedPeers,
        fds_per_peer: this.budget.fdsPerPeer,
        open_file_limit: this.budget.fdLimit,
        streams: this.registry.streams.size,
        stalled_peers: [...this.registry.peers.values()].filter((p) => p.isStalled).length,
        // Abandoned tasks (timed out or cancelled, work still running) count until their work settles.
        pending_tasks: this.deps.runner.activeTasks,
        abandoned_tasks: this.deps.runner.abandonedTasks,
        running_operations: this.deps.runner.activeOperations,
        // The two timers that watch the peers: alive if their ticks advance.
        stats_sampler: { interval_ms: this.deps.config.statsIntervalMs, ticks: this.sampler.ticks },
        liveness_watchdog: { interval_ms: this.watchdog.tickMs, ticks: this.watchdog.ticks },
      },
    };
  }

  /** Closes every peer through the runner (initiator `shutdown`) and records each stream's end. */
  async shutdown() {
    this.stopping = true;
    this.sampler.stop();
    this.watchdog.stop();
    for (const id of this.benchmarks) this.deps.runner.cancel(id, 'shutdown');
    const peers = [...this.registry.peers.values()];
    const streams = [...this.registry.streams.keys()];
    this.registry.streams.clear();
    if (peers.length || streams.length) {
      const outcome = await this.deps.runner.run('shutdown_close', { open: peers.length, streams: streams.length }, async (ctx) => {
        const closed = await this.closePeers(ctx, peers, 'shutdown', 'server_shutdown');
        await Promise.all(
          streams.map((serverId) =>
            this.deps.log.append(streamName('server', serverId), [{ type: 'server.stopped', data: { server_id: serverId, reason: 'shutdown' } }], {
              meta: { operation_id: ctx.operationId },
            }),
          ),
        );
        return { closed: closed.length, streams: streams.length };
      }, { timeoutMs: Math.max(this.deps.config.shutdownGraceMs, 1000) });
      if (outcome.status !== 'completed') this.deps.logger.error({ outcome }, 'closing peers at shutdown did not complete');
    }
    for (const viewer of this.testViewers) await viewer.leave().catch(() => {});
    for (const timer of this.connectTimers.values()) clearTimeout(timer);
    this.connectTimers.clear();
    this.resources.stop();
  }

  // ---- helpers ------------------------------------------------------------

  private refuseWhenStopping() {
    if (this.stopping) throw unavailable('SHUTTING_DOWN', 'the server is shutting down', 10);
  }

  private async contentFor(ref: string, mode: StreamMode): Promise<ContentItem> {
    const content = await resolveContent(this.deps.config.contentDir, ref);
    if (mode === 'media' && !content.media) {
      throw new AppError('VALIDATION_FAILED', `"${content.name}" is not a media file (WebM or MP4); stream it with mode "data"`);
    }
    return content;
  }

  private async openStream(ctx: OperationContext, stream: LiveStream) {
    this.refuseWhenStopping();
    this.registry.addStream(stream);
    await this.deps.log.append(
      streamName('server', stream.serverId),
      [
        {
          type: 'server.created',
          data: {
            server_id: stream.serverId,
            content: stream.content.name,
            mode: stream.mode,
            quality: stream.quality,
            ...(stream.viewerTokenSha256 ? { viewer_token_sha256: stream.viewerTokenSha256 } : {}),
          },
        },
      ],
      { expectedVersion: 'no_stream', meta: { operation_id: ctx.operationId } },
    );
  }

  /** Closes peers as one task each; returns the ids this call actually closed. */
  private async closePeers(ctx: OperationContext, peers: ServerPeer[], initiator: 'local' | 'shutdown', reason: string) {
    const results = await Promise.all(
      peers.map((peer) =>
        ctx.task('close', () => peer.close(initiator, reason, { operation_id: ctx.operationId }), { connectionId: peer.id }).then(
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
          if (!this.registry.peers.has(connectionId)) return;
          const close = await this.closeConnection(connectionId, 'remote', 'viewer_left', origin);
          await close.outcome;
        },
      };
    };
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
    this.registry.removePeer(peer);
    const timer = this.connectTimers.get(peer.id);
    if (timer) clearTimeout(timer);
    this.connectTimers.delete(peer.id);
  }
}

/**
 * The installed werift's version, read from its package.json (which its
 * "exports" map does not expose, so it is found from the resolved entry).
 */
function weriftVersion(): string | null {
  try {
    let dir = dirname(require.resolve('werift'));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'werift') return pkg.version ?? null;
    }
  } catch {
    // fall through: report that we do not know
  }
  return null;
}

/**
 * The source codecs werift's file player packetizes, as MIME types. werift
 * 0.24 keeps the list (`supportedSourceCodecs`) and its MIME mapping
 * (`toSupportedMimeType`) in a module its "exports" map does not expose, and
 * requiring that CommonJS file beside the ESM build werift/nonstandard loads
 * would load its media container library twice; so both are read from the
 * file's text. test/http/webrtc.test.ts pins the result against the installed
 * werift.
 */
function playableSourceCodecs(): string[] | null {
  try {
    let dir = dirname(require.resolve('werift'));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const file = join(dir, 'nonstandard/userMedia/packetizer.js');
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8');
      const list = /supportedSourceCodecs\s*=\s*\[([^\]]*)\]/.exec(text)?.[1];
      if (!list) return null;
      const codecs = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
      const mime = new Map([...text.matchAll(/case "([^"]+)":\s*return "([a-z]+\/[^"]+)";/g)].map((m) => [m[1], m[2]]));
      return codecs.map((c) => mime.get(c) ?? c);
    }
  } catch {
    // fall through: report that we do not know
  }
  return null;
}

/** Opens the file with werift's player and checks it has something to play. */
async function probeMedia(path: string) {
  let player: Awaited<ReturnType<typeof getUserMedia>>;
  try {
    player = await (await loadFilePlayer())({ path, loop: false });
  } catch (err) {
    // werift's message may name the file by its absolute path: show the name only.
    const message = (err as Error).message.split(path).join(basename(path));
    throw new AppError('VALIDATION_FAILED', `the file cannot be played: ${message}`);
  }
  const tracks = { video: Boolean(player.video), audio: Boolean(player.audio) };
  // The codec of each track as the file holds it (werift plays it as it is,
  // never transcoding): an offer without it cannot be served (406). The
  // player's session is werift internals; werift 0.24.4 is pinned.
  const session = (player as unknown as { session?: { playbackTracks?: { track: { kind: string }; sourceCodec: string }[] } }).session;
  const codecs: StreamCodecs = {};
  for (const t of session?.playbackTracks ?? []) {
    if (t.track.kind === 'video' || t.track.kind === 'audio') codecs[t.track.kind] = String(t.sourceCodec).toLowerCase();
  }
  player.stop();
  if (!tracks.video && !tracks.audio) throw new AppError('VALIDATION_FAILED', 'the file has no audio or video track');
  return { ...tracks, codecs };
}
