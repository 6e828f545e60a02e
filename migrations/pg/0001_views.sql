-- The node's analysis views (migrations/0001_views.sql) over the whole fleet:
-- the same names, the same columns in the same order, each view with `node`
-- first. `position` is the node's own log position, as on the node.
--
-- Dialect differences, the only ones:
--   json_extract(x, '$.a.b')       x->'a'->>'b', cast where the node's gives a number
--   strftime('%Y-%m-%dT%H:%M:%fZ', ms / 1000.0, 'unixepoch')   iso_time(ms)
--   CAST(avg(...) AS INTEGER)      trunc(avg(...))::bigint (PostgreSQL's cast rounds, SQLite's truncates)
--
-- To add or change a view: add it to the SQLite views with a new migration,
-- then here with `npm run db:generate:pg -- --custom --name <what>` and
-- CREATE OR REPLACE VIEW (new columns go last). test/interop/fleet/views.test.ts
-- fails until both dialects have the same views and columns.

-- Epoch ms as ISO-8601 UTC text with milliseconds, exactly as the node's strftime gives it.
CREATE FUNCTION iso_time(ms bigint) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT to_char(timestamp 'epoch' + ms * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
--> statement-breakpoint
-- Every event of every connection, in log order.
CREATE VIEW connection_timeline AS
SELECT
  e.node,
  substr(e.stream, 12) AS connection_id,
  e.node_position AS position,
  e.version,
  iso_time(e.recorded_at) AS at,
  e.recorded_at,
  e.type,
  e.data->>'kind' AS kind,
  e.data->>'from' AS from_state,
  e.data->>'to' AS to_state,
  e.data,
  e.meta
FROM events e
WHERE e.stream LIKE 'connection:%';
--> statement-breakpoint
-- One row per operation with its outcome and duration.
CREATE VIEW operation_durations AS
SELECT
  o.node,
  o.id AS operation_id,
  o.type,
  o.status,
  iso_time(o.started_at) AS started,
  iso_time(o.ended_at) AS ended,
  o.duration_ms,
  o.connection_id,
  o.server_id,
  o.state->'error'->>'code' AS error_code
FROM operations o;
--> statement-breakpoint
-- Each state change with the time spent in the state it entered: until the
-- next change of the same kind on the same connection (NULL while current).
CREATE VIEW state_transitions AS
SELECT
  node,
  connection_id,
  kind,
  from_state,
  to_state,
  at,
  recorded_at,
  next_at - recorded_at AS ms_in_state
FROM (
  SELECT
    e.node,
    substr(e.stream, 12) AS connection_id,
    e.data->>'kind' AS kind,
    e.data->>'from' AS from_state,
    e.data->>'to' AS to_state,
    iso_time(e.recorded_at) AS at,
    e.recorded_at,
    LEAD(e.recorded_at) OVER (
      PARTITION BY e.node, e.stream, e.data->>'kind' ORDER BY e.node_position
    ) AS next_at
  FROM events e
  WHERE e.type = 'connection.state_changed'
) changes;
--> statement-breakpoint
-- Task outcomes per node, task name and status.
CREATE VIEW task_outcomes AS
SELECT
  t.node,
  t.name,
  t.status,
  count(*) AS tasks,
  trunc(avg((t.state->>'duration_ms')::bigint))::bigint AS avg_ms,
  max((t.state->>'duration_ms')::bigint) AS max_ms
FROM tasks t
GROUP BY t.node, t.name, t.status;
--> statement-breakpoint
-- Stats samples flattened, one row per sample.
CREATE VIEW stats_samples AS
SELECT
  e.node,
  substr(e.stream, 12) AS connection_id,
  iso_time(e.recorded_at) AS at,
  e.recorded_at,
  (e.data->>'bytes_sent')::double precision AS bytes_sent,
  (e.data->>'bytes_received')::double precision AS bytes_received,
  (e.data->>'packets_sent')::double precision AS packets_sent,
  (e.data->>'packets_lost')::double precision AS packets_lost,
  (e.data->>'rtt_ms')::double precision AS rtt_ms,
  (e.data->>'jitter_ms')::double precision AS jitter_ms,
  (e.data->>'bitrate_out_bps')::double precision AS bitrate_out_bps,
  (e.data->>'frames_sent')::double precision AS frames_sent
FROM events e
WHERE e.type = 'connection.stats_sampled';
