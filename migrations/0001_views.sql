-- Views for answering questions with SQL after the fact (see README "SQL post-analysis").
-- Times are epoch ms in the tables; each view also gives ISO-8601 UTC text.

-- Every event of every connection, in log order.
CREATE VIEW `connection_timeline` AS
SELECT
  substr(e.stream, 12) AS connection_id,
  e.position,
  e.version,
  strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
  e.recorded_at,
  e.type,
  json_extract(e.data, '$.kind') AS kind,
  json_extract(e.data, '$.from') AS from_state,
  json_extract(e.data, '$.to') AS to_state,
  e.data,
  e.meta
FROM events e
WHERE e.stream LIKE 'connection:%';
--> statement-breakpoint
-- One row per operation with its outcome and duration.
CREATE VIEW `operation_durations` AS
SELECT
  o.id AS operation_id,
  o.type,
  o.status,
  strftime('%Y-%m-%dT%H:%M:%fZ', o.started_at / 1000.0, 'unixepoch') AS started,
  strftime('%Y-%m-%dT%H:%M:%fZ', o.ended_at / 1000.0, 'unixepoch') AS ended,
  o.duration_ms,
  o.connection_id,
  o.server_id,
  json_extract(o.state, '$.error.code') AS error_code
FROM operations o;
--> statement-breakpoint
-- Each state change with the time spent in the state it entered: until the
-- next change of the same kind on the same connection (NULL while current).
CREATE VIEW `state_transitions` AS
SELECT
  connection_id,
  kind,
  from_state,
  to_state,
  at,
  recorded_at,
  next_at - recorded_at AS ms_in_state
FROM (
  SELECT
    substr(e.stream, 12) AS connection_id,
    json_extract(e.data, '$.kind') AS kind,
    json_extract(e.data, '$.from') AS from_state,
    json_extract(e.data, '$.to') AS to_state,
    strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
    e.recorded_at,
    LEAD(e.recorded_at) OVER (
      PARTITION BY e.stream, json_extract(e.data, '$.kind') ORDER BY e.position
    ) AS next_at
  FROM events e
  WHERE e.type = 'connection.state_changed'
);
--> statement-breakpoint
-- Task outcomes per task name and status.
CREATE VIEW `task_outcomes` AS
SELECT
  t.name,
  t.status,
  count(*) AS tasks,
  CAST(avg(json_extract(t.state, '$.duration_ms')) AS INTEGER) AS avg_ms,
  max(json_extract(t.state, '$.duration_ms')) AS max_ms
FROM tasks t
GROUP BY t.name, t.status;
--> statement-breakpoint
-- Stats samples flattened, one row per sample.
CREATE VIEW `stats_samples` AS
SELECT
  substr(e.stream, 12) AS connection_id,
  strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
  e.recorded_at,
  json_extract(e.data, '$.bytes_sent') AS bytes_sent,
  json_extract(e.data, '$.bytes_received') AS bytes_received,
  json_extract(e.data, '$.packets_sent') AS packets_sent,
  json_extract(e.data, '$.packets_lost') AS packets_lost,
  json_extract(e.data, '$.rtt_ms') AS rtt_ms,
  json_extract(e.data, '$.jitter_ms') AS jitter_ms,
  json_extract(e.data, '$.bitrate_out_bps') AS bitrate_out_bps,
  json_extract(e.data, '$.frames_sent') AS frames_sent
FROM events e
WHERE e.type = 'connection.stats_sampled';
