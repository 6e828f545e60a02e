// What the fleet monitor refuses, over HTTP, with no PostgreSQL: the reads
// it does not serve (streams, time travel over the whole log) answer a 400
// problem with a stable code before any query, never an empty 200 or a 5xx.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type pg from 'pg';
import { baseApp, mount } from '../../src/http/app.ts';
import { fleetRouters } from '../../src/http/fleetServe.ts';
import { healthOf } from '../../src/http/health.ts';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { makeConfig } from '../../src/config.ts';
import { centrePool } from '../../src/fleet/pg.ts';
import { FleetReads } from '../../src/fleet/reads.ts';
import { FleetFeed } from '../../src/fleet/feed.ts';

let pool: pg.Pool;
let server: Server;
let url: string;
let services: Parameters<typeof fleetRouters>[0];

const Refused = suite('the fleet monitor: reads it does not serve');
Refused.before(async () => {
  // The pool connects on its first query; a refusal makes none (the database named here does not exist).
  const nowhere = 'postgres://nobody@127.0.0.1:1/none';
  pool = centrePool(nowhere, { applicationName: 'fleetServe test' });
  const logger = pino({ level: 'silent' });
  const reads = new FleetReads(pool);
  const fleet = { reads, feed: new FleetFeed(nowhere, logger, 1000), projectorRole: () => 'off' as const };
  services = { config: makeConfig({ logLevel: 'silent' }), reads, logger, startedAt: 0, fleet };
  const app = baseApp(services);
  mount(app, fleetRouters(services, pool));
  server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${MONITOR_PREFIX}`;
});
Refused.after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await pool.end();
  healthOf(services).stop();
});

Refused('answers 400 NOT_ON_FLEET for streams and for ?at= on summary and connections', async () => {
  for (const path of ['/streams', '/streams/s1', '/summary?at=5', '/connections?at=2026-01-31T12:00:00Z', '/summary?at=5&node=edge-1']) {
    const res = await fetch(url + path);
    assert.is(res.status, 400, path);
    assert.match(res.headers.get('content-type') ?? '', 'application/problem+json');
    const body = (await res.json()) as { code: string; detail: string };
    assert.is(body.code, 'NOT_ON_FLEET', path);
    assert.match(body.detail, 'fleet monitor does not serve');
  }
  // A bad ?at= is still the caller's to fix first.
  const bad = await fetch(`${url}/summary?at=yesterday`);
  assert.equal([bad.status, ((await bad.json()) as { code: string }).code], [400, 'BAD_REQUEST']);
});

Refused.run();
