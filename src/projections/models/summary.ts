// The `summary` read model: one row (id = 1) of counters over the whole log
// (src/projections/summary.ts reduces it), and the SQLite query for it.
import type { Db } from '../../log/open.ts';
import { summary } from '../../log/schema.ts';
import { col, tableName } from '../../log/names.ts';
import { cachedStatement } from '../../log/statements.ts';
import { emptySummary, reduceSummary, type SummaryModel } from '../summary.ts';
import type { SummaryReadModel } from '../readModel.ts';

export const SUMMARY_ROW = 1;

export const summaryModel = {
  name: tableName(summary),
  version: 1,
  table: summary,
  empty: emptySummary,
  reduce: reduceSummary,
} as const satisfies SummaryReadModel<typeof summary>;

// ---- SQLite ------------------------------------------------------------------

export const LOAD_SUMMARY = `SELECT ${col(summary.state)} FROM ${tableName(summary)} WHERE ${col(summary.id)} = ${SUMMARY_ROW}`;
export const SAVE_SUMMARY = `INSERT INTO ${tableName(summary)} (${col(summary.id)}, ${col(summary.state)}) VALUES (${SUMMARY_ROW}, ?)
  ON CONFLICT (${col(summary.id)}) DO UPDATE SET ${col(summary.state)} = excluded.${col(summary.state)}`;

/** The summary as stored (empty before the first event). */
export function readSummary(db: Db): SummaryModel {
  const row = cachedStatement(db, LOAD_SUMMARY).pluck().get() as string | undefined;
  return row ? (JSON.parse(row) as SummaryModel) : emptySummary();
}
