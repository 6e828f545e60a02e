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
import { applyDerived, foldEvents, type ModelKind, type Models } from '../apply.ts';
import { ENTITY_MODELS, MODEL_KINDS } from '../models/index.ts';
import { CONNECTION_BY_ID } from '../models/connections.ts';
import { LOAD_SUMMARY, SAVE_SUMMARY } from '../models/summary.ts';
import { cloneSummary, emptySummary, type SummaryModel } from '../summary.ts';
import type { EntityReadModel } from '../readModel.ts';
import { issuesModel } from '../models/issues.ts';
import type { IssueModel } from '../issue.ts';
import { streamsModel } from '../models/streams.ts';
import type { StreamModel } from '../stream.ts';

/** Models by id; `null` means "looked up: no row". */
type Known = { [K in ModelKind]: Map<string, Models[K] | null> };

const emptyKnown = (): Known => ({ connection: new Map(), operation: new Map(), task: new Map() });
const emptyDirty = (): Record<ModelKind, Set<string>> => ({ connection: new Set(), operation: new Set(), task: new Set() });
const emptyCold = (): Known => emptyKnown();

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
  /** The hot row's upsert, for models that have one. */
  saveHot: Partial<Record<ModelKind, Statement>>;
  loadSummary: Statement;
  saveSummary: Statement;
  loadIssue: Statement;
  saveIssue: Statement;
  loadStream: Statement;
  saveStream: Statement;
};

function prepare(db: Db): Statements {
  const load = {} as Statements['load'];
  const save = {} as Statements['save'];
  const saveHot: Statements['saveHot'] = {};
  for (const kind of MODEL_KINDS) {
    const model = entityModel(kind);
    if (model.hot) {
      load[kind] = db.prepare<unknown[]>(CONNECTION_BY_ID);
      saveHot[kind] = db.prepare<unknown[]>(upsertSql(model.hot.table as SQLiteTable, []));
    } else {
      load[kind] = db.prepare<unknown[]>(loadSql(model.table)).pluck();
    }
    save[kind] = db.prepare<unknown[]>(upsertSql(model.table, model.fixed));
  }
  return {
    load,
    save,
    saveHot,
    loadSummary: db.prepare<unknown[]>(LOAD_SUMMARY).pluck(),
    saveSummary: db.prepare<unknown[]>(SAVE_SUMMARY),
    loadIssue: db.prepare<unknown[]>(loadSql(issuesModel.table)).pluck(),
    saveIssue: db.prepare<unknown[]>(upsertSql(issuesModel.table, issuesModel.fixed)),
    loadStream: db.prepare<unknown[]>(loadSql(streamsModel.table)).pluck(),
    saveStream: db.prepare<unknown[]>(upsertSql(streamsModel.table, streamsModel.fixed)),
  };
}

const entityModel = <K extends ModelKind>(kind: K) => ENTITY_MODELS[kind] as unknown as EntityReadModel<Models[K], never>;
const toRow = <K extends ModelKind>(kind: K, model: Models[K]) => entityModel(kind).toRow(model);

export class Projector implements InlineProjector {
  private known: Known = emptyKnown();
  private dirty = emptyDirty();
  /**
   * For models with a hot row: the model as of its last event that was not
   * hot-only, by id, for the entities whose full row this batch must write.
   */
  private cold = emptyCold();
  /** The summary this batch folds into (owned: a copy of the committed one). */
  private summary: SummaryModel | null = null;
  /** The summary as last written. */
  private committed: SummaryModel | null = null;
  private summaryDirty = false;
  // Issues (models/issues.ts) are the node's own model: the fleet projects
  // ENTITY_MODELS through applyEvent, so issues are folded here beside it.
  private issues = new Map<string, IssueModel | null>();
  private dirtyIssues = new Set<string>();
  // Streams (models/streams.ts), the node's own too, folded after the entity
  // models with the changes they made. Few, and each touched by every sample
  // of its viewers, so their models stay in memory like the entities'.
  private streams = new Map<string, StreamModel | null>();
  private dirtyStreams = new Set<string>();
  private statements: Statements | null = null;
  private statementsDb: Db | null = null;

