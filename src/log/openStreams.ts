// Streams opened and never closed (`server:<id>` with server.created and no
// server.stopped): what start-up recovery closes out. Reads the kind's range
// of the (stream, version) index only, so it costs the number of such
// streams, not the length of the log.
import { and, asc, eq, gte, lt, notExists, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type { Db } from './open.ts';
import type { StreamKind } from './catalogue.ts';
import { orm } from './orm.ts';
import { events } from './schema.ts';
import type { OpenStream } from './store.ts';

export function openStreams(db: Db, kind: StreamKind, opened: string, closed: string): OpenStream[] {
  const o = orm(db);
  const prefix = `${kind}:`;
  // Every stream of the kind sorts in [`kind:`, `kind;`): ';' follows ':'.
  const end = `${kind};`;
  const opening = alias(events, 'opening');
  const closing = alias(events, 'closing');
  return o
    .select({ id: sql<string>`substr(${opening.stream}, ${prefix.length + 1})`, openedAt: opening.recordedAt })
    .from(opening)
    .where(
      and(
        gte(opening.stream, prefix),
        lt(opening.stream, end),
        eq(opening.type, opened),
        notExists(o.select({ one: sql`1` }).from(closing).where(and(eq(closing.stream, opening.stream), eq(closing.type, closed)))),
      ),
    )
    .orderBy(asc(opening.position))
    .all();
}
