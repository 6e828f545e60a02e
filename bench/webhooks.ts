// Figure 10: webhook delivery. A real receiver on 127.0.0.1 (in this
// process, so one clock measures both ends) and a deliverer over a real
// SQLite log. Latency: from the call to append an `issue.raised` to the
// receiver having read the signed request, one event at a time with the
// receiver up. Backlog: events waiting in the log when the deliverer starts
// (a receiver back from an outage), delivered one request at a time in
// order, each recorded with its checkpoint. The anchor of both is the
// same receiver sent the same body by a bare fetch POST (no log, no
// signature, no record): the floor of one HTTP request on this machine.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteEventStore } from '../src/log/sqliteStore.ts';
import { Projector } from '../src/projections/sqlite/projector.ts';
import { WebhookDeliverer } from '../src/deliver/webhooks.ts';
import { parseEndpoint } from '../src/deliver/endpoint.ts';
import { percentile, type Figure } from './report.ts';

const SECRET = `whsec_${Buffer.from('benchmark secret of 32 bytes....').toString('base64')}`;

export async function webhookFigures(scratch: string, sizes: { latencyEvents: number; backlogEvents: number }): Promise<Figure[]> {
  let waiting: { resolve: () => void; count: number } | null = null;
  let arrived = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrived++;
      res.writeHead(204).end();
      if (waiting && arrived >= waiting.count) waiting.resolve();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const arrivedAt = (count: number) =>
    new Promise<number>((resolve) => {
      if (arrived >= count) return resolve(performance.now());
      waiting = { count, resolve: () => resolve(performance.now()) };
    });

  const log = SqliteEventStore.open(join(scratch, 'webhooks.db'), { projector: new Projector() });
  const endpoint = parseEndpoint(url);
  const options = { endpoint, secret: SECRET, node: 'bench', timeoutMs: 15_000, backoff: { initialMs: 100, maxMs: 1000 }, maxAttempts: 5 };
  const silent = pino({ level: 'silent' });
  let n = 0;
  const raise = () => {
    const id = `i${++n}`;
    return log.append(`issue:${id}`, [{ type: 'issue.raised', data: { issue_id: id, type: 'loss', severity: 'warning', subject: `connection:c${n % 50}`, value: 0.1 } }]);
  };
  const body = JSON.stringify({ type: 'issue.raised', timestamp: new Date().toISOString(), position: 1, subject: 'connection:c1', node: 'bench', data: { issue_id: 'i1', type: 'loss', severity: 'warning', subject: 'connection:c1', value: 0.1 } });
  try {
    // Latency with the receiver up, each event beside a bare POST of the same
    // body (interleaved, so both see the same machine at the same moment).
    const deliverer = new WebhookDeliverer(log, options, silent);
    await deliverer.start();
    const direct: number[] = [];
    const latency: number[] = [];
    let directMs = 0;
    for (let i = 0; i < sizes.latencyEvents; i++) {
      const d0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body?.cancel();
      direct.push(performance.now() - d0);
      directMs += performance.now() - d0;
      arrived--; // the bare POST is not a delivery
      const target = arrived + 1;
      const t0 = performance.now();
      await raise();
      latency.push((await arrivedAt(target)) - t0);
      await deliverer.idle(); // the delivery's record committed before the next event
    }
    const directPerS = sizes.latencyEvents / (directMs / 1000);
    direct.sort((a, b) => a - b);
    await deliverer.stop();
    latency.sort((a, b) => a - b);

    // Backlog: appended first, delivered when the deliverer starts.
    await log.writeCheckpoint(`webhook:${endpoint.key}`, log.checkpointAt(await log.head()));
    const before = arrived;
    for (let i = 0; i < sizes.backlogEvents; i++) await raise();
    const backlog = new WebhookDeliverer(log, options, silent);
    const b0 = performance.now();
    await backlog.start();
    await arrivedAt(before + sizes.backlogEvents);
    const backlogPerS = sizes.backlogEvents / ((performance.now() - b0) / 1000);
    await backlog.stop();
    if (arrived !== before + sizes.backlogEvents) throw new Error(`backlog: ${arrived - before} of ${sizes.backlogEvents} arrived`);

    const p = (xs: number[], q: number) => percentile(xs, q);
    const note = `${sizes.latencyEvents} events one at a time, each beside a bare POST; append call to the receiver having read the request; bare POST of the same body: p50 ${p(direct, 50).toFixed(2)} ms, p99 ${p(direct, 99).toFixed(2)} ms`;
    return [
      {
        id: 'webhooks.latency_p50',
        group: 10,
        label: 'delivery latency p50 (receiver up)',
        value: p(latency, 50),
        unit: 'ms',
        anchor: { label: 'bare POST p50', value: p(direct, 50) },
        ratio: p(latency, 50) / p(direct, 50),
        note,
      },
      {
        id: 'webhooks.latency_p99',
        group: 10,
        label: 'delivery latency p99 (receiver up)',
        value: p(latency, 99),
        unit: 'ms',
        anchor: { label: 'bare POST p99', value: p(direct, 99) },
        ratio: p(latency, 99) / p(direct, 99),
      },
      {
        id: 'webhooks.backlog_per_s',
        group: 10,
        label: `backlog of ${sizes.backlogEvents} delivered in order`,
        value: backlogPerS,
        unit: 'events/s',
        anchor: { label: 'bare POSTs one at a time', value: directPerS },
        ratio: backlogPerS / directPerS,
        note: 'one request in flight per endpoint (order), each delivery recorded with its checkpoint in the log',
      },
    ];
  } finally {
    await log.close();
    await new Promise<void>((resolve) => {
      receiver.close(() => resolve());
      receiver.closeAllConnections();
    });
  }
}
