// The tables and views a folder of drizzle migrations leaves behind, with
// their columns in order, read from the SQL text alone (no database). It
// knows the statements our migrations use (CREATE/DROP/ALTER TABLE, CREATE
// [OR REPLACE]/DROP VIEW; the rest are ignored) and throws on a view whose
// columns it cannot name, so a guard built on it fails rather than passes
// blind. Read migrations/ it must agree with SQLite itself, and migrations/pg
// with PostgreSQL (test/fleet/schema.test.ts, test/interop/fleet/migrate.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Relations = { tables: Map<string, string[]>; views: Map<string, string[]> };

/** Replays every migration of `folder` in journal order. */
export function relationsOf(folder: string): Relations {
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const out: Relations = { tables: new Map(), views: new Map() };
  for (const { tag } of journal.entries) {
    for (const statement of statements(readFileSync(join(folder, `${tag}.sql`), 'utf8'))) apply(out, statement, tag);
  }
  return out;
}

const NAME = String.raw`[\`"]?(\w+)[\`"]?`;
const re = (source: string) => new RegExp(source, 'is');

function apply({ tables, views }: Relations, sql: string, tag: string): void {
  let m: RegExpMatchArray | null;
  if ((m = sql.match(re(`^CREATE TABLE (?:IF NOT EXISTS )?${NAME}\\s*\\((.*)\\)[^)]*$`)))) {
    const columns = splitTopLevel(m[2])
      .filter((item) => !/^(CONSTRAINT|PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK)\b/i.test(item))
      .map((item) => identifier(item.match(re(`^${NAME}`)), `${tag}: a column of ${m![1]}`));
    tables.set(m[1], columns);
  } else if ((m = sql.match(re(`^DROP TABLE (?:IF EXISTS )?${NAME}$`)))) {
    tables.delete(m[1]);
  } else if ((m = sql.match(re(`^ALTER TABLE ${NAME} RENAME TO ${NAME}$`)))) {
    tables.set(m[2], table(tables, m[1], tag));
    tables.delete(m[1]);
  } else if ((m = sql.match(re(`^ALTER TABLE ${NAME} ADD (?:COLUMN )?${NAME}\\b`)))) {
    table(tables, m[1], tag).push(m[2]);
  } else if ((m = sql.match(re(`^ALTER TABLE ${NAME} DROP (?:COLUMN )?${NAME}$`)))) {
    tables.set(m[1], table(tables, m[1], tag).filter((c) => c !== m![2]));
  } else if ((m = sql.match(re(`^ALTER TABLE ${NAME} RENAME (?:COLUMN )?${NAME} TO ${NAME}$`)))) {
    tables.set(m[1], table(tables, m[1], tag).map((c) => (c === m![2] ? m![3] : c)));
  } else if (/^ALTER TABLE/i.test(sql)) {
    throw new Error(`${tag}: an ALTER TABLE this reader does not know: ${sql}`);
  } else if ((m = sql.match(re(`^CREATE (?:OR REPLACE )?VIEW ${NAME} AS\\s+(.*)$`)))) {
    views.set(m[1], selectColumns(m[2], `${tag}: view ${m[1]}`));
  } else if ((m = sql.match(re(`^DROP VIEW (?:IF EXISTS )?${NAME}$`)))) {
    views.delete(m[1]);
  }
}

function table(tables: Map<string, string[]>, name: string, tag: string): string[] {
  const columns = tables.get(name);
  if (!columns) throw new Error(`${tag}: ALTER TABLE ${name}, which no earlier migration created`);
  return columns;
}

function identifier(m: RegExpMatchArray | null, what: string): string {
  if (!m) throw new Error(`cannot name ${what}`);
  return m[m.length - 1];
}

/** The names of a SELECT's output columns: each item's alias, or the column it names. */
function selectColumns(select: string, what: string): string[] {
  const m = select.match(/^SELECT\s+(.*)$/is);
  if (!m || /^(DISTINCT|ALL)\b/i.test(m[1])) throw new Error(`${what}: not a plain SELECT`);
  const list = m[1].slice(0, topLevelKeyword(m[1], 'FROM'));
  return splitTopLevel(list).map((item) => {
    if (item === '*' || item.endsWith('.*')) throw new Error(`${what}: SELECT * names no columns`);
    return identifier(item.match(/\bAS\s+[`"]?(\w+)[`"]?$/i) ?? item.match(/(?:^|\.)[`"]?(\w+)[`"]?$/), `${what}: ${item}`);
  });
}

/**
 * Walks SQL outside quoted text, dollar-quoted bodies and `--` comments,
 * calling `visit(index, depth)` for each character there (it stops when
 * `visit` returns true) and `comment(start, end)` for each comment.
 */
function walk(sql: string, visit: (i: number, depth: number) => boolean | void, comment?: (start: number, end: number) => void): number {
  let depth = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      comment?.(i, end < 0 ? sql.length : end);
      i = end < 0 ? sql.length : end;
    } else if (c === "'" || c === '"' || c === '`') {
      i = sql.indexOf(c, i + 1);
      if (i < 0) throw new Error(`unterminated ${c} in ${sql.slice(0, 80)}`);
    } else if (c === '$' && sql[i + 1] === '$') {
      i = sql.indexOf('$$', i + 2) + 1;
      if (i <= 0) throw new Error(`unterminated $$ in ${sql.slice(0, 80)}`);
    } else {
      if (c === '(') depth++;
      if (c === ')') depth--;
      if (visit(i, depth)) return i;
    }
  }
  return sql.length;
}

function topLevelKeyword(sql: string, keyword: string): number {
  const word = new RegExp(`^${keyword}\\b`, 'i');
  return walk(sql, (i, depth) => depth === 0 && /\W/.test(sql[i - 1] ?? ' ') && word.test(sql.slice(i, i + keyword.length + 1)));
}

/** Splits at `separator` outside parentheses and quotes. */
function splitTopLevel(sql: string, separator = ','): string[] {
  const items: string[] = [];
  let start = 0;
  walk(sql, (i, depth) => {
    if (depth === 0 && sql[i] === separator) {
      items.push(sql.slice(start, i));
      start = i + 1;
    }
  });
  items.push(sql.slice(start));
  return items.map((item) => item.trim()).filter((item) => item.length > 0);
}

/** The text without `--` comments (drizzle's `--> statement-breakpoint` is one). */
function withoutComments(text: string): string {
  let out = '';
  let from = 0;
  walk(
    text,
    () => {},
    (start, end) => {
      out += text.slice(from, start);
      from = end;
    },
  );
  return out + text.slice(from);
}

/** The statements of a migration file, comments removed and white space folded. */
function statements(text: string): string[] {
  return splitTopLevel(withoutComments(text), ';').map((s) => s.replace(/\s+/g, ' '));
}
