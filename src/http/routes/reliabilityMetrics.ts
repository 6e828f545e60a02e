// The /metrics series for limits, storage and the event loop, kept apart
// from the projections' series in metrics.ts: each is counted where it
// happens (the problem middleware, the log, the process guard) and read here
// at scrape time. Counters end in _total; every name starts with webrtc_.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Services } from '../app.ts';
import { healthOf, REFUSAL_CODES } from '../health.ts';
import { serverState } from '../limits.ts';
import { guardedExhaustions } from '../processGuard.ts';

/** A counter that follows a total kept elsewhere (it only ever grows). */
function followingCounter(registry: Registry, name: string, help: string, read: () => number) {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}

export function registerReliabilityMetrics(registry: Registry, services: Services) {
  const health = healthOf(services);
  const { store: log } = services;
  registry.registerMetric(health.loopDelay);
  new Gauge({
    name: 'webrtc_event_loop_delay_max_seconds',
    help: 'The longest the event loop was held since the previous scrape.',
    registers: [registry],
    collect() {
      this.set(health.maxDelaySinceScrape);
      health.maxDelaySinceScrape = 0;
    },
  });

  const refusedSeen = new Map<string, number>();
  new Counter({
    name: 'webrtc_requests_refused_total',
    help: 'Requests refused by a limit or a guard, by problem code (UNAVAILABLE: a cap or queue was full; SHUTTING_DOWN; STORAGE_*; CROSS_SITE_REQUEST; HOST_NOT_ALLOWED; PAYLOAD_TOO_LARGE).',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      for (const code of REFUSAL_CODES) {
        const now = health.refused.get(code) ?? 0;
        const before = refusedSeen.get(code) ?? 0;
        // inc(0) too, so every code has a series from the first scrape.
        this.inc({ code }, Math.max(0, now - before));
        refusedSeen.set(code, now);
      }
    },
  });

  followingCounter(registry, 'webrtc_log_unrecorded_events_total', 'Events this process could not record (storage full, busy or gone); each is accounted for by a log.gap event once storage returns.', () => log.stats.unrecordedEvents);
  followingCounter(registry, 'webrtc_log_gaps_total', 'log.gap markers this process wrote.', () => log.stats.gapsRecorded);
  new Gauge({
    name: 'webrtc_log_pending_gap_events',
    help: 'Events lost and not yet accounted for by a log.gap marker (storage has not taken a write since).',
    registers: [registry],
    collect() {
      this.set(log.pendingGap?.events ?? 0);
    },
  });
  followingCounter(registry, 'webrtc_resource_exhaustions_total', 'Times the process ran out of file descriptors (EMFILE/ENFILE) and refused instead of crashing.', guardedExhaustions);

  const state = serverState(services);
  new Gauge({
    name: 'webrtc_http_connections',
    help: 'Open HTTP connections.',
    registers: [registry],
    collect() {
      this.set(state.openConnections);
    },
  });
  new Gauge({
    name: 'webrtc_http_connections_limit',
    help: 'HTTP connections admitted at once (more are answered 503).',
    registers: [registry],
    collect() {
      this.set(state.maxConnections);
    },
  });
}
