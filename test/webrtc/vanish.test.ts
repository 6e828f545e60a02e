// A viewer that vanishes without a word (its process killed). The server's
// peers are ICE-lite, and werift's lite agent runs no consent checks, so the
// server watches for the viewer's checks itself (CONSENT_TIMEOUT_MS, 30 s):
// it must record the failure, close the peer with initiator `ice`, and free
// it. Slow by nature (~30 s); it runs once.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';

const root = resolve(import.meta.dirname, '../..');
let server: WebRtcTestServer;

const test = suite('a remote peer that vanishes');
test.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 1000 });
});
test.after(() => server.stop());

test('is recorded as a consent failure, then closed by the server with initiator ice, and leaves no live peer', async () => {
  const stream = await server.stream();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/viewerProcess.ts', stream.whep_url, 'media'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { connection_id: id } = JSON.parse(line);
  await waitFor(async () => (await server.json(`${MONITOR}/connections/${id}`)).body.connection.category === 'connected', 5000, 'connected');

  const killedAt = Date.now();
  child.kill('SIGKILL');
  await once(child, 'exit');

  const closed = await waitFor(
    async () => {
      const c = (await server.json(`${MONITOR}/connections/${id}`)).body.connection;
      return c.category === 'closed' ? c : null;
    },
    60_000,
    'the consent timeout',
  );
  const noticedAfter = Date.now() - killedAt;
  assert.equal(closed.close, { reason: 'consent_expired', initiator: 'ice' });
  assert.ok(noticedAfter > 10_000, `noticed after ${noticedAfter} ms`);
  // werift's ICE-lite agent never reports the loss itself; the server's consent watchdog records it.
  const errors = (server.services.db.prepare("SELECT data FROM events WHERE stream = ? AND type = 'connection.error'").pluck().all(`connection:${id}`) as string[]).map((d) => JSON.parse(d));
  assert.ok(errors.some((e) => e.code === 'CONSENT_EXPIRED' && e.fatal), 'the failure is in the log');
  assert.is((await server.json(`${WEBRTC}/connections`)).body.length, 0);
  process.stdout.write(`  (vanished viewer noticed after ${noticedAfter} ms)\n`);
});

test.run();
