// The `connections` read model: one row per connection (src/projections/connection.ts
// reduces its stream), and the SQLite queries the monitor and the exporter
// ask of it.
import { and, asc, gt, gte } from 'drizzle-orm';
import type { Db } from '../../log/open.ts';
import { connections } from '../../log/schema.ts';
import { parseStream } from '../../log/catalogue.ts';
import { orm } from '../../log/orm.ts';
import { col, tableName } from '../../log/names.ts';
import { reduceConnection, type ConnectionModel } from '../connection.ts';
import type { EntityReadModel } from '../readModel.ts';
import type { ConnectionListOptions, ExportPageOptions, Page, StoredRow } from '../reads.ts';
import { Filter, storedPage } from '../sqlite/lists.ts';

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

export const connectionsModel = {
  name: tableName(connections),
  version: 1,
  table: connections,
  fixed: ['createdAt', 'createdPosition'],
  targets(event) {
    const target = parseStream(event.stream);
    return target?.kind === 'connection' ? [target.id] : [];
  },
  reduce: reduceConnection,
  toRow: (m) => ({
    id: m.id,
    serverId: m.server_id,
    category: m.category,
    connectionState: m.connection_state,
    iceState: m.ice_connection_state,
    outcome: m.outcome,
    stalled: m.stalled ? 1 : 0,
    createdAt: ms(m.created_at)!,
    updatedAt: ms(m.updated_at)!,
    closedAt: ms(m.closed_at),
    createdPosition: m.created_position,
    lastPosition: m.last_position,
    state: JSON.stringify(m),
  }),
} as const satisfies EntityReadModel<ConnectionModel, typeof connections>;

// ---- SQLite ------------------------------------------------------------------

const c = connections;
const LIST = { id: c.id, connectionId: c.id, state: c.state, createdPosition: c.createdPosition };

export function connectionRows(db: Db, options: ConnectionListOptions): Page<StoredRow> {
  const filter = new Filter();
  if (options.categories?.length) filter.anyOf(c.category, options.categories);
  else if (!options.includeClosed && !options.outcomes?.length) filter.raw(`${col(c.category)} <> 'closed'`);
  filter.anyOf(c.outcome, options.outcomes);
  if (options.stalled !== undefined) filter.equals(c.stalled, options.stalled ? 1 : 0);
  filter.equals(c.serverId, options.serverId);
  return storedPage(db, c, LIST, filter, options.limit, options.cursor);
}

export function connectionsForExport(db: Db, options: ExportPageOptions): ConnectionModel[] {
  return orm(db)
    .select({ state: c.state })
    .from(c)
    .where(and(gt(c.createdPosition, options.after), gte(c.updatedAt, options.activeSince)))
    .orderBy(asc(c.createdPosition))
    .limit(options.limit)
    .all()
    .map((r) => JSON.parse(r.state) as ConnectionModel);
}
