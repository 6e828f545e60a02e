// The fleet forwarder's block of GET /metrics, registered only on a node that
// forwards (`serve --forward-to`): its lag, what it shipped and how often the
// centre failed it. Every series keeps its labels whatever the state: the
// state is one 0/1 gauge per possible state.
import { Counter, Gauge, type Registry } from 'prom-client';
import { FORWARDER_STATES, type ForwarderStatus, type ForwarderStatusSource } from '../../fleet/status.ts';

const PREFIX = 'webrtc_forwarder_';

export function registerForwarderMetrics(registry: Registry, forwarder: ForwarderStatusSource): void {
  const registers = [registry];
  const status = () => forwarder.status();
  const gauge = (name: string, help: string, value: (s: ForwarderStatus) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers,
      async collect() {
        this.set(value(await status()));
      },
    });
  // Counters mirror the forwarder's own totals for this process (monotonic; reset with the process).
  const counter = (name: string, help: string, value: (s: ForwarderStatus) => number) =>
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers,
      async collect() {
        const s = await status();
        this.reset();
        this.inc(value(s));
      },
    });

  new Gauge({
    name: `${PREFIX}info`,
    help: 'Always 1; the node name this node forwards under.',
    labelNames: ['node'],
    registers,
    async collect() {
      this.set({ node: (await status()).node }, 1);
    },
  });
  new Gauge({
    name: `${PREFIX}state`,
    help: `1 for the forwarder's current state, 0 for the others (${FORWARDER_STATES.join(', ')}).`,
    labelNames: ['state'],
    registers,
    async collect() {
      const current = (await status()).state;
      for (const state of FORWARDER_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  gauge('lag_events', 'Events committed locally and not yet in the central database.', (s) => s.lag_events);
  gauge('lag_seconds', 'Age of the oldest event not yet in the central database (0 when none waits).', (s) => s.lag_seconds);
  gauge('shipped_position', 'Every event up to this local log position is in the central database.', (s) => s.shipped_position);
  counter('events_shipped_total', 'Events this process inserted into the central database.', (s) => s.events_shipped);
  counter('duplicates_total', 'Events sent again that the central database already held (absorbed).', (s) => s.duplicates);
  counter('batches_total', 'Batches (one statement each) the central database committed.', (s) => s.batches);
  counter('failures_total', 'Attempts to connect or ship that failed.', (s) => s.failures);
}
