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
};

/** The single-row summary: counters moved by each event and the entity changes it caused. */
export type SummaryReadModel<T extends SQLiteTable> = {
  readonly name: string;
  readonly version: number;
  readonly table: T;
  empty(): SummaryModel;
  reduce(state: SummaryModel, event: StoredEvent, changes: EntityChanges): SummaryModel;
};
