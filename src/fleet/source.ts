// What the fleet monitor's routes are given besides MonitorReads (the
// HttpServices `fleet` field): reads by node, the live feed's wake-ups, and
// the in-process projector's role. Types only: a node's server never loads
// node-postgres through this.
import type { FleetReads } from './reads.ts';
import type { FleetFeed } from './feed.ts';
import type { ProjectorRole } from './projector.ts';

export type FleetSource = {
  /** Reads over every node; `.scoped(node)` for one. */
  reads: FleetReads;
  feed: FleetFeed;
  /** This process's projector: its role, or `off` (`--no-project`). */
  projectorRole(): ProjectorRole | 'off';
};
