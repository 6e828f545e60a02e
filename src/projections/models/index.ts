// Every read model, in one place: the projectors, rebuild and the version
// check iterate these, so adding a model is adding it here.
import { connectionsModel } from './connections.ts';
import { operationsModel } from './operations.ts';
import { tasksModel } from './tasks.ts';
import { summaryModel } from './summary.ts';
import { issuesModel } from './issues.ts';
import { streamsModel } from './streams.ts';

export { connectionsModel, operationsModel, tasksModel, summaryModel, issuesModel, streamsModel };

/**
 * Entity models by the kind of entity they hold (the key of EntityChanges),
 * in the order each event is applied to them: a task before the operation
 * it lists itself on.
 */
export const ENTITY_MODELS = {
  connection: connectionsModel,
  task: tasksModel,
  operation: operationsModel,
} as const;

export type ModelKind = keyof typeof ENTITY_MODELS;
export const MODEL_KINDS = Object.keys(ENTITY_MODELS) as ModelKind[];

/** Every read model with its version, as recorded in `read_model_versions`. */
export const READ_MODELS: readonly {
  name: string;
  version: number;
  table: (typeof ENTITY_MODELS)[ModelKind]['table'] | typeof summaryModel.table | typeof issuesModel.table | typeof streamsModel.table;
}[] = [connectionsModel, operationsModel, tasksModel, summaryModel, issuesModel, streamsModel];

/** Every table the read models keep, their hot rows included: what rebuild clears and compares. */
export const READ_MODEL_TABLES = [
  ...READ_MODELS.map((m) => m.table),
  ...Object.values(ENTITY_MODELS).flatMap((m) => ('hot' in m && m.hot ? [m.hot.table] : [])),
];
