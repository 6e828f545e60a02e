// Figures 1 and 2: the write side. Every contender gets a fresh database file
// in the same directory and appends the same generated events; each file is
// deleted as soon as its run is measured, so no later contender competes with
// the kernel writing back an earlier one's pages.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/log/open.ts';
import { SqliteEventStore } from '../src/log/sqliteStore.ts';
import { Projector } from '../src/projections/sqlite/projector.ts';
import { streamName, validateEvent } from '../src/log/catalogue.ts';
import { generateLog, type Intent } from './make-log.ts';
import { median, percentile, type Figure } from './report.ts';

const BATCH = 100;
const ROUNDS = 3;
const rate = (events: number, ms: number) => events / (ms / 1000);

/** Deletes a contender's database file and its WAL and shared-memory files. */
function discard(path: string) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

/** Runs a contender on a fresh file at `path`, then deletes the file. */
async function onFreshFile<T>(path: string, run: (path: string) => T | Promise<T>): Promise<T> {
  discard(path);
  try {
    return await run(path);
  } finally {
    discard(path);
  }
}

/** The project's path: EventStore.append with the inline projector; 100 single-event appends per tick share one commit. */
async function eventLogRate(path: string, intents: Intent[], projections = true): Promise<number> {
  const log = SqliteEventStore.open(path, { projector: projections ? new Projector() : null });
  const t0 = performance.now();
  for (let i = 0; i < intents.length; i += BATCH) {
    const results = await Promise.all(intents.slice(i, i + BATCH).map((x) => log.append(x.stream, [x.event], { meta: x.meta })));
    if (!results.every((r) => r.ok)) throw new Error('an append conflicted');
  }
  const ms = performance.now() - t0;
  if (log.stats.batches !== Math.ceil(intents.length / BATCH)) {
    throw new Error(`expected ${BATCH} appends per commit, saw ${log.stats.batches} commits`);
  }
  await log.close();
  return rate(intents.length, ms);
}

/** The anchor: prepared inserts of the same rows (already serialised) into the same schema, 100 per transaction. */
function rawRate(path: string, intents: Intent[]): number {
  const db = openDatabase(path);
  const rows = intents.map((x) => {
    const checked = validateEvent(x.event);
    if (!checked.ok) throw new Error(checked.problem);
    return [x.stream, x.version, x.event.type, JSON.stringify(checked.data), JSON.stringify({ schema: 1, ...x.meta }), x.at] as const;
  });
  const insert = db.prepare('INSERT INTO events (stream, version, type, data, meta, recorded_at) VALUES (?, ?, ?, ?, ?, ?)');
  const commit = db.transaction((batch: (typeof rows)[number][]) => {
    for (const r of batch) insert.run(...r);
  });
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) commit(rows.slice(i, i + BATCH));
  const ms = performance.now() - t0;
  db.close();
  return rate(rows.length, ms);
}

const streamType = (stream: string) => stream.slice(0, stream.indexOf(':'));

/**
 * Emmett's SQLite store, given the same batch shape: one persistent
 * connection, the same pragmas, 100 appendToStream calls in one transaction
 * (its connection nests transactions). Its own event-store API commits each
 * append separately and reopens the file per call; that is measured too.
 */
