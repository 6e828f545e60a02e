// Whether a connection had failed before a given point of its stream: what
// a webhook for `connection.closed` needs to say how the connection ended,
// read from the log itself (the deliverer depends on the log, not on the
// read models). The same rule as the read model's outcomeOf
// (src/projections/connection.ts): the `failed` connection state or a fatal
// error before the close. Reads that one stream through its (stream,
// version) index, stopping at the first failure.
import type { Db } from './open.ts';
import { cachedStatement } from './statements.ts';

export function connectionFailedBefore(db: Db, stream: string, position: number): boolean {
  const row = cachedStatement(
    db,
    `SELECT 1 FROM events WHERE stream = ? AND position < ? AND (
       (type = 'connection.state_changed' AND json_extract(data, '$.kind') = 'connection' AND json_extract(data, '$.to') = 'failed')
       OR (type = 'connection.error' AND json_extract(data, '$.fatal') = 1)) LIMIT 1`,
  ).get([stream, position]);
  return row !== undefined;
}
