// GET /metrics on the fleet monitor: per node, from the fleet read models at
// scrape time. The same names as a node's where they mean the same thing,
// with a `node` label (a dashboard built for one node sums over `node`), and
// the fleet's own: each node's lag behind the fleet monitor, its projected
// and centre positions, the projector's role here.
import Router from '@koa/router';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { HttpServices } from '../app.ts';
import { CONNECTION_OUTCOMES } from '../../log/catalogue.ts';
import { CONNECTION_CATEGORIES } from '../../projections/connection.ts';
import type { SummaryModel } from '../../projections/summary.ts';
import type { NodeStatus } from '../../fleet/reads.ts';
import type { FleetSource } from '../../fleet/source.ts';
import { PROJECTOR_ROLES } from '../../fleet/projector.ts';

type Labels = Record<string, string>;

export function fleetMetricsRouter(services: HttpServices & { fleet: FleetSource }): Router {
  const { fleet } = services;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Read once per scrape, before collecting, and shared by every metric below.
  let summaries: { node: string; summary: SummaryModel }[] = [];
  let statuses: NodeStatus[] = [];

  const perNode = (read: (s: SummaryModel) => [Labels, number][]) =>
    summaries.flatMap(({ node, summary }) => read(summary).map(([labels, v]): [Labels, number] => [{ node, ...labels }, v]));
  const level = (name: string, help: string, labelNames: string[], read: () => [Labels, number][]) =>
    new Gauge({
      name: `webrtc_${name}`,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  const total = (name: string, help: string, labelNames: string[], read: () => [Labels, number][]) =>
    new Counter({
      name: `webrtc_${name}`,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, Math.max(0, value));
      },
    });

  level('connections', 'Connections by node and current state.', ['node', 'state'], () =>
    perNode((s) => CONNECTION_CATEGORIES.map((c) => [{ state: c }, s.connections[c]])),
  );
  level('connections_stalled', 'Connections stalled now, by node.', ['node'], () => perNode((s) => [[{}, s.connections.stalled]]));
  total('connections_opened_total', 'Connections created, by node.', ['node'], () => perNode((s) => [[{}, s.connections.total]]));
  total('connections_ended_total', 'Connections that ended, by node and outcome.', ['node', 'outcome'], () =>
    perNode((s) => CONNECTION_OUTCOMES.map((o) => [{ outcome: o }, s.connection_outcomes[o]])),
  );
  level('tasks_pending', 'Tasks holding work now, by node.', ['node'], () => perNode((s) => [[{}, s.tasks.pending]]));
  total('log_events_total', "Events in each node's log that the fleet shows.", ['node'], () => perNode((s) => [[{}, s.event_count]]));

  const byNode = (read: (n: NodeStatus) => number) => (): [Labels, number][] => statuses.map((n) => [{ node: n.node }, read(n)]);
  level('fleet_node_lag_events', 'Events a node recorded (as its forwarder last reported) that the fleet monitor does not show yet.', ['node'], byNode((n) => n.lag_events));
  level('fleet_node_lag_seconds', 'Age of the oldest event of a node the fleet monitor does not show yet (waiting on the node or in the centre).', ['node'], byNode((n) => n.lag_seconds));
  level('fleet_node_forwarder_lag_events', "Of those, events still on the node (its forwarder's lag at its last report).", ['node'], byNode((n) => n.forwarder_lag_events));
  level('fleet_node_projected_position', 'The last position of a node the fleet monitor shows.', ['node'], byNode((n) => n.projected_position));
  level('fleet_node_centre_position', 'The last position of a node the central database holds.', ['node'], byNode((n) => n.centre_position));
  level('fleet_node_report_age_seconds', "Time since a node's forwarder last shipped a batch.", ['node'], () =>
    statuses.filter((n) => n.last_report_at !== null).map((n) => [{ node: n.node }, Math.max(0, Date.now() - Date.parse(n.last_report_at!)) / 1000]),
  );
  level('fleet_projector_role', "This process's projector: 1 for its current role (off: --no-project).", ['role'], () => {
    const role = fleet.projectorRole();
    return [...PROJECTOR_ROLES, 'off'].map((r) => [{ role: r }, r === role ? 1 : 0]);
  });
  level('fleet_feed_listening', '1 while the live feed holds its LISTEN session (else its clients poll).', [], () => [[{}, fleet.feed.listening ? 1 : 0]]);

  const router = new Router();
  router.get('/metrics', async (ctx) => {
    [summaries, statuses] = await Promise.all([fleet.reads.nodeSummaries(), fleet.reads.nodeStatuses()]);
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  return router;
}
