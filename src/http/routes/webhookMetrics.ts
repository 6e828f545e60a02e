// The webhook deliverers' block of GET /metrics, registered only when
// `--webhook` is set: attempts by outcome, and how far each endpoint is
// behind the log. Endpoints are labelled by their key (a hash of the URL),
// never by the URL, which may carry credentials; the events on the stream
// `webhook:<key>` name the URL without them.
import { Counter, Gauge, type Registry } from 'prom-client';
import { WEBHOOK_OUTCOMES, type WebhookStatusSource } from '../../deliver/webhooks.ts';

const PREFIX = 'webrtc_webhook_';

export function registerWebhookMetrics(registry: Registry, webhooks: readonly WebhookStatusSource[]): void {
  const registers = [registry];
  const statuses = () => webhooks.map((w) => w.status());
  // Mirrors the deliverers' own totals for this process (monotonic; reset with the process).
  new Counter({
    name: `${PREFIX}deliveries_total`,
    help: 'Delivery attempts by outcome: delivered (2xx), retrying (failed, will be tried again), failed (the last allowed attempt failed; given up).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      const all = statuses();
      for (const outcome of WEBHOOK_OUTCOMES) this.inc({ outcome }, all.reduce((n, s) => n + s.attempts[outcome], 0));
    },
  });
  const perEndpoint = (name: string, help: string, value: (s: ReturnType<WebhookStatusSource['status']>) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['endpoint'],
      registers,
      collect() {
        for (const s of statuses()) this.set({ endpoint: s.key }, value(s));
      },
    });
  perEndpoint('lag_seconds', 'Age of the event the endpoint is being sent (0 when nothing waits).', (s) => s.lag_seconds);
  perEndpoint('lag_events', 'Log positions the endpoint has not yet passed (events of every type: an upper bound of what waits).', (s) => s.lag_events);
  perEndpoint('position', 'Every event up to this log position is delivered to the endpoint or given up.', (s) => s.position);
}
