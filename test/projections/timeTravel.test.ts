import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { positionAt, summaryAt } from '../../src/projections/timeTravel.ts';
import { parsed } from '../../src/projections/reads.ts';
import type { ConnectionModel } from '../../src/projections/connection.ts';
import type { SummaryModel } from '../../src/projections/summary.ts';
import { headPosition } from '../../src/log/read.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';
import { appendSteps, realisticSteps } from '../helpers/events.ts';

let store: TestStore;
let now = 0;
/** What the read models said once the first 800 events were in. */
let then: { position: number; time: number; summary: Promise<SummaryModel>; connections: Promise<ConnectionModel[]> } | undefined;
const at = () => then!;

const TimeTravel = suite('summaryAt, connectionsAt (the log replayed up to a point)');
TimeTravel.before(async () => {
  // One log; once 800 events are in, the read models as they stood then
  // (read in the same turn: the SQLite reads compute when called), and the
  // clock moves on by a millisecond, so "then" is a time too.
  let bump = 0;
  store = await freshStore({ clock: () => now + bump });
  await appendSteps(store.log, realisticSteps(7, { minEvents: 1600 }), {
    seed: 7,
    maxBatch: 10,
    setNow: (ms) => {
      if (!then && store?.db && headPosition(store.db) >= 800) {
        then = {
          position: headPosition(store.db),
          time: now + bump,
          summary: store.reads.summary(),
          connections: store.reads.connectionRows({ includeClosed: true, limit: 1000 }).then((p) => parsed<ConnectionModel>(p).items),
        };
        bump = 1;
      }
      now = ms;
    },
  });
  assert.ok(headPosition(store.db) > at().position + 500, 'the log went on');
});
TimeTravel.after(() => store.cleanup());

TimeTravel('answers the summary at a past position exactly as the inline projection stood then', async () => {
  assert.equal(await summaryAt(store.log, { position: at().position }, 1_000_000), await at().summary);
  assert.not.equal(await store.reads.summary(), await at().summary);
});

TimeTravel('finds the last position at a time, and the same summary by time as by position', async () => {
  assert.is(await positionAt(store.log, { time: at().time }), at().position);
  assert.is(await positionAt(store.log, { time: Date.UTC(2000, 0, 1) }), 0);
  assert.is(await positionAt(store.log, { time: Date.UTC(2100, 0, 1) }), headPosition(store.db));
  assert.equal(await summaryAt(store.log, { time: at().time }, 1_000_000), await at().summary);
});

TimeTravel('refuses a position past the head, and a replay longer than the bound, and answers within it', async () => {
  const head = headPosition(store.db);
  const beyond = await positionAt(store.log, { position: head + 1 }).catch((e) => e);
  assert.equal([beyond.code, beyond.details], ['POSITION_BEYOND_LOG', { head_position: head }]);
  const far = await summaryAt(store.log, { position: at().position }, at().position - 1).catch((e) => e);
  assert.is(far.code, 'TIME_TRAVEL_TOO_FAR');
  assert.equal(far.details, { events: at().position, max_events: at().position - 1 });
  assert.is((await summaryAt(store.log, { position: at().position }, at().position)).log_position, at().position);
});

TimeTravel('lists the connections as they were then, each folded up to there, filtered by what they were then', async () => {
  const connections = await at().connections;
  const page = await store.reads.connectionsAt({ position: at().position }, { includeClosed: true, limit: 1000, maxEvents: 1_000_000 });
  assert.is(page.nextCursor, null);
  assert.equal(page.items, connections);
  const open = await store.reads.connectionsAt({ position: at().position }, { limit: 1000, maxEvents: 1_000_000 });
  assert.equal(open.items.map((c) => c.id), connections.filter((c) => c.category !== 'closed').map((c) => c.id));
  const failed = await store.reads.connectionsAt({ position: at().position }, { outcomes: ['failed'], limit: 1000, maxEvents: 1_000_000 });
  assert.ok(failed.items.length > 0);
  assert.equal(failed.items.map((c) => c.id), connections.filter((c) => c.outcome === 'failed').map((c) => c.id));
});

TimeTravel('pages through the candidates with a cursor, shorter pages when the event bound is reached, with no gap and no repeat', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let short = 0;
  for (let pages = 0; pages < 500; pages++) {
    const page: { items: ConnectionModel[]; nextCursor: string | null } = await store.reads.connectionsAt(
      { position: at().position },
      { includeClosed: true, limit: 7, cursor, maxEvents: 40 },
    );
    seen.push(...page.items.map((c) => c.id));
    if (!page.nextCursor) break;
    if (page.items.length < 7) short++;
    cursor = page.nextCursor;
  }
  assert.ok(short > 0, 'the event bound cut some pages short');
  assert.equal(seen, (await at().connections).map((c) => c.id));
});

TimeTravel.run();

const Pruned = suite('summaryAt on a pruned log');
Pruned('is refused with TIME_TRAVEL_TOO_FAR: the start of the log is gone', async () => {
  const small = await freshStore();
  try {
    await small.log.append('connection:a', [
      { type: 'connection.created', data: { connection_id: 'a' } },
      ...Array.from({ length: 5 }, (_, i) => ({ type: 'connection.error' as const, data: { code: 'E', message: `e${i}` } })),
    ]);
    assert.is((await summaryAt(small.log, { position: 6 }, 100)).event_count, 6);
    await small.log.prune({ throughPosition: 2 });
    const err = await summaryAt(small.log, { position: 6 }, 100).catch((e) => e);
    assert.equal([err.code, err.details], ['TIME_TRAVEL_TOO_FAR', { pruned_through: 2 }]);
  } finally {
    await small.cleanup();
  }
});
Pruned.run();
