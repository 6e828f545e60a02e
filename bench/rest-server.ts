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
/** `PUT /bench/same/<name>` keeps a body; `GET` answers it as it is, doing nothing else: the same-bytes anchor. */
export const SAME_BYTES_PATH = '/bench/same';
const MAX_SAME_BYTES = 4 * 1024 * 1024;

const trivial: PluginFactory = () => ({
  name: 'bench-trivial',
  routers: [
    () => {
      const router = new Router();
      router.get(TRIVIAL_PATH, (ctx) => {
        ctx.body = { ok: true, timestamp: new Date().toISOString() };
      });
      const kept = new Map<string, Buffer>();
      router.put(`${SAME_BYTES_PATH}/:name`, async (ctx) => {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of ctx.req) {
          size += (chunk as Buffer).length;
          if (size > MAX_SAME_BYTES) ctx.throw(413);
          chunks.push(chunk as Buffer);
        }
        if (kept.size >= 16 && !kept.has(ctx.params.name)) ctx.throw(409);
        kept.set(ctx.params.name, Buffer.concat(chunks));
        ctx.status = 204;
      });
      router.get(`${SAME_BYTES_PATH}/:name`, (ctx) => {
        const body = kept.get(ctx.params.name);
        if (!body) ctx.throw(404);
        ctx.type = 'application/json';
        ctx.body = body;
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
