// Storage that fails for real: a small tmpfs this test mounts, filled to the
// last byte while a server writes to it, then freed; and the same tmpfs
// remounted read-only under a server that starts. Needs root (mount).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, openReadOnly } from '../../src/log/open.ts';
import { connectViewer, type Viewer } from '../../src/webrtc/viewer.ts';
import { requireRoot } from '../helpers/prerequisites.ts';
import { runCli, startCliServer } from '../helpers/cli.ts';
import { tempDir } from '../helpers/db.ts';
import { CONTENT_DIR, MONITOR, WEBRTC, waitFor } from '../helpers/webrtc.ts';

/** Mounts a tmpfs of `size` on a fresh directory; `unmount()` undoes it and removes the directory. */
function mountTmpfs(size: string) {
  requireRoot('it mounts a small tmpfs to fill (or make read-only) the disk under the database');
  const { dir, cleanup } = tempDir('wrm-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    remountReadOnly: () => execFileSync('mount', ['-o', 'remount,ro', dir]),
    unmount() {
      try {
        execFileSync('umount', ['-l', dir]);
      } finally {
        cleanup();
      }
    },
  };
}

/** Writes a file until the disk has no byte left; returns its path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

type Answer = { status: number; code?: string; retryAfter: string | null; operationId?: string };

const Full = suite('a disk that fills up under a live server');

Full('answers 503 STORAGE_FULL with Retry-After (never 500), reports only outcomes in the log, and marks the loss once space returns', async () => {
  const disk = mountTmpfs('8m');
  const db = join(disk.dir, 'monitor.db');
  const server = startCliServer(['--port', '0', '--persistence-path', db, '--content-dir', CONTENT_DIR, '--stats-interval', '100', '--shutdown-grace', '2000']);
  const viewers: Viewer[] = [];
  try {
    const base = await server.url;
    const post = async (path: string, json: unknown = {}): Promise<Answer & { body: any }> => {
      const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
      const body = await res.json().catch(() => null);
      return { status: res.status, code: body?.code, retryAfter: res.headers.get('retry-after'), operationId: body?.operation_id ?? body?.errors?.operation_id, body };
    };
    // Viewers whose stats samples keep the log busy while the disk is full.
    const data = await post(`${WEBRTC}/stream`, { content: 'sample.webm', mode: 'data', quality: 'low' });
    assert.is(data.status, 200);
    for (let i = 0; i < 2; i++) viewers.push(await connectViewer(data.body.whep_url, { expect: 'data' }));

    const filler = fillDisk(disk.dir);
    const answers: Answer[] = [];
    for (let i = 0; i < 400 && answers.filter((a) => a.code === 'STORAGE_FULL').length < 5; i++) {
      const created = await post(`${WEBRTC}/stream`, { content: 'sample.webm', mode: 'data' });
      answers.push(created);
      if (created.status === 200) answers.push(await post(`${WEBRTC}/stream/stop/${created.body.server_id}`));
    }
    const refused = answers.filter((a) => a.status !== 200);
    assert.ok(refused.length >= 5, `the full disk refused ${refused.length} of ${answers.length} requests`);
    for (const a of refused) {
      assert.is(a.status, 503, JSON.stringify(a));
      assert.is(a.code, 'STORAGE_FULL');
      assert.ok(Number(a.retryAfter) > 0, 'Retry-After');
    }
    const summary = await fetch(`${base}${MONITOR}/summary`);
    assert.is(summary.status, 200, 'reads still answered');
    await summary.body?.cancel();

    // Space returns: writes succeed again, and the log marks what it lost.
    rmSync(filler);
    await waitFor(async () => (await post(`${WEBRTC}/stream`, { content: 'sample.webm', mode: 'data' })).status === 200, 10_000, 'writes after the disk was freed');
    const gaps = await waitFor(async () => {
      const page = await (await fetch(`${base}${MONITOR}/events?stream=log:gaps&limit=100`)).json();
      return page.events.length ? page.events : null;
    }, 10_000, 'a log.gap marker');
    const lost = gaps.reduce((n: number, g: { data: { events: number } }) => n + g.data.events, 0);
    assert.ok(lost > 0);
    assert.is(gaps[0].data.error.code, 'STORAGE_FULL');

    // Every answered 200 is in the log as completed; every outcome that could not be recorded ends failed.
    for (const a of answers.filter((x) => x.operationId)) {
      const op = await waitFor(async () => {
        const r = await (await fetch(`${base}${MONITOR}/operations/${a.operationId}`)).json();
        return r.operation?.status !== 'running' ? r.operation : null;
      }, 10_000, `operation ${a.operationId} to end on the record`);
      if (a.status === 200) assert.is(op.status, 'completed', JSON.stringify(op));
      else assert.equal([op.status, op.error?.code], ['failed', 'STORAGE_FULL']);
    }
    await Promise.all(viewers.map((v) => v.close().catch(() => {})));
    assert.is(await server.stop(), 0, server.output().stderr);
    const file = openReadOnly(db);
    try {
      assert.is(file.prepare("SELECT count(*) FROM operations WHERE status = 'running'").pluck().get(), 0, 'no operation left running after a clean shutdown');
      assert.is(file.prepare("SELECT count(*) FROM tasks WHERE status IN ('created', 'running')").pluck().get(), 0, 'no task left pending');
    } finally {
      file.close();
    }
  } finally {
    await Promise.all(viewers.map((v) => v.leave().catch(() => {})));
    server.child.kill('SIGKILL');
    await server.exited.catch(() => {});
    disk.unmount();
  }
});

Full.run();

const ReadOnly = suite('a database that cannot be written');

ReadOnly('fails the start with a clear message instead of listening and failing every write', async () => {
  const disk = mountTmpfs('8m');
  try {
    const db = join(disk.dir, 'monitor.db');
    // A database made by an earlier run, then a read-only file system under it.
    openDatabase(db).close();
    disk.remountReadOnly();
    const r = await runCli(['serve', '--port', '0', '--persistence-path', db], { timeoutMs: 30_000 });
    assert.is(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.not.match(r.stdout, /listening/);
    assert.match(r.stderr, /STORAGE_UNAVAILABLE: the database .*monitor\.db cannot be opened for writing/);
  } finally {
    disk.unmount();
  }
});

ReadOnly.run();
