// The fast log writer must produce exactly what the append path produces, or
// the read-side benchmarks would measure a log the server could never write.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { openDatabase } from '../../src/log/open.ts';
import { rebuild, snapshotReadModels, staleReadModels } from '../../src/projections/sqlite/rebuild.ts';
import { generateLog, writeFast, writeViaAppend } from '../../bench/make-log.ts';
import { openTestStore, tempDir } from '../helpers/db.ts';

const N = 1500;
const allEvents = (db: ReturnType<typeof openDatabase>) =>
  db.prepare('SELECT * FROM events ORDER BY position').all().map((r) => JSON.stringify(r));

const GenerateLog = suite('generateLog');

GenerateLog('yields exactly N events in non-decreasing time, the same ones on every run', () => {
  for (const n of [40, 97, 2000]) {
    const first = [...generateLog(n)];
    assert.is(first.length, n);
    for (let i = 1; i < first.length; i++) assert.ok(first[i].at >= first[i - 1].at, `event ${i} goes back in time`);
    assert.equal(JSON.stringify([...generateLog(n)]), JSON.stringify(first));
  }
});

GenerateLog.run();

const WriteFast = suite('writeFast');

WriteFast('writes the same events and read models as EventStore.append, and rebuild agrees', async () => {
  const { dir, cleanup } = tempDir('wrm-makelog-');
  try {
    const fastDb = openDatabase(join(dir, 'fast.db'));
    assert.is(writeFast(fastDb, generateLog(N), 256), N);
    assert.equal(staleReadModels(fastDb), [], 'the read models it wrote are marked current');
    fastDb.close();

    let now = 0;
    const slow = await openTestStore(join(dir, 'slow.db'), { clock: () => now });
    assert.is(await writeViaAppend(slow.log, (ms) => (now = ms), generateLog(N)), N);

    const fast = await openTestStore(join(dir, 'fast.db'));
    assert.equal(allEvents(fast.db), allEvents(slow.db));
    const inline = snapshotReadModels(slow.db);
    assert.ok(inline.connections.length > 5, 'the log has connections');
    assert.ok(inline.operations.length > 5, 'the log has operations');
    assert.equal(snapshotReadModels(fast.db), inline);
    await rebuild(fast.log, { chunkSize: 333 });
    assert.equal(snapshotReadModels(fast.db), inline);
    await fast.close();
    await slow.close();
  } finally {
    cleanup();
  }
});

WriteFast.run();
