// kill -9 in the middle of real load: streams made and stopped, viewers
// offering and connecting, stats sampled. Every answer the server gave
// (200/201) must be backed by the log when it comes back (the operation it
// named is completed), recovery must leave nothing open, and the read
// models must equal a rebuild from the log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { rebuild, snapshotReadModels } from '../../src/projections/sqlite/rebuild.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { startCliServer } from '../helpers/cli.ts';
import { dbOf, openTestStore, tempDir } from '../helpers/db.ts';
import { CONTENT_DIR, WEBRTC, offerSdp, startWebRtcServer } from '../helpers/webrtc.ts';
import { latch, within } from '../helpers/wait.ts';

const Kill = suite('kill -9 under load');

Kill('loses no acknowledged answer; recovery closes everything out; read models equal a rebuild', async () => {
  const { dir, cleanup } = tempDir('wrm-kill-');
  const db = join(dir, 'monitor.db');
  const server = startCliServer(['--port', '0', '--persistence-path', db, '--content-dir', CONTENT_DIR, '--stats-interval', '100']);
  const viewers: Viewer[] = [];
  const acknowledged: string[] = [];
  // Fired once real work has been acknowledged.
  const enough = latch();
  const acknowledge = (id: string) => {
    acknowledged.push(id);
    if (acknowledged.length >= 40) enough.fire();
  };
  let loading = true;
  try {
    const base = await server.url;
    const offer = await offerSdp('data');
    const post = async (path: string, body: string, type = 'application/json') => {
      const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': type }, body });
      const text = await res.text();
      return { status: res.status, text, operationId: res.headers.get('x-operation-id') };
    };
    const data = JSON.parse((await post(`${WEBRTC}/stream`, JSON.stringify({ content: 'sample.webm', mode: 'data', quality: 'low' }))).text);
    for (let i = 0; i < 2; i++) viewers.push(await connectViewer(data.whep_url, { expect: 'data' }));
    const loop = async () => {
      while (loading) {
        try {
          const made = await post(`${WEBRTC}/stream`, JSON.stringify({ content: 'sample.webm', mode: 'data' }));
          if (made.status !== 200) continue;
          const stream = JSON.parse(made.text);
          acknowledge(stream.operation_id);
          const answered = await post(`${WEBRTC}/whep/${stream.server_id}`, offer, 'application/sdp');
          if (answered.status === 201 && answered.operationId) acknowledge(answered.operationId);
          const stopped = await post(`${WEBRTC}/stream/stop/${stream.server_id}`, '{}');
          if (stopped.status === 200) acknowledge(JSON.parse(stopped.text).operation_id);
        } catch {
          // the server was killed mid-request: that answer was never given
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    // Kill once real work has been acknowledged, with requests in flight.
    await within(enough.fired, 120_000, '40 acknowledged answers');
    server.child.kill('SIGKILL');
    await server.exited;
    loading = false;
    await Promise.all(loops);

    const again = await startWebRtcServer({}, { keepDir: dir });
    try {
      const sdb = dbOf(again.services);
      const status = sdb.prepare('SELECT status FROM operations WHERE id = ?').pluck();
      const lost = acknowledged.filter((id) => status.get(id) !== 'completed');
      assert.equal(lost, [], `${lost.length} of ${acknowledged.length} acknowledged answers are not completed in the log`);
      const count = (sql: string) => sdb.prepare(sql).pluck().get() as number;
      assert.is(count("SELECT count(*) FROM operations WHERE status = 'running'"), 0);
      assert.is(count("SELECT count(*) FROM tasks WHERE status IN ('created', 'running')"), 0);
      assert.is(count("SELECT count(*) FROM connections WHERE category <> 'closed'"), 0);
      assert.is(
        count("SELECT count(*) FROM events e WHERE e.type = 'server.created' AND NOT EXISTS (SELECT 1 FROM events s WHERE s.stream = e.stream AND s.type = 'server.stopped')"),
        0,
        'recovery stopped every stream',
      );
    } finally {
      await again.stop();
    }
    const file = await openTestStore(db);
    try {
      const inline = snapshotReadModels(file.db);
      await rebuild(file.log);
      assert.equal(snapshotReadModels(file.db), inline);
    } finally {
      await file.close();
    }
  } finally {
    loading = false;
    server.child.kill('SIGKILL');
    await Promise.all(viewers.map((v) => v.leave().catch(() => {})));
    cleanup();
  }
});

Kill.run();
