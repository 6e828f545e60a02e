// The append path alone, for a CPU profile of where its time goes (the
// figures in bench/RESULTS.md): the generated events appended as figure 1
// appends them, 100 single-event appends per tick, inline read models on.
//
//   node --import tsx --cpu-prof --cpu-prof-dir=<dir> bench/profile-append.ts [events] [database]
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../src/log/sqliteStore.ts';
import { Projector } from '../src/projections/sqlite/projector.ts';
import { generateLog } from './make-log.ts';

const events = Number(process.argv[2] ?? 50_000);
const path = process.argv[3] ?? join(tmpdir(), `wrm-profile-append-${process.pid}.db`);
const discard = () => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
};
const intents = [...generateLog(events)];
discard();
const log = SqliteEventStore.open(path, { projector: new Projector() });
const t0 = performance.now();
for (let i = 0; i < intents.length; i += 100) {
  await Promise.all(
    intents.slice(i, i + 100).map((x) => log.append(x.stream, [x.event], { meta: x.meta, trusted: x.stream.startsWith('connection:') })),
  );
}
const ms = performance.now() - t0;
await log.close();
discard();
process.stdout.write(`${intents.length} events in ${ms.toFixed(0)} ms: ${Math.round(intents.length / (ms / 1000))} events/s\n`);
