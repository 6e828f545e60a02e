// Shutdown with live peers records every close (initiator `shutdown`) and
// cancels nothing silently; a restart after kill -9 closes out what the dead
// process left open with reason `process_restart`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { openReadOnly } from '../../src/log/open.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { tempDir } from '../helpers/db.ts';
import { CONTENT_DIR, MONITOR, WEBRTC, startWebRtcServer, waitFor } from '../helpers/webrtc.ts';
import { openSse } from '../helpers/sse.ts';
import { within } from '../helpers/wait.ts';

const root = resolve(import.meta.dirname, '../..');

const shutdown = suite('shutdown with live peers');
shutdown('closes every peer through the runner with initiator shutdown and leaves no operation or task without an outcome', async () => {
  const { dir, cleanup } = tempDir('wrm-shutdown-');
  const server = await startWebRtcServer({ shutdownGraceMs: 500 }, { keepDir: dir });
  const viewers: Viewer[] = [];
  try {
    const media = await server.stream({ mode: 'media' });
    const data = await server.stream({ mode: 'data' });
    viewers.push(await server.viewer(media.whep_url, 'media'), await server.viewer(media.whep_url, 'media'), await server.viewer(data.whep_url, 'data'));
    // A long benchmark is running too: shutdown must cancel it, on the record.
    const bench = await server.json(`${WEBRTC}/benchmark`, { method: 'POST', json: { content: 'sample.webm', duration_s: 30, viewers: 1 }, headers: { prefer: 'respond-async' } });
    assert.is(bench.status, 202);
    await waitFor(async () => (await server.json(`${WEBRTC}/connections`)).body.length === 4, 15_000, 'the benchmark viewer');
    await server.close();

    const db = openReadOnly(join(dir, 'monitor.db'));
    const closes = db
      .prepare("SELECT stream, json_extract(data, '$.initiator') AS initiator, json_extract(data, '$.reason') AS reason FROM events WHERE type = 'connection.closed'")
      .all() as { stream: string; initiator: string; reason: string }[];
    const created = db.prepare("SELECT count(*) FROM events WHERE type = 'connection.created'").pluck().get() as number;
    assert.is(closes.length, created, 'every connection closed once');
    assert.is(new Set(closes.map((c) => c.stream)).size, closes.length, 'no connection closed twice');
    for (const v of viewers) {
      const c = closes.find((x) => x.stream === `connection:${v.connectionId}`);
      assert.equal([c?.initiator, c?.reason], ['shutdown', 'server_shutdown'], v.connectionId);
    }
    const unfinishedOps = db
      .prepare("SELECT stream FROM events WHERE type = 'operation.started' AND stream NOT IN (SELECT stream FROM events WHERE type IN ('operation.completed','operation.failed','operation.cancelled'))")
      .all();
    assert.equal(unfinishedOps, [], 'every operation has an outcome');
    const unfinishedTasks = db
      .prepare("SELECT stream FROM events WHERE type = 'task.created' AND stream NOT IN (SELECT stream FROM events WHERE type IN ('task.completed','task.failed','task.cancelled','task.timed_out'))")
      .all();
    assert.equal(unfinishedTasks, [], 'every task has an outcome');
    const benchOutcome = db
      .prepare("SELECT e.type, e.data FROM events e WHERE e.stream = ? ORDER BY version DESC LIMIT 1")
      .get(`operation:${bench.body.operation_id}`) as { type: string; data: string };
    assert.is(benchOutcome.type, 'operation.cancelled', 'the running benchmark was cancelled, on the record');
    const shutdownOps = db
      .prepare("SELECT (SELECT type FROM events o WHERE o.stream = s.stream ORDER BY version DESC LIMIT 1) FROM events s WHERE s.type = 'operation.started' AND json_extract(s.data, '$.type') = 'shutdown_close'")
      .pluck()
      .all();
    assert.equal(shutdownOps, ['operation.completed'], 'the closes ran as one shutdown operation');
    const stopped = db.prepare("SELECT stream, count(*) AS n FROM events WHERE type = 'server.stopped' GROUP BY stream").all() as { stream: string; n: number }[];
    const streams = db.prepare("SELECT count(*) FROM events WHERE type = 'server.created'").pluck().get() as number;
    assert.is(stopped.length, streams, 'every stream (the benchmark\'s too) recorded as stopped');
    assert.ok(stopped.every((s) => s.n === 1), 'each exactly once');
    db.close();
  } finally {
    await Promise.all(viewers.map((v) => v.leave().catch(() => {})));
    cleanup();
  }
});
shutdown.run();

const restart = suite('restart after kill -9');
restart('closes out the connections, operations and tasks the killed process left open (reason process_restart)', async () => {
  const { dir, cleanup } = tempDir('wrm-kill9-');
  const dbPath = join(dir, 'monitor.db');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', '--persistence-path', dbPath, '--content-dir', CONTENT_DIR], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, WEBRTC_MONITOR_LOG_LEVEL: 'silent' },
  });
  let viewer: Viewer | null = null;
  try {
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await within(once(lines, 'line'), 30_000, 'serve to say it is listening')) as [string];
    const url = /listening on (http:\/\/\S+)/.exec(line)![1];
    const res = await fetch(`${url}${WEBRTC}/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'sample.webm' }) });
    const stream = await res.json();
    viewer = await connectViewer(stream.whep_url, { expect: 'media' });
    // Killed once the server's log holds `connected`: its live feed says when.
    const feed = await openSse(`${url}${MONITOR}/events/stream?after=0&stream=connection:${viewer.connectionId}&type=connection.state_changed`);
    try {
      await feed.waitFor((frames) => frames.some((f) => f.data !== null && JSON.parse(f.data).data.kind === 'connection' && JSON.parse(f.data).data.to === 'connected'), 30_000);
    } finally {
      feed.close();
    }

    child.kill('SIGKILL');
    await once(child, 'exit');

    const server = await startWebRtcServer({}, { keepDir: dir });
    try {
      assert.ok(server.recovered.connections >= 1, JSON.stringify(server.recovered));
      assert.is(server.recovered.servers, 1, 'the stream the killed process served is closed out too');
      const last = (await server.services.store.readStream(`server:${stream.server_id}`)).at(-1);
      assert.equal([last?.type, last?.data], ['server.stopped', { server_id: stream.server_id, reason: 'process_restart' }]);
      const c = (await server.json(`${MONITOR}/connections/${viewer.connectionId}`)).body.connection;
      assert.is(c.category, 'closed');
      assert.equal(c.close, { reason: 'process_restart', initiator: 'process_restart' });
      const summary = (await server.json(`${MONITOR}/summary`)).body;
      assert.is(summary.connection_states.connected, 0);
      assert.is(summary.pending_tasks, 0);
      assert.is((await server.json(`${WEBRTC}/connections`)).body.length, 0, 'nothing live in the new process');
    } finally {
      await server.stop();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await viewer?.leave().catch(() => {});
    cleanup();
  }
});
restart.run();
