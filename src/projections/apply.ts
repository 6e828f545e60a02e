// One event applied to the read models: which reducer each stream feeds, and
// the rule that a task lists itself on its operation. It is pure apart from
// `models`, through which it reads and stages entity states, so the inline
// projector (SQLite, inside the append transaction) and the fleet projector
// (PostgreSQL, one node's page at a time) run exactly the same code.
import { parseStream, type StoredEvent } from '../log/catalogue.ts';
import { reduceConnection, type ConnectionModel } from './connection.ts';
import { reduceOperation, type OperationModel } from './operation.ts';
import { reduceTask, type TaskModel } from './task.ts';
import { reduceSummary, type EntityChanges, type SummaryModel } from './summary.ts';

export type Models = {
  connection: ConnectionModel;
  operation: OperationModel;
  task: TaskModel;
};
export type ModelKind = keyof Models;

/** Reads (`null`: no such entity yet) and stages entity states for one projector. */
export type ModelAccess = {
  get<K extends ModelKind>(kind: K, id: string): Models[K] | null;
  put<K extends ModelKind>(kind: K, id: string, model: Models[K] | null): void;
};

/** Applies one event and returns the next summary. Events of other streams (server, forwarder, log) only count in the summary. */
export function applyEvent(models: ModelAccess, summary: SummaryModel, event: StoredEvent): SummaryModel {
  const changes: EntityChanges = {};
  const target = parseStream(event.stream);
  if (target?.kind === 'connection') {
    const before = models.get('connection', target.id);
    const after = reduceConnection(before, target.id, event);
    if (after !== before) models.put('connection', target.id, after);
    changes.connection = { before, after };
  } else if (target?.kind === 'operation') {
    const before = models.get('operation', target.id);
    const after = reduceOperation(before, target.id, event);
    if (after !== before) models.put('operation', target.id, after);
    changes.operation = { before, after };
  } else if (target?.kind === 'task') {
    const before = models.get('task', target.id);
    const after = reduceTask(before, target.id, event);
    if (after !== before) models.put('task', target.id, after);
    changes.task = { before, after };
    // A task also lists itself on its operation.
    if (event.type === 'task.created' && event.data.operation_id) {
      const opId = event.data.operation_id;
      const opBefore = models.get('operation', opId);
      const opAfter = reduceOperation(opBefore, opId, event);
      if (opAfter !== opBefore) models.put('operation', opId, opAfter);
    }
  }
  return reduceSummary(summary, event, changes);
}

/**
 * Every entity `applyEvent` may read for this event: what a projector that
 * loads rows in bulk (the fleet's) loads before applying a page.
 */
export function entitiesRead(event: StoredEvent): { kind: ModelKind; id: string }[] {
  const target = parseStream(event.stream);
  if (!target || (target.kind !== 'connection' && target.kind !== 'operation' && target.kind !== 'task')) return [];
  const out: { kind: ModelKind; id: string }[] = [{ kind: target.kind, id: target.id }];
  if (target.kind === 'task' && event.type === 'task.created' && event.data.operation_id) {
    out.push({ kind: 'operation', id: event.data.operation_id });
  }
  return out;
}
