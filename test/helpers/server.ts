// A real server on 127.0.0.1, port 0, with its own database file; `stop()`
// shuts it down the way SIGTERM does and removes the files.
import { join } from 'node:path';
import { makeConfig, type ConfigInput } from '../../src/config.ts';
import { startServer, type PluginFactory, type RunningServer } from '../../src/http/serve.ts';
import pino from 'pino';
import { tempDir } from './db.ts';

export type TestServer = RunningServer & {
  dir: string;
  /** fetch relative to the server, JSON in and out. */
  api(path: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<Response>;
  stop(): Promise<void>;
};

export async function startTestServer(
  config: ConfigInput = {},
  options: { plugins?: PluginFactory[]; keepDir?: string; logger?: pino.Logger } = {},
): Promise<TestServer> {
  const { dir, cleanup } = options.keepDir ? { dir: options.keepDir, cleanup: () => {} } : tempDir('wrm-server-');
  const full = makeConfig({ port: 0, host: '127.0.0.1', persistencePath: join(dir, 'monitor.db'), logLevel: 'silent', ...config });
  const running = await startServer(full, { logger: options.logger ?? pino({ level: full.logLevel }), plugins: options.plugins ?? [] });
  return {
    ...running,
    dir,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.json !== undefined) headers.set('content-type', 'application/json');
      if (init.token) headers.set('authorization', `Bearer ${init.token}`);
      return fetch(running.url + path, {
        ...init,
        headers,
        body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
      });
    },
    async stop() {
      await running.close();
      cleanup();
    },
  };
}
