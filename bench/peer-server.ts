// The server the peer benchmark measures, in its own process so its CPU and
// RSS are its own. Assembled like src/http/serve.ts, with one difference that
// is the point of the figure:
//
//   on   the real store on a database file with the inline projector
//   off  a log that discards: append resolves at once, nothing is validated,
//        stored or projected (the peers, stats sampling and HTTP are the same)
//
//   node --import tsx bench/peer-server.ts on|off <database> <stats interval ms>
import { createServer } from 'node:http';
import Router from '@koa/router';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { makeConfig } from '../src/config.ts';
import type { AppendResult, EventStore } from '../src/log/store.ts';
import { openStore } from '../src/projections/sqlite/open.ts';
import { OperationRunner } from '../src/operations/runner.ts';
import { createApp, type Services } from '../src/http/app.ts';
import { webrtcPlugin } from '../src/http/webrtcPlugin.ts';

/** Recording off: every append "succeeds" without touching anything; the rest is the store's. */
function discarding(store: EventStore): EventStore {
  let position = 0;
  const append = (_stream: string, events: unknown[]): Promise<AppendResult> => {
    const first = position + 1;
    position += events.length;
    return Promise.resolve({ ok: true, firstPosition: first, lastPosition: position, nextVersion: events.length, recordedAt: Date.now() });
  };
  return new Proxy(store, { get: (target, key) => (key === 'append' ? append : Reflect.get(target, key, target)) });
}

const [mode, path, interval] = process.argv.slice(2);
if ((mode !== 'on' && mode !== 'off') || !path) throw new Error('usage: peer-server.ts on|off <database> <stats interval ms>');
const config = makeConfig({
  port: 0,
  host: '127.0.0.1',
  persistencePath: mode === 'on' ? path : ':memory:',
  logLevel: 'silent',
  statsIntervalMs: Number(interval ?? 1000),
  maxBenchmarkViewers: 1000,
});
const logger = pino({ level: 'silent' });
const opened = await openStore(config.persistencePath);
const log = mode === 'on' ? opened.store : discarding(opened.store);
const runner = new OperationRunner(log, { defaultTimeoutMs: config.operationTimeoutMs });
const services: Services = { config, store: log, reads: opened.reads, runner, logger, startedAt: Date.now() };
const plugin = webrtcPlugin(services);
await plugin.start?.();
// How much time this process spent committing appends (recording on), read
// by the benchmark at the start and end of its window.
const commits = { ms: 0, batches: 0, events: 0 };
log.onCommit(({ size, durationMs }) => {
  commits.ms += durationMs;
  commits.batches++;
  commits.events += size;
});
const benchRouter = () => new Router().get('/bench/commits', (ctx) => {
  ctx.body = commits;
});
const { app } = createApp(services, [...(plugin.routers ?? []), benchRouter]);
const server = createServer(app.callback());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
process.once('SIGTERM', async () => {
  server.closeAllConnections();
  server.close();
  await plugin.shutdown?.();
  await runner.shutdown(2000);
  await opened.close();
  process.exit(0);
});