async function emmettRates(dir: string, intents: Intent[], defaultApiEvents: number) {
  const emmett = await import('@event-driven-io/emmett-sqlite');
  const toMessage = (x: Intent) => ({ type: x.event.type, data: x.event.data as Record<string, unknown>, metadata: x.meta });
  const retried = { retries: 0 };
  // Emmett prints each failed transaction's error with console.log: on
  // stdout it would break `--json`. Its errors are counted instead.
  const consoleLog = console.log;
  console.log = () => {};
  try {
    const batched = await onFreshFile(join(dir, 'emmett.db'), async (fileName) => {
      const connection = emmett.sqliteConnection({ fileName });
      try {
        for (const pragma of ['journal_mode = WAL', 'synchronous = NORMAL', 'busy_timeout = 5000', 'cache_size = -32000']) {
          await connection.command(`PRAGMA ${pragma}`);
        }
        await emmett.createEventStoreSchema(connection);
        const t0 = performance.now();
        for (let i = 0; i < intents.length; i += BATCH) {
          await retryBusy(retried, () =>
            connection.withTransaction(async () => {
              for (const x of intents.slice(i, i + BATCH)) {
                const r = await emmett.appendToStream(connection, x.stream, streamType(x.stream), [toMessage(x)]);
                if (!r.success) throw new Error('emmett append failed');
              }
            }),
          );
        }
        return rate(intents.length, performance.now() - t0);
      } finally {
        connection.close();
      }
    });

    const perAppend = await onFreshFile(join(dir, 'emmett-store.db'), async (fileName) => {
      const store = emmett.getSQLiteEventStore({ fileName });
      const some = intents.slice(0, defaultApiEvents);
      await retryBusy(retried, () => store.appendToStream(some[0].stream, [toMessage(some[0])])); // creates the schema
      const t1 = performance.now();
      for (const x of some.slice(1)) await retryBusy(retried, () => store.appendToStream(x.stream, [toMessage(x)]));
      return rate(some.length - 1, performance.now() - t1);
    });
    return { batched, perAppend, retries: retried.retries };
  } finally {
    console.log = consoleLog;
  }
}

/**
 * Emmett 0.38's SQLite connection runs its `INSERT/UPDATE ... RETURNING`
 * with node-sqlite3's `Database#get`, which finalizes the statement
 * asynchronously; a COMMIT that gets there first fails with SQLITE_BUSY
 * "cannot commit transaction - SQL statements in progress" (about one
 * append in a thousand here). The transaction is rolled back, so the attempt
 * is made again, timed with the rest; the retries are counted in the note.
 */
async function retryBusy<T>(counter: { retries: number }, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || tries >= 5) throw err;
      counter.retries++;
    }
  }
}


export async function appendFigures(dir: string, sizes: { events: number; emmettEvents: number; emmettApiEvents: number }): Promise<Figure[]> {
  const intents = [...generateLog(sizes.events)];
  // Warm-up on a throw-away file: zod schemas, statement caches, the JIT.
  await onFreshFile(join(dir, 'warm.db'), (path) => eventLogRate(path, intents.slice(0, 2000)));
  // Interleaved rounds, a fresh file each time, medians: a shared machine drifts.
  const runs = { raw: [] as number[], ours: [] as number[], logOnly: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    runs.raw.push(await onFreshFile(join(dir, `raw-${r}.db`), (path) => rawRate(path, intents)));
    runs.ours.push(await onFreshFile(join(dir, `eventlog-${r}.db`), (path) => eventLogRate(path, intents)));
    runs.logOnly.push(await onFreshFile(join(dir, `eventlog-noproj-${r}.db`), (path) => eventLogRate(path, intents, false)));
  }
  const raw = median(runs.raw);
  const ours = median(runs.ours);
  const logOnly = median(runs.logOnly);
  const emmett = await emmettRates(dir, intents.slice(0, sizes.emmettEvents), sizes.emmettApiEvents);
  const shape = `median of ${ROUNDS} interleaved rounds of ${sizes.events.toLocaleString('en-US')} generated events, single-event appends, ${BATCH} per transaction`;
  return [
    {
      id: 'append.eventlog_vs_raw',
      group: 1,
      label: 'EventStore.append + inline projections',
      value: ours,
      unit: 'events/s',
      anchor: { label: 'raw better-sqlite3 inserts', value: raw },
      ratio: ours / raw,
      target: { text: '≥ 0.5× raw', met: ours / raw >= 0.5 },
      note: `${shape}; raw inserts pre-serialised rows into the same events table (no validation, no projections)`,
    },
    {
      id: 'append.eventlog_no_projections_vs_raw',
      group: 1,
      label: 'EventStore.append, projections off',
      value: logOnly,
      unit: 'events/s',
      anchor: { label: 'raw better-sqlite3 inserts', value: raw },
      ratio: logOnly / raw,
      note: 'the same appends with no inline Projector: what validation, version checks and group commit cost on their own',
    },
    {
      id: 'append.eventlog_vs_emmett',
      group: 1,
      label: 'EventStore.append vs Emmett (same batch shape)',
      value: ours,
      unit: 'events/s',
      anchor: { label: 'emmett-sqlite appendToStream', value: emmett.batched },
      ratio: ours / emmett.batched,
      target: { text: '≥ 3× Emmett', met: ours / emmett.batched >= 3 },
      note: `Emmett 0.38.5 on ${sizes.emmettEvents.toLocaleString('en-US')} of the same events, one connection, WAL + synchronous=NORMAL, ${BATCH} appendToStream calls per transaction; ${emmett.retries} Emmett transaction(s) retried after its SQLITE_BUSY race (in both Emmett figures)`,
    },
    {
      id: 'append.eventlog_vs_emmett_store_api',
      group: 1,
      label: 'EventStore.append vs Emmett event-store API',
      value: ours,
      unit: 'events/s',
      anchor: { label: 'getSQLiteEventStore().appendToStream', value: emmett.perAppend },
      ratio: ours / emmett.perAppend,
      note: `Emmett's documented API, ${sizes.emmettApiEvents.toLocaleString('en-US')} events: one transaction per append, and it opens the file per call`,
    },
  ];
}

