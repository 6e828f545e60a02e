// The `issues` read model: one row per issue the detectors raised
// (src/projections/issue.ts reduces its stream `issue:<id>`), and the SQLite
// queries the monitor and /metrics ask of it. A model of the node only: it
// is not among the entity models the fleet projects (ENTITY_MODELS), so the
// inline projector folds it beside them.
import type { Db } from '../../log/open.ts';
import { issues } from '../../log/schema.ts';
import { parseStream, type IssueSeverity, type IssueType } from '../../log/catalogue.ts';
import { col, tableName } from '../../log/names.ts';
import { cachedStatement } from '../../log/statements.ts';
import { reduceIssue, type IssueModel, type IssueStatus } from '../issue.ts';
import type { EntityReadModel } from '../readModel.ts';
import type { Page, StoredRow } from '../reads.ts';
import { Filter, storedPage } from '../sqlite/lists.ts';

export const issuesModel = {
  name: tableName(issues),
  version: 1,
  table: issues,
  fixed: ['type', 'connectionId', 'operationId', 'taskId', 'node', 'raisedAt', 'createdPosition'],
  targets(event) {
    const target = parseStream(event.stream);
    return target?.kind === 'issue' ? [target.id] : [];
  },
  reduce: reduceIssue,
  toRow: (m) => ({
    id: m.id,
    type: m.type,
    severity: m.severity,
    status: m.status,
    connectionId: m.connection_id,
    operationId: m.operation_id,
    taskId: m.task_id,
    node: m.node,
    raisedAt: Date.parse(m.raised_at),
    resolvedAt: m.resolved_at === null ? null : Date.parse(m.resolved_at),
    createdPosition: m.created_position,
    lastPosition: m.last_position,
    state: JSON.stringify(m),
  }),
} as const satisfies EntityReadModel<IssueModel, typeof issues>;

export type IssueListOptions = {
  /** Empty: every status. */
  statuses: IssueStatus[];
  severities?: IssueSeverity[];
  types?: IssueType[];
  connectionId?: string;
  limit: number;
  cursor?: string | null;
};

// ---- SQLite ------------------------------------------------------------------

const t = issues;
const LIST = { id: t.id, connectionId: t.connectionId, state: t.state, createdPosition: t.createdPosition };

/** Issues newest first. */
export function issueRows(db: Db, options: IssueListOptions): Page<StoredRow> {
  const filter = new Filter().anyOf(t.status, options.statuses).anyOf(t.severity, options.severities).anyOf(t.type, options.types).equals(t.connectionId, options.connectionId);
  return storedPage(db, t, LIST, filter, options.limit, options.cursor);
}

export function issueJson(db: Db, id: string): string | null {
  return (cachedStatement(db, `SELECT ${col(t.state)} FROM ${tableName(t)} WHERE ${col(t.id)} = ?`).pluck().get([id]) as string | undefined) ?? null;
}

/** Open issues counted by type and severity, and every issue raised (what /metrics shows). */
export function issueCounts(db: Db): { open: { type: string; severity: string; count: number }[]; raised: number } {
  const open = cachedStatement(
    db,
    `SELECT ${col(t.type)} AS type, ${col(t.severity)} AS severity, count(*) AS count FROM ${tableName(t)} WHERE ${col(t.status)} = 'open' GROUP BY 1, 2`,
  ).all([]) as { type: string; severity: string; count: number }[];
  const raised = cachedStatement(db, `SELECT count(*) FROM ${tableName(t)}`).pluck().get([]) as number;
  return { open, raised };
}
