// Shipping one batch of a node's events to the centre: one statement, so one
// round trip and one implicit transaction, whatever the batch size. The rows
// go in as arrays (unnest), which keeps the statement text fixed (prepared
// once per connection) and the parameter count at nine. In the same statement
// the node's row in `nodes` moves to the batch's last position and the fleet
// projector is notified; the notification is delivered on commit.
//
// At least once, idempotent: a batch sent again (the process died between the
// centre's commit and its local checkpoint) inserts nothing, because rows are
// keyed by (node, node_position). Rows the centre already had are checked
// against the batch, so two logs forwarding under one node name are caught
// instead of silently merged.
import { AppError } from '../errors.ts';
import type { EventRow } from '../log/store.ts';
import type { CentreClient } from './pg.ts';
import { EVENTS_CHANNEL } from './coordination.ts';

const SHIP = `
WITH batch AS (
  SELECT * FROM unnest($2::bigint[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    AS b (node_position, stream, version, type, data, meta, recorded_at)
), inserted AS (
  INSERT INTO events (node, node_position, stream, version, type, data, meta, recorded_at)
  SELECT $1, node_position, stream, version, type, data::json, meta::json, recorded_at FROM batch
  ON CONFLICT (node, node_position) DO NOTHING
  RETURNING 1
), head AS (
  INSERT INTO nodes (node, head_position) VALUES ($1, $9)
  ON CONFLICT (node) DO UPDATE
    SET head_position = greatest(nodes.head_position, excluded.head_position), updated_at = excluded.updated_at
)
SELECT (SELECT count(*) FROM inserted)::integer AS inserted, pg_notify('${EVENTS_CHANNEL}', $1)::text AS notified`;

export type ShipResult = { inserted: number; duplicates: number };

/** Sends `rows` (consecutive, in position order) as node `node`'s events. */
export async function shipBatch(client: CentreClient, node: string, rows: EventRow[]): Promise<ShipResult> {
  const n = rows.length;
  if (n === 0) return { inserted: 0, duplicates: 0 };
  const positions = new Array<number>(n);
  const streams = new Array<string>(n);
  const versions = new Array<number>(n);
  const types = new Array<string>(n);
  const data = new Array<string>(n);
  const meta = new Array<string>(n);
  const recordedAt = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    positions[i] = r.position;
    streams[i] = r.stream;
    versions[i] = r.version;
    types[i] = r.type;
    data[i] = r.data;
    meta[i] = r.meta;
    recordedAt[i] = r.recordedAt;
  }
  let result;
  try {
    result = await client.query<{ inserted: number }>({
      name: 'webrtc-monitor-ship',
      text: SHIP,
      values: [node, positions, streams, versions, types, data, meta, recordedAt, positions[n - 1]],
    });
  } catch (err) {
    // The same stream version at another position: a second log under this node name.
    if ((err as { constraint?: string }).constraint === 'events_node_stream_version') throw sharedNodeName(node, (err as Error).message);
    throw err;
  }
  const inserted = result.rows[0].inserted;
  if (inserted < n) await checkDuplicates(client, node, rows);
  return { inserted, duplicates: n - inserted };
}

/** The rows the centre already had must be these very events, or the node name is shared by two logs. */
async function checkDuplicates(client: CentreClient, node: string, rows: EventRow[]): Promise<void> {
  const held = await client.query<{ node_position: number; stream: string; version: number; type: string; recorded_at: number }>(
    'SELECT node_position, stream, version, type, recorded_at FROM events WHERE node = $1 AND node_position = ANY($2::bigint[])',
    [node, rows.map((r) => r.position)],
  );
  const byPosition = new Map(rows.map((r) => [r.position, r]));
  for (const h of held.rows) {
    const mine = byPosition.get(h.node_position)!;
    if (mine.stream !== h.stream || mine.version !== h.version || mine.type !== h.type || mine.recordedAt !== h.recorded_at) {
      throw sharedNodeName(
        node,
        `the centre holds a different event at position ${h.node_position} ` +
          `(${h.stream} v${h.version} ${h.type}, not ${mine.stream} v${mine.version} ${mine.type})`,
      );
    }
  }
}

function sharedNodeName(node: string, what: string): AppError {
  return new AppError(
    'CONFLICT',
    `node "${node}": ${what}. Another node forwards under the same --node-id, or this node's database was replaced: give it a --node-id of its own`,
  );
}

/** The highest position of `node` the centre holds (0: none). */
export async function centreHead(client: CentreClient, node: string): Promise<number> {
  const { rows } = await client.query<{ head: number }>('SELECT coalesce(max(node_position), 0) AS head FROM events WHERE node = $1', [node]);
  return rows[0].head;
}
