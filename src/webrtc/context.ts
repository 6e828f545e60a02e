// What the parts of the WebRTC service share: the configuration, the log, the
// operation runner, the registry of live streams and peers, and the gate that
// closes when shutdown begins. service.ts builds one and hands it to each part
// (streams.ts, connections.ts, benchmarkRun.ts, asyncCloseTest.ts, shutdown.ts).
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { EventStore } from '../log/store.ts';
import type { OperationRunner } from '../operations/runner.ts';
import { unavailable } from '../errors.ts';
import type { Registry } from './registry.ts';

/** Who asked: recorded on the operation (request id) and the connection (remote, user agent). */
export type Origin = { remote?: string; userAgent?: string; requestId?: string };

/**
 * Closed at the start of shutdown: no stream, peer or benchmark starts after
 * it, so nothing appears after shutdown took its list of what to close (work
 * already running when it closes fails instead of adding state).
 */
export class StopGate {
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
  }

  /** Throws 503 SHUTTING_DOWN once closed. */
  check(): void {
    if (this.closed) throw unavailable('SHUTTING_DOWN', 'the server is shutting down', 10);
  }
}

export type WebRtcContext = {
  readonly config: Config;
  readonly log: EventStore;
  readonly runner: OperationRunner;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly gate: StopGate;
};