/** Figure 2: 100 producers, each awaiting its own single-event appends to its own stream. */
async function producers(path: string, count: number, perProducer: number) {
  const log = SqliteEventStore.open(path, { projector: new Projector() });
  const stats = [...generateLog(200)].find((x) => x.event.type === 'connection.stats_sampled')!.event;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: count }, async (_, p) => {
      const stream = streamName('connection', `producer-${p}`);
      for (let i = 0; i < perProducer; i++) {
        const event = i === 0 ? ({ type: 'connection.created', data: { connection_id: `producer-${p}` } } as const) : stats;
        const s = performance.now();
        const r = await log.append(stream, [event]);
        latencies.push(performance.now() - s);
        if (!r.ok) throw new Error('conflict');
      }
    }),
  );
  const ms = performance.now() - t0;
  const batches = log.stats.batches;
  await log.close();
  latencies.sort((a, b) => a - b);
  const total = count * perProducer;
  return { eps: rate(total, ms), p50: percentile(latencies, 50), p99: percentile(latencies, 99), perCommit: total / batches };
}

export async function groupCommitFigures(dir: string, perProducer: number): Promise<Figure[]> {
  await onFreshFile(join(dir, 'gc-warm.db'), (path) => producers(path, 10, 20));
  const ones = [];
  const manys = [];
  for (let r = 0; r < ROUNDS; r++) {
    ones.push(await onFreshFile(join(dir, `gc-one-${r}.db`), (path) => producers(path, 1, perProducer * 10)));
    manys.push(await onFreshFile(join(dir, `gc-many-${r}.db`), (path) => producers(path, 100, perProducer)));
  }
  type Run = (typeof ones)[number];
  const mid = (runs: Run[]) => ({
    eps: median(runs.map((x) => x.eps)),
    p50: median(runs.map((x) => x.p50)),
    p99: median(runs.map((x) => x.p99)),
    perCommit: median(runs.map((x) => x.perCommit)),
  });
  const one = mid(ones);
  const many = mid(manys);
  return [
    {
      id: 'group_commit.events_per_s',
      group: 2,
      label: '100 producers, single-event appends',
      value: many.eps,
      unit: 'events/s',
      anchor: { label: '1 producer', value: one.eps },
      ratio: many.eps / one.eps,
      note: `medians of ${ROUNDS} interleaved rounds; ${perProducer} appends per producer (1 producer: ${perProducer * 10}); ${many.perCommit.toFixed(1)} events per commit on average (1 producer: ${one.perCommit.toFixed(1)})`,
    },
    {
      id: 'group_commit.latency_p50',
      group: 2,
      label: 'append latency p50, 100 producers',
      value: many.p50,
      unit: 'ms',
      anchor: { label: '1 producer', value: one.p50 },
      ratio: many.p50 / one.p50,
    },
    {
      id: 'group_commit.latency_p99',
      group: 2,
      label: 'append latency p99, 100 producers',
      value: many.p99,
      unit: 'ms',
      anchor: { label: '1 producer', value: one.p99 },
      ratio: many.p99 / one.p99,
    },
  ];
}
