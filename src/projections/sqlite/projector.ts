// The inline projector: applies each append's events to the read models
// inside the append transaction (a read right after an append sees it), and
// is what rebuild replays the log through, which is what makes "rebuild ==
// inline" hold. Generic over the model descriptors (src/projections/models/):
// each model's load and upsert statements are built from its table in the
// schema and its `fixed` columns.
import { getTableColumns } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db, Statement } from '../../log/open.ts';
import type { InlineProjector } from '../../log/append.ts';
import type { StoredEvent } from '../../log/catalogue.ts';
import { col, tableName } from '../../log/names.ts';
import { applyEvent, type ModelKind, type Models } from '../apply.ts';
import { ENTITY_MODELS, MODEL_KINDS } from '../models/index.ts';
import { LOAD_SUMMARY, SAVE_SUMMARY } from '../models/summary.ts';
import { emptySummary, type SummaryModel } from '../summary.ts';
import type { EntityReadModel } from '../readModel.ts';

/** Models by id; `null` means "looked up: no row". */
type Known = { [K in ModelKind]: Map<string, Models[K] | null> };

const emptyKnown = (): Known => ({ connection: new Map(), operation: new Map(), task: new Map() });
const emptyDirty = (): Record<ModelKind, Set<string>> => ({ connection: new Set(), operation: new Set(), task: new Set() });

/**
 * Models kept in memory between batches, per kind. Hot entities (a connection
 * sampled every second) then skip the SELECT and JSON.parse of their row.
 * This projector is the only writer of the read models while the server runs
 * (the server holds the database: rebuild and prune refuse meanwhile), so
 * what it remembers stays true; after a failed transaction it forgets
 * everything.
 */
export const MODEL_CACHE_LIMIT = 5_000;

/** `SELECT state FROM <table> WHERE id = ?` for a model. */
export function loadSql(table: SQLiteTable): string {
  const columns = getTableColumns(table);
  return `SELECT ${col(columns.state)} FROM ${tableName(table)} WHERE ${col(columns.id)} = ?`;
}

/**
 * The upsert of one row from its `toRow` object (named parameters are its
 * keys): every column on insert; on conflict every column but the key and
 * the model's `fixed` ones.
 */
export function upsertSql(table: SQLiteTable, fixed: readonly string[]): string {
  const columns = getTableColumns(table);
  const keys = Object.keys(columns);
  const updated = keys.filter((k) => k !== 'id' && !fixed.includes(k));
  return (
    `INSERT INTO ${tableName(table)} (${keys.map((k) => col(columns[k])).join(', ')}) VALUES (${keys.map((k) => `@${k}`).join(', ')})` +
    ` ON CONFLICT (${col(columns.id)}) DO UPDATE SET ${updated.map((k) => `${col(columns[k])} = excluded.${col(columns[k])}`).join(', ')}`
  );
}

type Statements = {
  load: Record<ModelKind, Statement>;
  save: Record<ModelKind, Statement>;
  loadSummary: Statement;
  saveSummary: Statement;
};

function prepare(db: Db): Statements {
  const load = {} as Statements['load'];
  const save = {} as Statements['save'];
  for (const kind of MODEL_KINDS) {
    const model = ENTITY_MODELS[kind];
    load[kind] = db.prepare<unknown[]>(loadSql(model.table)).pluck();
    save[kind] = db.prepare<unknown[]>(upsertSql(model.table, model.fixed));
  }
  return { load, save, loadSummary: db.prepare<unknown[]>(LOAD_SUMMARY).pluck(), saveSummary: db.prepare<unknown[]>(SAVE_SUMMARY) };
}

const toRow = <K extends ModelKind>(kind: K, model: Models[K]) =>
  (ENTITY_MODELS[kind] as unknown as EntityReadModel<Models[K], never>).toRow(model);

export class Projector implements InlineProjector {
  private known: Known = emptyKnown();
  private dirty = emptyDirty();
  private summary: SummaryModel | null = null;
  private summaryDirty = false;
  private statements: Statements | null = null;
  private statementsDb: Db | null = null;

  apply(db: Db, events: StoredEvent[]): void {
    const sql = this.sql(db);
    let summary = this.summary ?? loadSummary(sql);
    const access = {
      get: <K extends ModelKind>(kind: K, id: string): Models[K] | null => {
        const known = this.known[kind] as Map<string, Models[K] | null>;
        const hit = known.get(id);
        if (hit !== undefined) return hit;
        const row = sql.load[kind].get(id) as string | undefined;
        const model = row === undefined ? null : (JSON.parse(row) as Models[K]);
        known.set(id, model);
        return model;
      },
      put: <K extends ModelKind>(kind: K, id: string, model: Models[K] | null) => {
        const known = this.known[kind] as Map<string, Models[K] | null>;
        // Re-insert so Map order is least recently written first (eviction order).
        known.delete(id);
        known.set(id, model);
        this.dirty[kind].add(id);
      },
    };

    for (const event of events) summary = applyEvent(access, summary, event);

    this.summary = summary;
    this.summaryDirty = true;
  }

  flush(db: Db): void {
    const sql = this.sql(db);
    for (const kind of MODEL_KINDS) {
      for (const id of this.dirty[kind]) {
        const m = this.known[kind].get(id);
        if (m) sql.save[kind].run(toRow(kind, m));
      }
    }
    if (this.summaryDirty && this.summary) sql.saveSummary.run(JSON.stringify(this.summary));
    this.dirty = emptyDirty();
    this.summaryDirty = false;
    for (const known of Object.values(this.known) as Map<string, unknown>[]) {
      for (const id of known.keys()) {
        if (known.size <= MODEL_CACHE_LIMIT) break;
        known.delete(id);
      }
    }
  }

  /** The transaction failed: forget everything, the tables are the truth. */
  discard(): void {
    this.known = emptyKnown();
    this.dirty = emptyDirty();
    this.summary = null;
    this.summaryDirty = false;
  }

  private sql(db: Db): Statements {
    if (this.statementsDb !== db || !this.statements) {
      this.statements = prepare(db);
      this.statementsDb = db;
    }
    return this.statements;
  }
}

function loadSummary(sql: Statements): SummaryModel {
  const row = sql.loadSummary.get() as string | undefined;
  return row ? (JSON.parse(row) as SummaryModel) : emptySummary();
}
