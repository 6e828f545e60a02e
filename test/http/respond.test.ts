// respondWithOutcome and storage that fails: a response reports an outcome
// only after its event committed. A real server, a real runner and a real
// SQLite file that fills up (SQLite's page limit, SQLITE_FULL); the one
// route here is scaffolding that runs an operation through respond.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Router from '@koa/router';
import type { PluginFactory } from '../../src/http/serve.ts';
import { respondWithOutcome } from '../../src/http/respond.ts';
import { MONITOR_PREFIX } from '../../src/http/routes/monitor.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { fillDatabase } from '../helpers/storage.ts';
import { dbOf } from '../helpers/db.ts';
import { waitFor } from '../helpers/webrtc.ts';

let server: TestServer;
let full: { release(): void } | null = null;

/** POST /test/fill-then-finish: an operation whose work fills the disk, answered through respondWithOutcome. */
const fillingRoute: PluginFactory = (services) => ({
  name: 'filling-route',
  routers: [
    () =>
      new Router().post('/test/fill-then-finish', async (ctx) => {
        const started = await services.runner.start('fill_then_finish', {}, async () => {
          full = fillDatabase(dbOf(services));
          return { done: true };
        });
        await respondWithOutcome(ctx, started, 5000, (result) => result);
      }),
  ],
});

const Respond = suite('respondWithOutcome when the outcome cannot be recorded');
Respond.before.each(async () => {
  server = await startTestServer({}, { plugins: [fillingRoute] });
});
Respond.after.each(async () => {
  full?.release();
  full = null;
  await server.stop();
});

Respond('answers 503 with the storage code and Retry-After, never 200, and the operation ends failed on the record', async () => {
  const res = await server.api('/test/fill-then-finish', { method: 'POST' });
  const body = (await res.json()) as { code: string; detail: string; errors?: { operation_id: string } };
  assert.is(res.status, 503, JSON.stringify(body));
  assert.is(body.code, 'STORAGE_FULL');
  assert.ok(Number(res.headers.get('retry-after')) > 0);
  const operationId = body.errors?.operation_id;
  assert.type(operationId, 'string');
  assert.is((await server.services.reads.operation(operationId!))?.status, 'running', 'nothing recorded the outcome yet');
  full!.release();
  full = null;
  // Storage is back: a write (any) lets the runner record the failure it kept.
  const next = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST', json: {} });
  assert.is(next.status, 200);
  await next.body?.cancel();
  const op = await waitFor(async () => {
    const o = await server.services.reads.operation(operationId!);
    return o?.status !== 'running' && o;
  }, 10_000, 'the kept failure to be recorded');
  assert.equal([op.status, op.error?.code], ['failed', 'STORAGE_FULL']);
});

Respond('answers 503 STORAGE_FULL (not 500) when even operation.started cannot be recorded, and reads keep working', async () => {
  full = fillDatabase(dbOf(server.services));
  const res = await server.api(`${MONITOR_PREFIX}/export`, { method: 'POST', json: {} });
  const body = (await res.json()) as { code: string };
  assert.is(res.status, 503);
  assert.is(body.code, 'STORAGE_FULL');
  assert.ok(Number(res.headers.get('retry-after')) > 0);
  assert.match(res.headers.get('content-type') ?? '', 'application/problem+json');
  const summary = await server.api(`${MONITOR_PREFIX}/summary`);
  assert.is(summary.status, 200);
  await summary.body?.cancel();
});

Respond.run();
