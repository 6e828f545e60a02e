// Table and column names for hand-written statements, taken from the drizzle
// schema objects (src/log/schema.ts) rather than repeated as string literals:
// the measured hot paths (append, the read-model upserts, the monitor's
// reads) prepare plain better-sqlite3 statements, and these keep them in step
// with the schema. Names are plain identifiers ([a-z_]), so they need no quoting.
import { getTableName, type Column, type Table } from 'drizzle-orm';

/** The SQL name of a table. */
export const tableName = (table: Table): string => getTableName(table);

/** The SQL name of a column. */
export const col = (column: Column): string => column.name;

/** Column names joined for a column list: `a, b, c`. */
export const cols = (...columns: Column[]): string => columns.map(col).join(', ');

/** `name AS key` for each entry, so rows come back keyed as drizzle's inferred row types are. */
export function selectAs(columns: Record<string, Column>): string {
  return Object.entries(columns)
    .map(([key, column]) => (key === column.name ? key : `${column.name} AS ${key}`))
    .join(', ');
}
