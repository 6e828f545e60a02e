// What the forwarder tells the rest of the node (summary, /metrics): its
// state and lag. Apart from src/fleet/forwarder.ts so that reading it never
// loads node-postgres.

export const FORWARDER_STATES = ['starting', 'connected', 'behind', 'caught_up', 'failing', 'stopped'] as const;
export type ForwarderState = (typeof FORWARDER_STATES)[number];

export type ForwarderStatus = {
  node: string;
  /** The central database, without its password. */
  target: string;
  state: ForwarderState;
  /** Everything up to this local position is in the centre. */
  shipped_position: number;
  head_position: number;
  /** Events committed locally and not yet in the centre. */
  lag_events: number;
  /** Age of the oldest event not yet in the centre (0 when none waits). */
  lag_seconds: number;
  /** Since this process started: */
  events_shipped: number;
  /** Rows the centre already held (a batch sent again). */
  duplicates: number;
  batches: number;
  failures: number;
  last_error: { code: string; message: string; at: string } | null;
  last_shipped_at: string | null;
};

/** What the HTTP layer reads: the status (its lag is read from the log), nothing that can change it. */
export type ForwarderStatusSource = { status(): Promise<ForwarderStatus> };
