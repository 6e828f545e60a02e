// The server the REST benchmark loads: the real startServer on the given
// database, plus one trivial JSON route mounted through the plugin mechanism
// (not in src), so both pass the same middleware in the same process.
//
//   node --import tsx bench/rest-server.ts <database>   prints {"url": ...} and serves until SIGTERM
import Router from '@koa/router';
import pino from 'pino';
import { makeConfig } from '../src/config.ts';
import { startServer, type PluginFactory } from '../src/http/serve.ts';

export const TRIVIAL_PATH = '/bench/trivial';

const trivial: PluginFactory = () => ({
  name: 'bench-trivial',
  routers: [
    () => {
      const router = new Router();
      router.get(TRIVIAL_PATH, (ctx) => {
        ctx.body = { ok: true, timestamp: new Date().toISOString() };
      });
      return router;
    },
  ],
});

const path = process.argv[2];
if (!path) throw new Error('usage: rest-server.ts <database>');
const config = makeConfig({ port: 0, host: '127.0.0.1', persistencePath: path, logLevel: 'silent' });
const running = await startServer(config, { logger: pino({ level: 'silent' }), plugins: [trivial] });
process.stdout.write(`${JSON.stringify({ url: running.url })}\n`);
process.once('SIGTERM', () => {
  void running.close().then(() => process.exit(0));
});
