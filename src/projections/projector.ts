// Applies the reducers to events and writes the read models. The same code
// runs inline (inside the append transaction) and in rebuild (replaying the
// log into emptied tables), which is what makes "rebuild == inline" hold.
import type { Db } from '../log/open.ts';
import type { InlineProjector } from '../log/append.ts';
import type { StoredEvent } from '../log/catalogue.ts';
import type { ConnectionModel } from './connection.ts';
import type { OperationModel } from './operation.ts';
import type { TaskModel } from './task.ts';
import { completeSummary, type SummaryModel } from './summary.ts';
import { applyEvent, type ModelKind as Kind, type Models } from './apply.ts';
import { issueRow, reduceIssue, type IssueModel } from './issue.ts';
import { parseStream } from '../log/catalogue.ts';

/** Models by id; `null` means "looked up: no row". */
type Known = { [K in Kind]: Map<string, Models[K] | null> };

const emptyKnown = (): Known => ({ connection: new Map(), operation: new Map(), task: new Map() });

/**
 * Models kept in memory between batches, per kind. Hot entities (a connection
 * sampled every second) then skip the SELECT and JSON.parse of their row.
 * This projector is the only writer of the read models while the server runs
 * (rebuild is for a stopped server), so what it remembers stays true; after a
 * failed transaction it forgets everything.
 */
export const MODEL_CACHE_LIMIT = 5_000;

export class Projector implements InlineProjector {
  private known: Known = emptyKnown();
  private dirty = { connection: new Set<string>(), operation: new Set<string>(), task: new Set<string>() };
  private summary: SummaryModel | null = null;
  private summaryDirty = false;
  // Issues (src/projections/issue.ts) are a model of this node only: the
  // fleet projector shares applyEvent, so they are folded here beside it.
  private issues = new Map<string, IssueModel | null>();
  private dirtyIssues = new Set<string>();
  private statements: ReturnType<typeof prepare> | null = null;
  private statementsDb: Db | null = null;

  apply(db: Db, events: StoredEvent[]): void {
    const sql = this.sql(db);
    let summary = this.summary ?? loadSummary(sql);
    const get = <K extends Kind>(kind: K, id: string): Models[K] | null => {
      const known = this.known[kind] as Map<string, Models[K] | null>;
      const hit = known.get(id);
      if (hit !== undefined) return hit;
      const row = sql.load[kind].get(id) as string | undefined;
      const model = row === undefined ? null : (JSON.parse(row) as Models[K]);
      known.set(id, model);
      return model;
    };
    const put = <K extends Kind>(kind: K, id: string, model: Models[K] | null) => {
      const known = this.known[kind] as Map<string, Models[K] | null>;
      // Re-insert so Map order is least recently written first (eviction order).
      known.delete(id);
      known.set(id, model);
      this.dirty[kind].add(id);
    };

    for (const event of events) {
      summary = applyEvent({ get, put }, summary, event);
      if (event.type.startsWith('issue.')) {
        const target = parseStream(event.stream);
        if (target?.kind !== 'issue') continue;
        let before = this.issues.get(target.id);
        if (before === undefined) {
          const row = sql.loadIssue.get(target.id) as string | undefined;
          before = row === undefined ? null : (JSON.parse(row) as IssueModel);
        }
        const after = reduceIssue(before, target.id, event);
        this.issues.delete(target.id);
        this.issues.set(target.id, after);
        if (after !== before) this.dirtyIssues.add(target.id);
      }
    }

    this.summary = summary;
    this.summaryDirty = true;
  }

  flush(db: Db): void {
    const sql = this.sql(db);
    for (const id of this.dirty.connection) {
      const m = this.known.connection.get(id);
      if (m) sql.saveConnection.run(connectionRow(m));
    }
    for (const id of this.dirty.operation) {
      const m = this.known.operation.get(id);
      if (m) sql.saveOperation.run(operationRow(m));
    }
    for (const id of this.dirty.task) {
      const m = this.known.task.get(id);
      if (m) sql.saveTask.run(taskRow(m));
    }
    for (const id of this.dirtyIssues) {
      const m = this.issues.get(id);
      if (m) sql.saveIssue.run(issueRow(m));
    }
    this.dirtyIssues.clear();
    for (const id of this.issues.keys()) {
      if (this.issues.size <= MODEL_CACHE_LIMIT) break;
      this.issues.delete(id);
    }
    if (this.summaryDirty && this.summary) sql.saveSummary.run(JSON.stringify(this.summary));
    this.dirty = { connection: new Set(), operation: new Set(), task: new Set() };
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
    this.dirty = { connection: new Set(), operation: new Set(), task: new Set() };
    this.issues = new Map();
    this.dirtyIssues = new Set();
    this.summary = null;
    this.summaryDirty = false;
  }

