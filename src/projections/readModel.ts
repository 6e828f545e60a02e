// What a read model is: a descriptor per model (src/projections/models/)
// holding its pure reducer, which entities an event changes, how a state
// becomes a row, and a version. The projectors (inline in SQLite, the
// fleet's in PostgreSQL) and rebuild are generic over these descriptors, so a
// model's rules live with the model and nowhere else.
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { StoredEvent } from '../log/catalogue.ts';
import type { EntityChanges, SummaryModel } from './summary.ts';

/**
 * One row per entity: its whole state as JSON (`state`) plus the columns the
 * monitor filters and sorts on, all from `toRow`.
 */
export type EntityReadModel<M extends { id: string }, T extends SQLiteTable> = {
  /** The table's name; also the model's name in `read_model_versions`. */
  readonly name: string;
  /**
   * Bumped whenever the reducer or the row mapping changes what a row holds
   * for the same events: the next start rebuilds the read models (before it
   * serves), so no reader ever patches rows written by an older version.
   */
  readonly version: number;
  readonly table: T;
  /** Columns written when the row is created and never rewritten by an update (the fleet's upsert leaves them too). */
  readonly fixed: readonly (keyof T['$inferInsert'] & string)[];
  /** The ids of the entities of this model that `event` changes (none for most events). */
  targets(event: StoredEvent): readonly string[];
  /** (state, event) => state; `null` before the entity exists. */
  reduce(state: M | null, id: string, event: StoredEvent): M | null;
  toRow(model: M): T['$inferInsert'];
  /**
   * A narrow second row for the fields that most events move (a connection's
   * stats sample, counters and positions), so those events rewrite it alone.
   * `toRow` then maps the rest, as of the last event that is not `only`; the
   * model is the two rows put back together (`json`).
   */
  readonly hot?: HotRows<M>;
};

export type HotRows<M> = {
  readonly table: SQLiteTable;
  /** Events that change nothing but the hot fields (after the entity exists). */
  only(event: StoredEvent): boolean;
  toRow(model: M): Record<string, unknown>;
  /** The model's JSON text from its `state` column and its hot row (as `toRow` keys it). */
  json(state: string, hot: Record<string, unknown>): string;
};

/** The single-row summary: counters moved by each event and the entity changes it caused. */
export type SummaryReadModel<T extends SQLiteTable> = {
  readonly name: string;
  readonly version: number;
  readonly table: T;
  empty(): SummaryModel;
  reduce(state: SummaryModel, event: StoredEvent, changes: EntityChanges): SummaryModel;
};

/**
 * One row per entity, moved by an event and by the changes that event made
 * to the entity models (a stream by its viewers' connection changes), so it
 * is folded after them, event by event, like the summary.
 */
export type DerivedReadModel<M extends { id: string }, T extends SQLiteTable> = {
  readonly name: string;
  readonly version: number;
  readonly table: T;
  readonly fixed: readonly (keyof T['$inferInsert'] & string)[];
  /** The ids of the entities of this model that `event`, with what it changed, moves. */
  targets(event: StoredEvent, changes: EntityChanges): readonly string[];
  /** (state, event, what it changed) => state; `null` before the entity exists. */
  reduce(state: M | null, id: string, event: StoredEvent, changes: EntityChanges): M | null;
  toRow(model: M): T['$inferInsert'];
};