  apply(db: Db, events: StoredEvent[]): void {
    const sql = this.sql(db);
    // The summary is copied once per batch (the first append of a commit) and
    // every event of the batch folded into the copy. A throw anywhere in the
    // batch rolls the transaction back and `discard` drops the copy.
    const summary = (this.summary ??= cloneSummary(loadSummary(sql)));
    const access = {
      get: <K extends ModelKind>(kind: K, id: string): Models[K] | null => {
        const known = this.known[kind] as Map<string, Models[K] | null>;
        const hit = known.get(id);
        if (hit !== undefined) return hit;
        const hot = entityModel(kind).hot;
        const row = sql.load[kind].get(id) as string | (Record<string, unknown> & { state: string }) | undefined;
        const json = row === undefined ? undefined : hot ? hot.json((row as { state: string }).state, row as Record<string, unknown>) : (row as string);
        const model = json === undefined ? null : (JSON.parse(json) as Models[K]);
        known.set(id, model);
        return model;
      },
      put: <K extends ModelKind>(kind: K, id: string, model: Models[K] | null, event: StoredEvent, before: Models[K] | null) => {
        const known = this.known[kind] as Map<string, Models[K] | null>;
        // Re-insert so Map order is least recently written first (eviction order).
        known.delete(id);
        known.set(id, model);
        this.dirty[kind].add(id);
        // The full row changes with every event but the hot-only ones (a stats
        // sample), and with the first event, whatever it is: the row must exist.
        const hot = entityModel(kind).hot;
        if (hot && (before === null || !hot.only(event))) this.cold[kind].set(id, model);
      },
    };

    const streams = {
      get: (id: string): StreamModel | null => {
        const hit = this.streams.get(id);
        if (hit !== undefined) return hit;
        const row = sql.loadStream.get(id) as string | undefined;
        const model = row === undefined ? null : (JSON.parse(row) as StreamModel);
        this.streams.set(id, model);
        return model;
      },
      put: (id: string, model: StreamModel) => {
        this.streams.delete(id);
        this.streams.set(id, model);
        this.dirtyStreams.add(id);
      },
    };
    foldEvents(access, summary, events, (event, changes) => applyDerived(streamsModel, streams, event, changes));
    for (const event of events) {
      for (const id of issuesModel.targets(event)) {
        let before = this.issues.get(id);
        if (before === undefined) {
          const row = sql.loadIssue.get(id) as string | undefined;
          before = row === undefined ? null : (JSON.parse(row) as IssueModel);
        }
        const after = issuesModel.reduce(before, id, event);
        this.issues.delete(id);
        this.issues.set(id, after);
        if (after !== before) this.dirtyIssues.add(id);
      }
    }

    this.summaryDirty = true;
  }

  flush(db: Db): void {
    const sql = this.sql(db);
    for (const kind of MODEL_KINDS) {
      const hot = entityModel(kind).hot;
      if (hot) {
        // The full row only for entities a lifecycle event changed; the narrow hot row for every one touched.
        for (const m of this.cold[kind].values()) if (m) sql.save[kind].run(toRow(kind, m));
        for (const id of this.dirty[kind]) {
          const m = this.known[kind].get(id);
          if (m) sql.saveHot[kind]!.run(hot.toRow(m as never));
        }
        continue;
      }
      for (const id of this.dirty[kind]) {
        const m = this.known[kind].get(id);
        if (m) sql.save[kind].run(toRow(kind, m));
      }
    }
    for (const id of this.dirtyIssues) {
      const m = this.issues.get(id);
      if (m) sql.saveIssue.run(issuesModel.toRow(m));
    }
    this.dirtyIssues.clear();
    for (const id of this.issues.keys()) {
      if (this.issues.size <= MODEL_CACHE_LIMIT) break;
      this.issues.delete(id);
    }
    for (const id of this.dirtyStreams) {
      const m = this.streams.get(id);
      if (m) sql.saveStream.run(streamsModel.toRow(m));
    }
    this.dirtyStreams.clear();
    for (const id of this.streams.keys()) {
      if (this.streams.size <= MODEL_CACHE_LIMIT) break;
      this.streams.delete(id);
    }
    if (this.summaryDirty && this.summary) {
      sql.saveSummary.run(JSON.stringify(this.summary));
      // The next batch folds into a copy of its own: the committed state is never changed in place.
      this.committed = this.summary;
    }
    this.summary = this.committed && cloneSummary(this.committed);
    this.dirty = emptyDirty();
    this.cold = emptyCold();
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
    this.cold = emptyCold();
    this.issues = new Map();
    this.dirtyIssues = new Set();
    this.streams = new Map();
    this.dirtyStreams = new Set();
    this.summary = null;
    this.committed = null;
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