  private sql(db: Db) {
    if (this.statementsDb !== db || !this.statements) {
      this.statements = prepare(db);
      this.statementsDb = db;
    }
    return this.statements;
  }
}

function prepare(db: Db) {
  return {
    load: {
      connection: db.prepare('SELECT state FROM connections WHERE id = ?').pluck(),
      operation: db.prepare('SELECT state FROM operations WHERE id = ?').pluck(),
      task: db.prepare('SELECT state FROM tasks WHERE id = ?').pluck(),
    },
    loadSummary: db.prepare('SELECT state FROM summary WHERE id = 1').pluck(),
    loadIssue: db.prepare('SELECT state FROM issues WHERE id = ?').pluck(),
    saveIssue: db.prepare(
      `INSERT INTO issues (id, type, severity, status, connection_id, operation_id, task_id, node, raised_at, resolved_at,
         created_position, last_position, state)
       VALUES (@id, @type, @severity, @status, @connection_id, @operation_id, @task_id, @node, @raised_at, @resolved_at,
         @created_position, @last_position, @state)
       ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, status = excluded.status, resolved_at = excluded.resolved_at,
         last_position = excluded.last_position, state = excluded.state`,
    ),
    saveSummary: db.prepare(
      'INSERT INTO summary (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state',
    ),
    saveConnection: db.prepare(
      `INSERT INTO connections (id, server_id, category, connection_state, ice_state, outcome, stalled, created_at, updated_at,
         closed_at, created_position, last_position, state)
       VALUES (@id, @server_id, @category, @connection_state, @ice_state, @outcome, @stalled, @created_at, @updated_at,
         @closed_at, @created_position, @last_position, @state)
       ON CONFLICT (id) DO UPDATE SET server_id = excluded.server_id, category = excluded.category,
         connection_state = excluded.connection_state, ice_state = excluded.ice_state,
         outcome = excluded.outcome, stalled = excluded.stalled,
         updated_at = excluded.updated_at, closed_at = excluded.closed_at,
         last_position = excluded.last_position, state = excluded.state`,
    ),
    saveOperation: db.prepare(
      `INSERT INTO operations (id, type, status, connection_id, server_id, started_at, ended_at, duration_ms,
         created_position, last_position, state)
       VALUES (@id, @type, @status, @connection_id, @server_id, @started_at, @ended_at, @duration_ms,
         @created_position, @last_position, @state)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at,
         duration_ms = excluded.duration_ms, last_position = excluded.last_position, state = excluded.state`,
    ),
    saveTask: db.prepare(
      `INSERT INTO tasks (id, name, status, operation_id, connection_id, abandoned, created_at, ended_at,
         created_position, last_position, state)
       VALUES (@id, @name, @status, @operation_id, @connection_id, @abandoned, @created_at, @ended_at,
         @created_position, @last_position, @state)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, abandoned = excluded.abandoned, ended_at = excluded.ended_at,
         last_position = excluded.last_position, state = excluded.state`,
    ),
  };
}

function loadSummary(sql: ReturnType<typeof prepare>): SummaryModel {
  const row = sql.loadSummary.get() as string | undefined;
  return completeSummary(row ? (JSON.parse(row) as Partial<SummaryModel>) : null);
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

export function connectionRow(m: ConnectionModel) {
  return {
    id: m.id,
    server_id: m.server_id,
    category: m.category,
    connection_state: m.connection_state,
    ice_state: m.ice_connection_state,
    outcome: m.outcome ?? null,
    stalled: m.stalled ? 1 : 0,
    created_at: ms(m.created_at),
    updated_at: ms(m.updated_at),
    closed_at: ms(m.closed_at),
    created_position: m.created_position,
    last_position: m.last_position,
    state: JSON.stringify(m),
  };
}

export function operationRow(m: OperationModel) {
  return {
    id: m.id,
    type: m.type,
    status: m.status,
    connection_id: m.connection_id,
    server_id: m.server_id,
    started_at: ms(m.started_at),
    ended_at: ms(m.ended_at),
    duration_ms: m.duration_ms,
    created_position: m.created_position,
    last_position: m.last_position,
    state: JSON.stringify(m),
  };
}

export function taskRow(m: TaskModel) {
  return {
    id: m.id,
    name: m.name,
    status: m.status,
    operation_id: m.operation_id,
    connection_id: m.connection_id,
    abandoned: m.abandoned ? 1 : 0,
    created_at: ms(m.created_at),
    ended_at: ms(m.ended_at),
    created_position: m.created_position,
    last_position: m.last_position,
    state: JSON.stringify(m),
  };
}
