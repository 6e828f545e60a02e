// GET .../webrtc/stats/resources: the process's resources (resources.ts) and
// what the WebRTC side holds, from counters kept anyway; O(peers) at most.
import type { OperationRunner } from '../operations/runner.ts';
import type { PeerBudget } from './admission.ts';
import type { Registry } from './registry.ts';
import type { ResourceMonitor } from './resources.ts';

export type ReportSources = {
  monitor: ResourceMonitor;
  registry: Registry;
  budget: PeerBudget;
  runner: OperationRunner;
  sampler: { intervalMs: number; ticks: number };
  watchdog: { tickMs: number; ticks: number };
};

export function resourceReport({ monitor, registry, budget, runner, sampler, watchdog }: ReportSources) {
  return {
    ...monitor.read(),
    webrtc: {
      open_peers: registry.peers.size,
      max_peers: registry.maxPeers,
      admitted_peers: registry.admittedPeers,
      fds_per_peer: budget.fdsPerPeer,
      open_file_limit: budget.fdLimit,
      streams: registry.streams.size,
      stalled_peers: [...registry.peers.values()].filter((p) => p.isStalled).length,
      // Abandoned tasks (timed out or cancelled, work still running) count until their work settles.
      pending_tasks: runner.activeTasks,
      abandoned_tasks: runner.abandonedTasks,
      running_operations: runner.activeOperations,
      // The two timers that watch the peers: alive if their ticks advance.
      stats_sampler: { interval_ms: sampler.intervalMs, ticks: sampler.ticks },
      liveness_watchdog: { interval_ms: watchdog.tickMs, ticks: watchdog.ticks },
    },
  };
}
