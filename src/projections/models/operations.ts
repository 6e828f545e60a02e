// The `operations` read model: one row per operation (src/projections/operation.ts),
// and the SQLite queries the monitor and the exporter ask of it.
import { and, asc, eq, gt, gte, sql } from 'drizzle-orm';
import type { Db } from '../../log/open.ts';
import { operations } from '../../log/schema.ts';
import { parseStream } from '../../log/catalogue.ts';
import { orm } from '../../log/orm.ts';
import { tableName } from '../../log/names.ts';
import { reduceOperation, type OperationModel } from '../operation.ts';
import type { EntityReadModel } from '../readModel.ts';
import type { ExportPageOptions, OperationListOptions, Page, StoredRow } from '../reads.ts';
import { Filter, storedPage } from '../sqlite/lists.ts';

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

export const operationsModel = {
  name: tableName(operations),
  version: 1,
  table: operations,
  fixed: ['type', 'connectionId', 'serverId', 'startedAt', 'createdPosition'],
  targets(event) {
    const target = parseStream(event.stream);
    if (target?.kind === 'operation') return [target.id];
    // A task lists itself on its operation.
    if (event.type === 'task.created' && event.data.operation_id) return [event.data.operation_id];
    return [];
  },
  reduce: reduceOperation,
  toRow: (m) => ({
    id: m.id,
    type: m.type,
    status: m.status,
    connectionId: m.connection_id,
    serverId: m.server_id,
    startedAt: ms(m.started_at)!,
    endedAt: ms(m.ended_at),
    durationMs: m.duration_ms,
    createdPosition: m.created_position,
    lastPosition: m.last_position,
    state: JSON.stringify(m),
  }),
} as const satisfies EntityReadModel<OperationModel, typeof operations>;

// ---- SQLite ------------------------------------------------------------------

const o = operations;
const LIST = { id: o.id, connectionId: o.connectionId, state: o.state, createdPosition: o.createdPosition };

export function operationRows(db: Db, options: OperationListOptions): Page<StoredRow> {
  const filter = new Filter().anyOf(o.status, options.statuses).equals(o.type, options.type);
  return storedPage(db, o, LIST, filter, options.limit, options.cursor);
}

export function operationsForExport(db: Db, options: ExportPageOptions & { connectionId?: string }): OperationModel[] {
  return orm(db)
    .select({ state: o.state })
    .from(o)
    .where(
      and(
        gt(o.createdPosition, options.after),
        gte(sql`coalesce(${o.endedAt}, ${o.startedAt})`, options.activeSince),
        options.connectionId === undefined ? undefined : eq(o.connectionId, options.connectionId),
      ),
    )
    .orderBy(asc(o.createdPosition))
    .limit(options.limit)
    .all()
    .map((r) => JSON.parse(r.state) as OperationModel);
}
