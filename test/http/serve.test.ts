// startServer's shutdown, seen from outside: nothing new starts once it
// has begun, and everything it leaves is on the record.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { join } from 'node:path';
import { openReadOnly } from '../../src/log/open.ts';
import { dbOf, tempDir } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { MONITOR, WEBRTC, startWebRtcServer } from '../helpers/webrtc.ts';

const Shutdown = suite('startServer close');

Shutdown('refuses a stream whose operation was running when shutdown began, so no stream is left without server.stopped', async () => {
  const { dir, cleanup } = tempDir('wrm-serve-');
  try {
    const server = await startWebRtcServer({}, { keepDir: dir });
    const { store: log } = server.services;
    const db = dbOf(server.services);
    const runningStreams = () => db.prepare("SELECT count(*) FROM operations WHERE status = 'running' AND type = 'stream'").pluck().get() as number;
    let closing: Promise<void> | null = null;
    // Shutdown begins the moment the stream's operation is on the record,
    // before its work (probe the file, open the stream) has run.
    log.onCommit(() => {
      if (!closing && runningStreams() > 0) closing = server.close();
    });
    const res = await server.json(`${WEBRTC}/stream`, { method: 'POST', json: { content: 'sample.webm' } });
    await closing;
    assert.is(res.status, 503, JSON.stringify(res.body));
    assert.is(res.body.code, 'SHUTTING_DOWN');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    const file = openReadOnly(join(dir, 'monitor.db'));
    const unstopped = file
      .prepare("SELECT stream FROM events WHERE type = 'server.created' AND stream NOT IN (SELECT stream FROM events WHERE type = 'server.stopped')")
      .all();
    assert.equal(unstopped, []);
    const running = file.prepare("SELECT count(*) FROM operations WHERE status = 'running'").pluck().get();
    assert.is(running, 0, 'the refused operation ended on the record');
    file.close();
  } finally {
    cleanup();
  }
});

Shutdown('answers 503 SHUTTING_DOWN to a request whose body arrives after shutdown began, while running work finishes', async () => {
  const server = await startTestServer();
  // Work still running holds the shutdown open (up to --shutdown-grace) until the test lets it finish.
  let finish!: () => void;
  const running = await server.services.runner.start('held', {}, () => new Promise<string>((resolve) => (finish = () => resolve('done'))));
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  socket.setEncoding('utf8').on('data', (c) => (received += c));
  socket.on('error', () => {});
  const answered = new Promise<void>((resolve) => socket.on('data', () => received.includes('\r\n\r\n{') && received.endsWith('}') && resolve()));
  // The headers arrive first, so the request is being read when shutdown begins.
  const dispatched = new Promise((resolve) => server.server.once('request', resolve));
  socket.write(`POST ${MONITOR}/export HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n`);
  await dispatched;
  const closing = server.close();
  socket.write('{}');
  await answered;
  finish();
  await closing;
  socket.destroy();
  assert.match(received, /^HTTP\/1\.1 503 /);
  assert.match(received, /retry-after: \d+/i);
  assert.match(received, /"code":"SHUTTING_DOWN"/);
  assert.is((await running.outcome).status, 'completed', 'the work that was running finished');
});

Shutdown.run();
