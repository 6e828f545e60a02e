// The server figure 9 measures: the real startServer with the WebRTC plugin,
// plus one route that reads (and resets) a precise event-loop delay
// histogram of this process, so the benchmark can ask "how long was the
// loop held during the window". Mounted through the plugin mechanism, not
// in src.
//
//   node --import tsx bench/loop-server.ts <database> <content dir>   prints {"url": ...} and serves until SIGTERM
import Router from '@koa/router';
import pino from 'pino';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConfig } from '../src/config.ts';
import { startServer, type PluginFactory } from '../src/http/serve.ts';
import { webrtcPlugin } from '../src/http/webrtcPlugin.ts';

export const LOOP_PATH = '/bench/loop';

const [path, contentDir] = process.argv.slice(2);
const entry = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (entry) {
  if (!path || !contentDir) throw new Error('usage: loop-server.ts <database> <content dir>');
  // 1 ms resolution: the histogram records how late a 1 ms timer fired.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const loopRoute: PluginFactory = () => ({
    name: 'bench-loop',
    routers: [
      () =>
        new Router().get(LOOP_PATH, (ctx) => {
          const ms = (ns: number) => Math.max(0, ns / 1e6 - 1);
          ctx.body = { p99_ms: ms(delay.percentile(99)), max_ms: ms(delay.max), samples: delay.count };
          if (ctx.query.reset !== undefined) delay.reset();
        }),
    ],
  });
  const config = makeConfig({ port: 0, host: '127.0.0.1', persistencePath: path, contentDir, logLevel: 'silent', maxConnections: 1000 });
  const running = await startServer(config, { logger: pino({ level: 'silent' }), plugins: [webrtcPlugin, loopRoute] });
  process.stdout.write(`${JSON.stringify({ url: running.url })}\n`);
  process.once('SIGTERM', () => {
    void running.close().then(() => process.exit(0));
  });
}
