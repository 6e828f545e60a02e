// One event applied to the read models: each entity model reduces the
// entities it says the event changes (src/projections/models/), then the
// summary folds the event with those changes. It is pure apart from
// `models`, through which it reads and stages entity states, so the inline
// projector (SQLite, inside the append transaction) and the fleet projector
// (PostgreSQL, one node's page at a time) run exactly the same code.
import type { StoredEvent } from '../log/catalogue.ts';
import type { ConnectionModel } from './connection.ts';
import type { OperationModel } from './operation.ts';
import type { TaskModel } from './task.ts';
import type { EntityChanges, SummaryModel } from './summary.ts';
import { ENTITY_MODELS, MODEL_KINDS, summaryModel, type ModelKind } from './models/index.ts';
import type { EntityReadModel } from './readModel.ts';

export type { ModelKind };

export type Models = {
  connection: ConnectionModel;
  operation: OperationModel;
  task: TaskModel;
};

/** Reads (`null`: no such entity yet) and stages entity states for one projector. */
export type ModelAccess = {
  get<K extends ModelKind>(kind: K, id: string): Models[K] | null;
  put<K extends ModelKind>(kind: K, id: string, model: Models[K] | null): void;
};

const entityModel = <K extends ModelKind>(kind: K) => ENTITY_MODELS[kind] as unknown as EntityReadModel<Models[K], never>;

/** Applies one event and returns the next summary. Events no entity model takes (server, forwarder, log) only count in the summary. */
export function applyEvent(models: ModelAccess, summary: SummaryModel, event: StoredEvent): SummaryModel {
  const changes: EntityChanges = {};
  for (const kind of MODEL_KINDS) {
    const model = entityModel(kind);
    for (const id of model.targets(event)) {
      const before = models.get(kind, id);
      const after = model.reduce(before, id, event);
      if (after !== before) models.put(kind, id, after);
      (changes as Record<ModelKind, unknown>)[kind] = { before, after };
    }
  }
  return summaryModel.reduce(summary, event, changes);
}

/**
 * Every entity `applyEvent` may read for this event: what a projector that
 * loads rows in bulk (the fleet's) loads before applying a page.
 */
export function entitiesRead(event: StoredEvent): { kind: ModelKind; id: string }[] {
  return MODEL_KINDS.flatMap((kind) => entityModel(kind).targets(event).map((id) => ({ kind, id })));
}
