// Time travel over the whole log: the summary and the connection list as they
// were at a time or log position, built by replaying the log up to there
// through the same reducers the append path runs (apply.ts), in memory.
// Nothing is stored; the work is bounded by `maxEvents`, and the replay
// yields to the event loop between pages so no request holds it. It reads
// the log through the EventStore interface only.
import { AppError } from '../errors.ts';
import { streamName } from '../log/catalogue.ts';
import type { EventStore } from '../log/store.ts';
import { applyEvent, type ModelAccess, type ModelKind, type Models } from './apply.ts';
import { foldConnection, type ConnectionModel } from './connection.ts';
import { emptySummary, type SummaryModel } from './summary.ts';
import type { AsOf, ConnectionListOptions } from './reads.ts';

/** Events replayed per page before the loop gets a turn. */
const PAGE = 2_000;
/** Connections folded between turns of the loop (each a read of its stream). */
const CONNECTIONS_PER_TURN = 50;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A position this log has not reached: refused, never answered as now. */
function beyondLog(position: number, head: number): AppError {
  return new AppError(
    'POSITION_BEYOND_LOG',
    `position ${position} is past the end of this log (its head is ${head}); ask about a position of this log, or a time`,
    { head_position: head },
  );
}

/**
 * The last log position at `at`: the position itself (refused past the
 * head), or the last event recorded at or before the time (0 before the
 * first). Positions and record times rise together (one clock, one writer,
 * appends in commit order), so a binary search over positions finds it in a
 * few index look-ups however long the log, where a search by time would scan it.
 */
export async function positionAt(store: EventStore, at: AsOf): Promise<number> {
  const head = await store.head();
  if (at.position !== undefined) {
    if (at.position > head) throw beyondLog(at.position, head);
    return at.position;
  }
  const time = at.time!;
  const first = await store.firstAfter(0);
  if (!first || first.recordedAt > time) return 0;
  let lo = first.position; // recorded at or before `time`
  let hi = head + 1; // past the end, or the first position whose first event at or after it is later than `time`
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    // The first event at or after `mid` (positions have gaps where the log was pruned).
    const e = await store.firstAfter(mid - 1);
    if (e && e.recordedAt <= time) lo = e.position;
    else hi = mid;
  }
  return lo;
}

/** Entity models in memory for one replay: what the inline projector keeps in tables. */
function memoryModels(): ModelAccess {
  const known: { [K in ModelKind]: Map<string, Models[K] | null> } = { connection: new Map(), operation: new Map(), task: new Map() };
  return {
    get: <K extends ModelKind>(kind: K, id: string) => (known[kind] as Map<string, Models[K] | null>).get(id) ?? null,
    put: <K extends ModelKind>(kind: K, id: string, model: Models[K] | null) => void (known[kind] as Map<string, Models[K] | null>).set(id, model),
  };
}

/**
 * The summary as it was at `at`: the log replayed from its start through the
 * same reducers. Refused (400 TIME_TRAVEL_TOO_FAR) when that needs more than
 * `maxEvents` events, or when the log was pruned (its start is gone, so no
 * replay can count what it held).
 */
export async function summaryAt(store: EventStore, at: AsOf, maxEvents: number): Promise<SummaryModel> {
  const until = await positionAt(store, at);
  const pruned = await store.prunedThrough();
  if (pruned !== null) {
    throw new AppError(
      'TIME_TRAVEL_TOO_FAR',
      `events up to position ${pruned} were pruned, so the summary at an earlier point cannot be rebuilt from this log; ask about one connection (connections/:id?at=) instead`,
      { pruned_through: pruned },
    );
  }
  // Positions start at 1 and have no gaps in a log never pruned: `until` events.
  if (until > maxEvents) {
    throw new AppError(
      'TIME_TRAVEL_TOO_FAR',
      `the summary at that point needs ${until} events replayed, more than the ${maxEvents} one request may (--time-travel-max-events); ask about an earlier point, or about one connection`,
      { events: until, max_events: maxEvents },
    );
  }
  const models = memoryModels();
  let summary = emptySummary();
  let after = 0;
  while (after < until) {
    const page = await store.readLog({ after, until, limit: PAGE });
    if (!page.length) break;
    for (const event of page) summary = applyEvent(models, summary, event);
    after = page[page.length - 1].position;
    if (after < until) await turn();
  }
  return summary;
}

/** The list's filters, applied to what each connection was then; `maxEvents` bounds the replay per page. */
export type ConnectionsAtOptions = Omit<ConnectionListOptions, 'cursor'> & { maxEvents: number };

/** Connections created at or before `until`, newest first, below `before` (a created_position; null: from the newest). */
export type ConnectionCandidates = (until: number, before: number | null, limit: number) => Promise<{ id: string; createdPosition: number }[]>;

/**
 * The connections that existed at `at`, newest first, each folded from its
 * own stream up to there and filtered by what it was then (its state at
 * `at`, not now). One page looks at no more than `limit` candidates and
 * replays at most about `maxEvents` events (a connection is folded whole): a
 * page may hold fewer than `limit` items and still go on, as a filter that
 * matches rarely pages through the candidates. `nextBefore` is the
 * created_position to go on below, null on the last page.
 */
export async function connectionsAt(
  store: EventStore,
  candidates: ConnectionCandidates,
  at: AsOf,
  before: number | null,
  options: ConnectionsAtOptions,
): Promise<{ items: ConnectionModel[]; nextBefore: number | null }> {
  const until = await positionAt(store, at);
  const found = await candidates(until, before, options.limit + 1);
  const items: ConnectionModel[] = [];
  let replayed = 0;
  let looked = 0;
  for (const c of found.slice(0, options.limit)) {
    const events = await store.readStream(streamName('connection', c.id), { untilPosition: until });
    replayed += events.length;
    looked++;
    const m = foldConnection(c.id, events);
    if (m && matches(m, options)) items.push(m);
    if (replayed >= options.maxEvents) break;
    if (looked % CONNECTIONS_PER_TURN === 0) await turn();
  }
  const more = looked < found.length;
  return { items, nextBefore: more ? found[looked - 1].createdPosition : null };
}

/** The list's filters, applied to what a connection was then (as connectionRows applies them to what it is now). */
function matches(m: ConnectionModel, o: ConnectionsAtOptions): boolean {
  if (o.categories?.length) {
    if (!o.categories.includes(m.category)) return false;
  } else if (!o.includeClosed && !o.outcomes?.length && m.category === 'closed') return false;
  if (o.outcomes?.length && (!m.outcome || !o.outcomes.includes(m.outcome))) return false;
  if (o.stalled !== undefined && m.stalled !== o.stalled) return false;
  if (o.serverId !== undefined && m.server_id !== o.serverId) return false;
  return true;
}
