// Checks a large log end to end: rebuild == inline on a generated log of
// 100,000 events (every event type, thousands of streams, hostile ids), and
// the append rate with projections inline beside raw prepared inserts of the
// same rows, measured in the same run. Exits 1 if rebuild differs.
//   npx tsx bench/verify-log.ts [parent dir] [events]
// It works in a new temporary directory under the parent (default: the OS's).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../src/log/open.ts';
import { SqliteEventStore } from '../src/log/sqliteStore.ts';
import { Projector } from '../src/projections/sqlite/projector.ts';
import { rebuild, snapshotReadModels } from '../src/projections/sqlite/rebuild.ts';
import { realisticSteps, type Step } from '../test/helpers/events.ts';

const work = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'webrtc-monitor-verify-'));
const N = Number(process.argv[3] ?? 100_000);
console.log(`working in ${work}`);

const steps: Step[] = [...realisticSteps(2026, { minEvents: N, concurrency: 40 })];
const total = steps.reduce((n, s) => n + s.events.length, 0);
console.log(`generated ${steps.length} appends, ${total} events, ${new Set(steps.map((s) => s.stream)).size} streams`);

async function appendAll(path: string, appendsPerTick: number, list: Step[]) {
  let now = Date.UTC(2026, 0, 1);
  const log = SqliteEventStore.open(path, { projector: new Projector(), clock: () => now });
  const t0 = performance.now();
  for (let i = 0; i < list.length; i += appendsPerTick) {
    const batch = list.slice(i, i + appendsPerTick).map((s) => log.append(s.stream, s.events, { meta: s.meta }));
    await Promise.all(batch);
    now += 250;
  }
  const ms = performance.now() - t0;
  const events = list.slice(0).reduce((n, s) => n + s.events.length, 0);
  const stats = { ...log.stats };
  return { log, db: log.db, ms, events, stats };
}

function rawInsert(source: Db, path: string, perTx: number) {
  const rows = source.prepare('SELECT stream, version, type, data, meta, recorded_at FROM events ORDER BY position').raw().all() as unknown[][];
  const db = openDatabase(path);
  const insert = db.prepare('INSERT INTO events (stream, version, type, data, meta, recorded_at) VALUES (?, ?, ?, ?, ?, ?)');
  const tx = db.transaction((chunk: unknown[][]) => {
    for (const r of chunk) insert.run(...r);
  });
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += perTx) tx(rows.slice(i, i + perTx));
  const ms = performance.now() - t0;
  db.close();
  return { ms, events: rows.length };
}

const rate = (events: number, ms: number) => Math.round(events / (ms / 1000));

// 1. Append rate, side by side, on a slice of up to 20,000 events with three batch shapes.
const slice: Step[] = [];
for (let n = 0, i = 0; n < 20_000 && i < steps.length; i++) {
  slice.push(steps[i]);
  n += steps[i].events.length;
}
console.log('\nappend rate (up to 20k events; an append is 1-2 events):');
for (const perTick of [1, 10, 100]) {
  const a = await appendAll(join(work, `rate-${perTick}.db`), perTick, slice);
  const raw = rawInsert(a.db, join(work, `raw-${perTick}.db`), 100);
  const avgBatch = (a.stats.events / a.stats.batches).toFixed(1);
  console.log(
    `  ${perTick} appends/tick (${avgBatch} events per commit): EventStore.append + inline projections ${rate(a.events, a.ms)} events/s` +
      ` | raw prepared INSERT, 100 per transaction: ${rate(raw.events, raw.ms)} events/s | ratio ${(raw.ms / a.ms).toFixed(2)}`,
  );
  await a.log.close();
}

// 2. The full log, rebuild == inline.
const full = await appendAll(join(work, 'monitor.db'), 100, steps);
console.log(`\nfull log: ${full.events} events in ${Math.round(full.ms)} ms (${rate(full.events, full.ms)} events/s, ${full.stats.batches} commits)`);
const types = full.db.prepare('SELECT count(DISTINCT type) FROM events').pluck().get();
const streams = full.db.prepare('SELECT count(DISTINCT stream) FROM events').pluck().get();
console.log(`  ${types} event types, ${streams} streams`);
const inline = snapshotReadModels(full.db);
const t0 = performance.now();
const report = await rebuild(full.log);
const rebuildMs = performance.now() - t0;
const rebuilt = snapshotReadModels(full.db);
const same = JSON.stringify(rebuilt) === JSON.stringify(inline);
console.log(
  `  rebuild: ${report.events} events in ${Math.round(rebuildMs)} ms (${Math.round(report.eventsPerSecond)} events/s); rebuilt == inline: ${same}` +
    ` (${inline.connections.length} connections, ${inline.operations.length} operations, ${inline.tasks.length} tasks)`,
);
full.db.pragma('wal_checkpoint(TRUNCATE)');
await full.log.close();
console.log(`peak RSS of this process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
if (!same) process.exit(1);
