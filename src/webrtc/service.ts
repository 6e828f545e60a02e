// The WebRTC service, as the routes and the plugin see it: one object over the
// parts that do the work, each in its own file and each running its actions
// through the operation runner so they appear in the log with their tasks and
// outcome:
//
//   diagnostics.ts     GET check
//   streams.ts         start and stop streams; every `server.stopped`
//   connections.ts     connect (WHEP offers), close, close-all, quality
//   benchmark.ts       POST benchmark
//   asyncCloseTest.ts  POST test/async_close
//   resourceReport.ts  GET stats/resources
//   shutdown.ts        closing everything at shutdown
//
// The peers themselves are serverPeer.ts; the stats sampler and the liveness
// watchdog are the two timers that watch them.
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { EventStore } from '../log/store.ts';
import type { OperationRunner } from '../operations/runner.ts';
import { StopGate, type Origin, type WebRtcContext } from './context.ts';
import { Registry, type LiveStream } from './registry.ts';
import { peerBudget, type PeerBudget } from './admission.ts';
import type { ServerPeer } from './serverPeer.ts';
import { StatsSampler } from './statsSampler.ts';
import { LivenessWatchdog } from './watchdog.ts';
import { livenessSettings } from './liveness.ts';
import { ResourceMonitor } from './resources.ts';
import { checkReport } from './diagnostics.ts';
import { Streams, type StreamRequest } from './streams.ts';
import { Connections } from './connections.ts';
import { Benchmarks, type BenchmarkRequest } from './benchmark.ts';
import { AsyncCloseTest } from './asyncCloseTest.ts';
import { resourceReport } from './resourceReport.ts';
import { shutdownWebRtc } from './shutdown.ts';
import type { Quality } from './quality.ts';

export { CONNECT_TIMEOUT_MS } from './connections.ts';
export { MAX_BENCHMARK_SECONDS } from './benchmark.ts';
export type { StreamRequest, StreamResult } from './streams.ts';
export type { Origin } from './context.ts';

export type ServiceDeps = {
  config: Config;
  log: EventStore;
  runner: OperationRunner;
  logger: Logger;
  /** HTTP connections the server admits (their descriptors are not the peers'); 0 when unknown. */
  httpConnections?: number;
};

export class WebRtcService {
  readonly registry: Registry;
  readonly budget: PeerBudget;
  readonly resources = new ResourceMonitor();
  private readonly ctx: WebRtcContext;
  private readonly sampler: StatsSampler;
  private readonly watchdog: LivenessWatchdog;
  private readonly streams: Streams;
  private readonly connections: Connections;
  private readonly benchmarks: Benchmarks;
  private readonly asyncClose: AsyncCloseTest;

  constructor(private readonly deps: ServiceDeps) {
    this.budget = peerBudget({
      configured: deps.config.maxPeers,
      httpConnections: deps.httpConnections ?? 0,
      additionalHostAddresses: deps.config.iceAdditionalHostAddresses,
    });
    this.registry = new Registry(this.budget.maxPeers);
    this.ctx = { config: deps.config, log: deps.log, runner: deps.runner, logger: deps.logger, registry: this.registry, gate: new StopGate() };
    this.sampler = new StatsSampler(this.registry, deps.config.statsIntervalMs);
    this.watchdog = new LivenessWatchdog(this.registry, livenessSettings(deps.config));
    this.connections = new Connections(this.ctx);
    this.streams = new Streams(this.ctx, this.connections);
    this.benchmarks = new Benchmarks(this.ctx, this.streams, this.connections);
    this.asyncClose = new AsyncCloseTest(this.ctx, this.streams, this.connections);
  }

  /** Times the process ran out of descriptors (EMFILE/ENFILE) opening a peer's sockets. */
  get resourceExhaustions(): number {
    return this.connections.resourceExhaustions;
  }

  /** Reported by the process guard: negotiations in flight fail with a 503 (connections.ts). */
  resourcesExhausted(err: unknown) {
    this.connections.resourcesExhausted(err);
  }

  start() {
    this.sampler.start();
    this.watchdog.start();
  }

  check() {
    return checkReport(this.deps.config, {
      watchdogTickMs: this.watchdog.tickMs,
      streams: this.registry.streams.size,
      connections: this.registry.peers.size,
    });
  }

  startStream(request: StreamRequest, origin: Origin = {}) {
    return this.streams.start(request, origin);
  }

  getStream(serverId: string): LiveStream {
    return this.streams.get(serverId);
  }

  stopStream(serverId: string, origin: Origin = {}) {
    return this.streams.stop(serverId, origin);
  }

  connect(serverId: string, offerSdp: string, origin: Origin = {}) {
    return this.connections.connect(serverId, offerSdp, origin);
  }

  getPeer(connectionId: string): ServerPeer {
    return this.registry.requirePeer(connectionId);
  }

  closeConnection(connectionId: string, initiator: 'local' | 'remote', reason: string, origin: Origin = {}) {
    return this.connections.close(connectionId, initiator, reason, origin);
  }

  restartIce(connectionId: string, ice: { ufrag: string; pwd: string }, candidates: string[], origin: Origin = {}) {
    return this.connections.restartIce(connectionId, ice, candidates, origin);
  }

  closeAll(origin: Origin = {}) {
    return this.connections.closeAll(origin);
  }

  setQuality(connectionId: string, quality: Quality, origin: Origin = {}) {
    return this.connections.setQuality(connectionId, quality, origin);
  }

  benchmark(request: BenchmarkRequest, origin: Origin = {}) {
    return this.benchmarks.start(request, origin);
  }

  asyncCloseTest(origin: Origin = {}) {
    return this.asyncClose.run(origin);
  }

  resourceReport() {
    return resourceReport({
      monitor: this.resources,
      registry: this.registry,
      budget: this.budget,
      runner: this.deps.runner,
      sampler: this.sampler,
      watchdog: this.watchdog,
    });
  }

  /** Closes every peer through the runner (initiator `shutdown`) and records each stream's end. */
  shutdown() {
    return shutdownWebRtc(this.ctx, {
      connections: this.connections,
      streams: this.streams,
      benchmarks: this.benchmarks,
      asyncCloseTest: this.asyncClose,
      timers: [this.sampler, this.watchdog],
      resources: this.resources,
    });
  }
}
