// The `tasks` read model: one row per tracked task (src/projections/task.ts),
// and the SQLite query the monitor asks of it.
import type { Db } from '../../log/open.ts';
import { tasks } from '../../log/schema.ts';
import { parseStream } from '../../log/catalogue.ts';
import { col, tableName } from '../../log/names.ts';
import { reduceTask, type TaskModel } from '../task.ts';
import type { EntityReadModel } from '../readModel.ts';
import type { Page, StoredRow, TaskListOptions } from '../reads.ts';
import { Filter, storedPage } from '../sqlite/lists.ts';

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

export const tasksModel = {
  name: tableName(tasks),
  version: 1,
  table: tasks,
  fixed: ['name', 'operationId', 'connectionId', 'createdAt', 'createdPosition'],
  targets(event) {
    const target = parseStream(event.stream);
    return target?.kind === 'task' ? [target.id] : [];
  },
  reduce: reduceTask,
  toRow: (m) => ({
    id: m.id,
    name: m.name,
    status: m.status,
    operationId: m.operation_id,
    connectionId: m.connection_id,
    abandoned: m.abandoned ? 1 : 0,
    createdAt: ms(m.created_at)!,
    endedAt: ms(m.ended_at),
    createdPosition: m.created_position,
    lastPosition: m.last_position,
    state: JSON.stringify(m),
  }),
} as const satisfies EntityReadModel<TaskModel, typeof tasks>;

// ---- SQLite ------------------------------------------------------------------

const t = tasks;
const LIST = { id: t.id, connectionId: t.connectionId, state: t.state, createdPosition: t.createdPosition };

export function taskRows(db: Db, options: TaskListOptions): Page<StoredRow> {
  const filter = new Filter();
  if (options.abandoned && options.statuses.length) {
    filter.raw(`(${col(t.status)} IN (${options.statuses.map(() => '?').join(', ')}) OR ${col(t.abandoned)} = 1)`, ...options.statuses);
  } else if (options.abandoned) filter.equals(t.abandoned, 1);
  else filter.anyOf(t.status, options.statuses);
  filter.equals(t.connectionId, options.connectionId).equals(t.operationId, options.operationId);
  return storedPage(db, t, LIST, filter, options.limit, options.cursor);
}
