// The `streams` read model: one row per stream (src/projections/stream.ts
// reduces its own events and its viewers' connection changes), and the
// SQLite queries the monitor asks of it. A model of the node only, like
// issues: the fleet does not project it (its monitor refuses the streams
// routes), so it is not among ENTITY_MODELS and the inline projector folds it
// after them, with the changes they made.
import type { Db } from '../../log/open.ts';
import { streams } from '../../log/schema.ts';
import { col, tableName } from '../../log/names.ts';
import { cachedStatement } from '../../log/statements.ts';
import { reduceStream, streamTargets, type StreamModel } from '../stream.ts';
import type { DerivedReadModel } from '../readModel.ts';
import type { Page, StoredRow, StreamListOptions } from '../reads.ts';
import { Filter, storedPage } from '../sqlite/lists.ts';

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

export const streamsModel = {
  name: tableName(streams),
  version: 1,
  table: streams,
  fixed: ['createdPosition'],
  targets: (event, changes) => streamTargets(event, changes.connection),
  reduce: (state, id, event, changes) => reduceStream(state, id, event, changes.connection),
  toRow: (m) => ({
    id: m.id,
    streamState: m.state,
    content: m.content,
    startedAt: ms(m.started_at),
    stoppedAt: ms(m.stopped_at),
    viewersNow: m.viewers.now,
    createdPosition: m.created_position,
    lastPosition: m.last_position,
    state: JSON.stringify(m),
  }),
} as const satisfies DerivedReadModel<StreamModel, typeof streams>;

// ---- SQLite ------------------------------------------------------------------

const t = streams;
const LIST = { id: t.id, state: t.state, createdPosition: t.createdPosition };

/** Streams newest first (by the position of their first event); `states` empty or absent: every state. */
export function streamRows(db: Db, options: StreamListOptions): Page<StoredRow> {
  return storedPage(db, t, LIST, new Filter().anyOf(t.streamState, options.states), options.limit, options.cursor);
}

/** One stream's read model as stored JSON text, or null. */
export function streamJson(db: Db, id: string): string | null {
  return (cachedStatement(db, `SELECT ${col(t.state)} FROM ${tableName(t)} WHERE ${col(t.id)} = ?`).pluck().get([id]) as string | undefined) ?? null;
}
