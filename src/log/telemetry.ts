// The two look-ups viewer-side telemetry needs, each served by a partial
// expression index (migrations/0006_viewer_telemetry.sql): which server
// connection negotiated a given ICE username fragment or DTLS fingerprint,
// and which client traces were joined to a connection.
import type { Db } from './open.ts';
import { cachedStatement as stmt } from './statements.ts';

const FIELDS = ['local_ice_ufrag', 'remote_ice_ufrag', 'local_fingerprint'] as const;
export type NegotiatedField = (typeof FIELDS)[number];

/** How many client traces a connection shows (a page that reloads traces again). */
export const MAX_CLIENT_STREAMS = 10;

/** The newest connection whose `connection.negotiated` has `key` in `field`, or null. */
export function connectionNegotiatedWith(db: Db, field: NegotiatedField, key: string): string | null {
  if (!FIELDS.includes(field)) return null;
  // The expression must match the index's text exactly for SQLite to use it.
  const row = stmt(
    db,
    `SELECT stream FROM events WHERE type = 'connection.negotiated' AND json_extract(data, '$.${field}') = ? ORDER BY position DESC LIMIT 1`,
  ).get(key) as { stream: string } | undefined;
  return row ? row.stream.slice('connection:'.length) : null;
}

/** The client streams joined to a connection, oldest first (at most MAX_CLIENT_STREAMS), with where each was joined. */
export function clientStreamsOf(db: Db, connectionId: string, untilPosition?: number): { stream: string; position: number }[] {
  return stmt(
    db,
    `SELECT stream, position FROM events WHERE type = 'client.correlated' AND json_extract(data, '$.connection_id') = ?
       AND position <= ? ORDER BY position LIMIT ${MAX_CLIENT_STREAMS}`,
  ).all([connectionId, untilPosition ?? Number.MAX_SAFE_INTEGER]) as { stream: string; position: number }[];
}
