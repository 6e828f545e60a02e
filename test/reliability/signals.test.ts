// Signals during shutdown, against the real CLI: supervisors and operators
// often send SIGTERM twice; the second must not kill a shutdown that is
// closing connections and tasks on the record. A third one stops at once,
// and the next start closes out what it left.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeLog } from '../../bench/make-log.ts';
import { openReadOnly } from '../../src/log/open.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { startCliServer } from '../helpers/cli.ts';
import { tempDir } from '../helpers/db.ts';
import { CONTENT_DIR, MONITOR, WEBRTC, waitFor } from '../helpers/webrtc.ts';

/** A server on a log big enough that an export runs for a while (~1 s), with a stream, a viewer and an export running. */
async function busyServer(dir: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const db = join(dir, 'monitor.db');
  makeLog(20_000, db);
  const server = startCliServer(['--port', '0', '--persistence-path', db, '--content-dir', CONTENT_DIR, '--shutdown-grace', '10000', ...extraArgs], { env });
  const base = await server.url;
  const post = async (path: string, json: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(json) });
    return { status: res.status, body: await res.json() };
  };
  const stream = await post(`${WEBRTC}/stream`, { content: 'sample.webm', mode: 'data', quality: 'low' });
  const viewer = await connectViewer(stream.body.whep_url, { expect: 'data' });
  const exporting = await post(`${MONITOR}/export`, {}, { prefer: 'respond-async' });
  assert.is(exporting.status, 202);
  return { server, db, viewer, exportId: exporting.body.operation_id as string };
}

/**
 * A webhook receiver that takes each request and never answers it: the
 * shutdown's last deliveries (the viewer's connection closing) stay in
 * flight until the grace period ends, which holds the shutdown open for as
 * long as a test needs to send more signals.
 */
async function silentReceiver() {
  const held: IncomingMessage[] = [];
  const server = createServer((req) => held.push(req));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    held,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

// Any well-formed Standard Webhooks secret: the silent receiver verifies nothing.
const SECRET = `whsec_${Buffer.from('signals-test-secret-0123456789ab').toString('base64')}`;

const said = (server: ReturnType<typeof startCliServer>, text: RegExp, what: string) =>
  waitFor(() => text.test(server.output().stderr), 10_000, what);

const Signals = suite('SIGTERM during shutdown');

Signals('ignores a second SIGTERM with a message and shuts down cleanly: every connection, task, operation and stream ended on the record', async () => {
  const { dir, cleanup } = tempDir('wrm-signals-');
  let viewer: Viewer | null = null;
  let server: ReturnType<typeof startCliServer> | null = null;
  try {
    const busy = await busyServer(dir);
    ({ server, viewer } = busy);
    server.child.kill('SIGTERM');
    await said(server, /SIGTERM: shutting down/, 'the first SIGTERM taken');
    server.child.kill('SIGTERM');
    await said(server, /SIGTERM again: ignored/, 'the second SIGTERM ignored');
    assert.is(server.child.exitCode, null, 'still shutting down');
    assert.is(server.child.signalCode, null);
    assert.is(await server.exited, 0, server.output().stderr);

    const file = openReadOnly(busy.db);
    try {
      const count = (sql: string) => file.prepare(sql).pluck().get() as number;
      assert.is(count("SELECT count(*) FROM operations WHERE status = 'running'"), 0, 'no operation left running');
      assert.is(count("SELECT count(*) FROM tasks WHERE status IN ('created', 'running')"), 0, 'no task left pending');
      assert.is(count(`SELECT count(*) FROM connections WHERE id = '${viewer.connectionId}' AND category = 'closed'`), 1, 'the viewer closed on the record');
      assert.is(
        count("SELECT count(*) FROM events e WHERE e.type = 'server.created' AND NOT EXISTS (SELECT 1 FROM events s WHERE s.stream = e.stream AND s.type = 'server.stopped')"),
        0,
        'every stream stopped',
      );
      assert.ok(['completed', 'cancelled'].includes(file.prepare('SELECT status FROM operations WHERE id = ?').pluck().get(busy.exportId) as string));
    } finally {
      file.close();
    }
  } finally {
    server?.child.kill('SIGKILL');
    await viewer?.leave().catch(() => {});
    cleanup();
  }
});

Signals('stops at once on a third SIGTERM, and the next start closes out what it left (process_restart)', async () => {
  const { dir, cleanup } = tempDir('wrm-signals-');
  let viewer: Viewer | null = null;
  let server: ReturnType<typeof startCliServer> | null = null;
  let again: ReturnType<typeof startCliServer> | null = null;
  let receiver: Awaited<ReturnType<typeof silentReceiver>> | null = null;
  try {
    receiver = await silentReceiver();
    const busy = await busyServer(dir, ['--webhook', receiver.url, '--webhook-timeout', '60000'], { WEBRTC_MONITOR_WEBHOOK_SECRET: SECRET });
    ({ server, viewer } = busy);
    server.child.kill('SIGTERM');
    await said(server, /SIGTERM: shutting down/, 'the first SIGTERM taken');
    // The shutdown of this small server would take tens of milliseconds; a
    // delivery the receiver holds keeps it open, so the next signals are
    // certain to arrive while it runs.
    const receiverHolds = receiver;
    await waitFor(() => receiverHolds.held.length > 0, 10_000, 'the shutdown holding a webhook delivery');
    server.child.kill('SIGTERM');
    await said(server, /SIGTERM again: ignored/, 'the second SIGTERM ignored');
    server.child.kill('SIGTERM');
    const code = await server.exited;
    assert.is(code, 128 + 15, server.output().stderr);
    assert.match(server.output().stderr, /a third time: stopping now/);

    again = startCliServer(['--port', '0', '--persistence-path', busy.db, '--content-dir', CONTENT_DIR]);
    await again.url;
    assert.is(await again.stop(), 0, again.output().stderr);
    const file = openReadOnly(busy.db);
    try {
      const count = (sql: string) => file.prepare(sql).pluck().get() as number;
      assert.is(count("SELECT count(*) FROM operations WHERE status = 'running'"), 0);
      assert.is(count("SELECT count(*) FROM tasks WHERE status IN ('created', 'running')"), 0);
      assert.is(count("SELECT count(*) FROM connections WHERE category <> 'closed'"), 0);
    } finally {
      file.close();
    }
  } finally {
    server?.child.kill('SIGKILL');
    again?.child.kill('SIGKILL');
    receiver?.close();
    await viewer?.leave().catch(() => {});
    cleanup();
  }
});

Signals.run();
