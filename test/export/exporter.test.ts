import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { exportLogs, CONNECTION_FORMAT, OPERATION_FORMAT } from '../../src/export/exporter.ts';
import { connectionFileName, operationFileName } from '../../src/export/paths.ts';
import { freshStore, tempDir, type TestStore } from '../helpers/db.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';
import { readJson, treeHashes } from '../helpers/files.ts';

let store: TestStore;
let now = 0;
const ids = (sql: string) => store.db.prepare(sql).pluck().all() as string[];

const Export = suite('exportLogs');
Export.before(async () => {
  store = await freshStore({ clock: () => now });
  await appendSteps(store.log, realisticSteps(41, { minEvents: 1500 }), { seed: 41, maxBatch: 30, setNow: (ms) => (now = ms) });
  // One long connection: its timeline spans several pages of the exporter.
  await store.log.append('connection:long', [{ type: 'connection.created', data: { connection_id: 'long' } }]);
  const sample = { type: 'connection.stats_sampled', data: { bytes_sent: 1, bytes_received: 1, packets_sent: 1, packets_received: 1, packets_lost: 0, rtt_ms: 1, jitter_ms: 1, bitrate_out_bps: 1, bitrate_in_bps: 1, interval_ms: 1000 } } as const;
  await store.log.append('connection:long', Array.from({ length: 4500 }, () => sample));
});
Export.after(() => store.cleanup());

Export('writes one file per connection and per operation, named <UTC timestamp>_<id>.json', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const report = await exportLogs(store.log, store.reads, { out: dir });
    const connections = readdirSync(join(dir, 'connections')).sort();
    const operations = readdirSync(join(dir, 'operations')).sort();
    const cIds = ids('SELECT id FROM connections');
    const oIds = ids('SELECT id FROM operations');
    assert.equal([report.connections, report.operations, report.files], [cIds.length, oIds.length, cIds.length + oIds.length]);
    const names: string[] = [];
    for (const id of cIds) names.push(connectionFileName((await store.reads.connection(id))!.created_at, id));
    assert.equal(connections, names.sort());
    const operationNames: string[] = [];
    for (const id of oIds) {
      const o = (await store.reads.operation(id))!;
      operationNames.push(operationFileName(o.started_at, o.type, id));
    }
    assert.equal(operations, operationNames.sort());
    for (const f of connections) assert.match(f, /^\d{8}T\d{6}\.\d{3}Z_[A-Za-z0-9_-]+\.json$/);
    assert.not.ok(readdirSync(join(dir, 'connections')).some((f) => f.endsWith('.partial')));
  } finally {
    cleanup();
  }
});

Export('writes valid JSON holding the read model, its tasks and the full timeline', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const report = await exportLogs(store.log, store.reads, { out: dir });
    let events = 0;
    for (const f of readdirSync(join(dir, 'connections'))) {
      const doc = readJson(join(dir, 'connections', f));
      assert.is(doc.format, CONNECTION_FORMAT);
      assert.equal(doc.connection, await store.reads.connection(doc.connection.id));
      const stream = await store.log.readStream(`connection:${doc.connection.id}`);
      assert.equal(doc.events.map((e: any) => e.position), stream.map((e) => e.position));
      assert.equal(doc.events.at(-1).data, stream.at(-1)!.data);
      assert.ok(Array.isArray(doc.tasks));
      events += doc.events.length;
    }
    for (const f of readdirSync(join(dir, 'operations'))) {
      const doc = readJson(join(dir, 'operations', f));
      assert.is(doc.format, OPERATION_FORMAT);
      assert.equal(doc.operation, await store.reads.operation(doc.operation.id));
      assert.equal(new Set(doc.tasks.map((t: any) => t.id)), new Set(doc.operation.task_ids));
      assert.is(doc.events.length, (await store.log.readStream(`operation:${doc.operation.id}`)).length);
      events += doc.events.length;
    }
    assert.is(report.events, events);
    const long = readJson(join(dir, 'connections', connectionFileName((await store.reads.connection('long'))!.created_at, 'long')));
    assert.is(long.events.length, 4501);
    assert.equal(long.events.map((e: any) => e.version), Array.from({ length: 4501 }, (_, i) => i + 1));
  } finally {
    cleanup();
  }
});

