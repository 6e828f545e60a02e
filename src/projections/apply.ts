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
import { foldSummary, type EntityChanges, type SummaryModel } from './summary.ts';
import { ENTITY_MODELS, MODEL_KINDS, summaryModel, type ModelKind } from './models/index.ts';
import type { DerivedReadModel, EntityReadModel } from './readModel.ts';

export type { ModelKind };

export type Models = {
  connection: ConnectionModel;
  operation: OperationModel;
  task: TaskModel;
};

/** Reads (`null`: no such entity yet) and stages entity states for one projector. */
export type ModelAccess = {
  get<K extends ModelKind>(kind: K, id: string): Models[K] | null;
  /** `event` changed the entity from `before` to `model`. */
  put<K extends ModelKind>(kind: K, id: string, model: Models[K] | null, event: StoredEvent, before: Models[K] | null): void;
};

const entityModel = <K extends ModelKind>(kind: K) => ENTITY_MODELS[kind] as unknown as EntityReadModel<Models[K], never>;

/** Applies one event and returns the next summary. Events no entity model takes (server, forwarder, log) only count in the summary. */
export function applyEvent(models: ModelAccess, summary: SummaryModel, event: StoredEvent): SummaryModel {
  return summaryModel.reduce(summary, event, applyToEntities(models, event));
}

/**
 * applyEvent for a batch, into a summary the caller owns (a `cloneSummary`
 * it made once for the batch): the same reducers, the same result, without
 * a copy of the summary per event.
 */
export function foldEvents(
  models: ModelAccess,
  owned: SummaryModel,
  events: readonly StoredEvent[],
  /** Told each event with the entity changes it made (what a derived model, such as streams, moves by). */
  then?: (event: StoredEvent, changes: EntityChanges) => void,
): void {
  for (const event of events) {
    const changes = applyToEntities(models, event);
    foldSummary(owned, event, changes);
    then?.(event, changes);
  }
}

/** Reads (`null`: none yet) and stages the entities of one derived model. */
export type DerivedAccess<M> = {
  get(id: string): M | null;
  put(id: string, model: M): void;
};

/** Applies one event, with the entity changes it made, to the entities of a derived model (streams) it moves. */
export function applyDerived<M extends { id: string }>(
  model: Pick<DerivedReadModel<M, never>, 'targets' | 'reduce'>,
  access: DerivedAccess<M>,
  event: StoredEvent,
  changes: EntityChanges,
): void {
  for (const id of model.targets(event, changes)) {
    const before = access.get(id);
    const after = model.reduce(before, id, event, changes);
    if (after && after !== before) access.put(id, after);
  }
}

function applyToEntities(models: ModelAccess, event: StoredEvent): EntityChanges {
  const changes: EntityChanges = {};
  for (const kind of MODEL_KINDS) {
    const model = entityModel(kind);
    for (const id of model.targets(event)) {
      const before = models.get(kind, id);
      const after = model.reduce(before, id, event);
      if (after !== before) models.put(kind, id, after, event, before);
      (changes as Record<ModelKind, unknown>)[kind] = { before, after };
    }
  }
  return changes;
}

/**
 * Every entity `applyEvent` may read for this event: what a projector that
 * loads rows in bulk (the fleet's) loads before applying a page.
 */
export function entitiesRead(event: StoredEvent): { kind: ModelKind; id: string }[] {
  return MODEL_KINDS.flatMap((kind) => entityModel(kind).targets(event).map((id) => ({ kind, id })));
}