Export('gives byte-identical trees when run twice on the same log', async () => {
  const a = tempDir();
  const b = tempDir();
  try {
    await exportLogs(store.log, store.reads, { out: a.dir });
    await exportLogs(store.log, store.reads, { out: b.dir });
    const ha = treeHashes(a.dir);
    assert.ok(Object.keys(ha).length > 50);
    assert.equal(treeHashes(b.dir), ha);
    // And over an existing export, the same bytes again.
    await exportLogs(store.log, store.reads, { out: a.dir });
    assert.equal(treeHashes(a.dir), ha);
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

Export('lets two exports into the same directory run at once, leaving one complete tree', async () => {
  const a = tempDir();
  const b = tempDir();
  try {
    const reports = await Promise.all([exportLogs(store.log, store.reads, { out: a.dir }), exportLogs(store.log, store.reads, { out: a.dir }), exportLogs(store.log, store.reads, { out: a.dir })]);
    assert.ok(reports.every((r) => r.files === reports[0].files));
    await exportLogs(store.log, store.reads, { out: b.dir });
    assert.equal(treeHashes(a.dir), treeHashes(b.dir), 'no .partial left behind, every file whole');
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

Export('keeps hostile ids inside the directory, each in its own file', async () => {
  const hostile = ['../../x', '../../../../tmp/escape', '/abs/path', 'a\\b', 'a/b', 'a_b', 'ctl\u0001\u001f\u007f', '%2e%2e%2f', '%', 'y'.repeat(300), 'y'.repeat(299), '..', ''];
  const s = await freshStore();
  const { dir, cleanup } = tempDir();
  try {
    for (const id of hostile) {
      await s.log.append(`connection:${id}`, [{ type: 'connection.created', data: { connection_id: 'hostile' } }]);
      await s.log.append(`operation:${id}`, [{ type: 'operation.started', data: { operation_id: 'hostile', type: '../../type' } }]);
    }
    const report = await exportLogs(s.log, s.reads, { out: join(dir, 'out') });
    assert.equal([report.connections, report.operations], [hostile.length, hostile.length]);
    const connections = readdirSync(join(dir, 'out', 'connections'));
    const operations = readdirSync(join(dir, 'out', 'operations'));
    assert.is(connections.length, hostile.length, 'distinct files');
    assert.is(operations.length, hostile.length, 'distinct files');
    assert.equal(readdirSync(dir), ['out'], 'nothing written outside');
    assert.equal(readdirSync(join(dir, 'out')).sort(), ['connections', 'operations']);
    for (const f of connections) {
      assert.ok(f.length < 200);
      assert.match(f, /^[A-Za-z0-9_.-]+$/);
      assert.ok(resolve(dir, 'out', 'connections', f).startsWith(resolve(dir, 'out') + sep));
    }
    const ids = new Set(connections.map((f) => readJson(join(dir, 'out', 'connections', f)).connection.id));
    assert.equal(ids, new Set(hostile));
    assert.not.ok(existsSync('/tmp/escape.json'));
  } finally {
    await s.cleanup();
    cleanup();
  }
});

Export('exports only what was active since a time, or one connection and its operations', async () => {
  const s = await freshStore({ clock: () => now });
  const { dir, cleanup } = tempDir();
  try {
    now = Date.UTC(2026, 0, 1);
    await s.log.append('connection:old', [{ type: 'connection.created', data: { connection_id: 'old' } }, { type: 'connection.closed', data: { reason: 'r', initiator: 'local' } }]);
    await s.log.append('operation:old-op', [{ type: 'operation.started', data: { operation_id: 'old-op', type: 'close', connection_id: 'old' } }, { type: 'operation.completed', data: { result: null, duration_ms: 1 } }]);
    now = Date.UTC(2026, 0, 2);
    await s.log.append('connection:new', [{ type: 'connection.created', data: { connection_id: 'new' } }]);
    await s.log.append('operation:new-op', [{ type: 'operation.started', data: { operation_id: 'new-op', type: 'stream', connection_id: 'new' } }]);
    await s.log.append('operation:other-op', [{ type: 'operation.started', data: { operation_id: 'other-op', type: 'stream' } }]);

    const since = await exportLogs(s.log, s.reads, { out: join(dir, 'since'), since: Date.UTC(2026, 0, 1, 12) });
    assert.equal([since.connections, since.operations], [1, 2]);
    assert.match(readdirSync(join(dir, 'since', 'connections'))[0], '_new.json');

    const one = await exportLogs(s.log, s.reads, { out: join(dir, 'one'), connectionId: 'old' });
    assert.equal([one.connections, one.operations], [1, 1]);
    assert.match(readdirSync(join(dir, 'one', 'operations'))[0], '_close_old-op.json');

    const none = await exportLogs(s.log, s.reads, { out: join(dir, 'none'), connectionId: 'missing' });
    assert.equal([none.connections, none.operations, none.files], [0, 0, 0]);
  } finally {
    await s.cleanup();
    cleanup();
  }
});

Export('stops between files when its signal is aborted, leaving only whole files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const controller = new AbortController();
    let seen = 0;
    const run = exportLogs(store.log, store.reads, {
      out: dir,
      signal: controller.signal,
      onProgress: () => {
        if (++seen === 3) controller.abort(new Error('stop'));
      },
    });
    await run.then(
      () => assert.unreachable('an aborted export must reject'),
      (err) => assert.is((err as Error).message, 'stop'),
    );
    const written = readdirSync(join(dir, 'connections'));
    assert.is(written.length, 3);
    assert.not.ok(written.some((f) => f.endsWith('.partial')));
    for (const f of written) JSON.parse(readFileSync(join(dir, 'connections', f), 'utf8'));
  } finally {
    cleanup();
  }
});

Export.run();
