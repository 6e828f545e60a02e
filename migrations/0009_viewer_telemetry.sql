-- Viewer-side telemetry (src/telemetry): the look-ups that join a client
-- trace to its server connection, and the viewer views (see README
-- "Both ends of a connection").
--
-- Partial expression indexes: only `connection.negotiated` and
-- `client.correlated` rows are indexed, so the rest of the log pays nothing.
-- src/log/telemetry.ts queries with these exact expressions.
CREATE INDEX `events_negotiated_local_ufrag` ON `events` (json_extract(data, '$.local_ice_ufrag')) WHERE type = 'connection.negotiated';
--> statement-breakpoint
CREATE INDEX `events_negotiated_remote_ufrag` ON `events` (json_extract(data, '$.remote_ice_ufrag')) WHERE type = 'connection.negotiated';
--> statement-breakpoint
CREATE INDEX `events_negotiated_local_fingerprint` ON `events` (json_extract(data, '$.local_fingerprint')) WHERE type = 'connection.negotiated';
--> statement-breakpoint
CREATE INDEX `events_client_correlated` ON `events` (json_extract(data, '$.connection_id')) WHERE type = 'client.correlated';
--> statement-breakpoint
-- One row per inbound track per viewer stats sample, as the viewer's browser
-- counted it (cumulative), with the server connection the trace was joined
-- to (NULL until it is). `at`/`recorded_at` are the server's clock (the log's
-- order); `client_ts` is the browser's, kept as data.
CREATE VIEW `viewer_samples` AS
SELECT
  e.stream AS client_stream,
  (SELECT json_extract(c.data, '$.connection_id') FROM events c
    WHERE c.stream = e.stream AND c.type = 'client.correlated' ORDER BY c.position LIMIT 1) AS connection_id,
  strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
  e.recorded_at,
  json_extract(e.data, '$.client_ts') AS client_ts,
  json_extract(e.data, '$.interval_ms') AS interval_ms,
  json_extract(t.value, '$.ssrc') AS ssrc,
  json_extract(t.value, '$.kind') AS kind,
  json_extract(t.value, '$.track_id') AS track_id,
  json_extract(t.value, '$.codec') AS codec,
  json_extract(t.value, '$.packets_received') AS packets_received,
  json_extract(t.value, '$.bytes_received') AS bytes_received,
  json_extract(t.value, '$.packets_lost') AS packets_lost,
  json_extract(t.value, '$.jitter_ms') AS jitter_ms,
  json_extract(t.value, '$.jitter_buffer_delay_ms') AS jitter_buffer_delay_ms,
  json_extract(t.value, '$.jitter_buffer_emitted_count') AS jitter_buffer_emitted_count,
  json_extract(t.value, '$.frames_received') AS frames_received,
  json_extract(t.value, '$.frames_decoded') AS frames_decoded,
  json_extract(t.value, '$.frames_dropped') AS frames_dropped,
  json_extract(t.value, '$.freeze_count') AS freeze_count,
  json_extract(t.value, '$.total_freezes_duration_ms') AS total_freezes_duration_ms,
  json_extract(t.value, '$.concealed_samples') AS concealed_samples,
  json_extract(t.value, '$.concealment_events') AS concealment_events,
  json_extract(t.value, '$.total_samples_received') AS total_samples_received,
  json_extract(t.value, '$.total_decode_time_ms') AS total_decode_time_ms,
  json_extract(t.value, '$.frame_width') AS frame_width,
  json_extract(t.value, '$.frame_height') AS frame_height,
  json_extract(t.value, '$.frames_per_second') AS frames_per_second,
  json_extract(e.data, '$.candidate_pair.rtt_ms') AS rtt_ms,
  e.position
FROM events e, json_each(e.data, '$.inbound') t
WHERE e.type = 'client.stats_sampled';
--> statement-breakpoint
-- The viewer's experience per inbound track, the same figures as the
-- read model's (src/projections/viewer.ts): time to first frame (from the
-- trace's start to the first sample with a decoded frame, server clock),
-- freezes, loss %, average and p95 jitter (nearest rank), decode frame rate
-- over the client's clock, and how often the resolution changed.
CREATE VIEW `viewer_quality` AS
SELECT
  s.client_stream,
  max(s.connection_id) AS connection_id,
  s.ssrc,
  max(s.kind) AS kind,
  count(*) AS samples,
  min(CASE WHEN s.frames_decoded > 0 THEN s.recorded_at END) - max(st.started_at) AS time_to_first_frame_ms,
  max(s.freeze_count) AS freeze_count,
  max(s.total_freezes_duration_ms) AS total_freezes_duration_ms,
  max(s.packets_received) AS packets_received,
  max(s.packets_lost) AS packets_lost,
  CASE WHEN coalesce(max(s.packets_received), 0) + coalesce(max(s.packets_lost), 0) > 0
    THEN 100.0 * coalesce(max(s.packets_lost), 0) / (coalesce(max(s.packets_received), 0) + coalesce(max(s.packets_lost), 0)) END AS loss_pct,
  avg(s.jitter_ms) AS avg_jitter_ms,
  max(CASE WHEN s.jitter_rank = max(1, (s.jitter_n * 95 + 99) / 100) THEN s.jitter_ms END) AS p95_jitter_ms,
  max(s.frames_decoded) AS frames_decoded,
  CASE WHEN max(s.client_ts) > min(s.client_ts) AND max(s.frames_decoded) IS NOT NULL
    THEN (max(s.frames_decoded) - min(s.frames_decoded)) * 1000.0 / (max(s.client_ts) - min(s.client_ts)) END AS decode_fps,
  sum(CASE WHEN s.prev_width IS NOT NULL AND s.frame_width IS NOT NULL
    AND (s.frame_width <> s.prev_width OR s.frame_height <> s.prev_height) THEN 1 ELSE 0 END) AS resolution_changes,
  max(s.frame_width) AS max_frame_width,
  max(s.frame_height) AS max_frame_height,
  min(s.position) AS first_position,
  max(s.position) AS last_position
FROM (
  SELECT v.*,
    row_number() OVER (PARTITION BY v.client_stream, v.ssrc ORDER BY v.jitter_ms) AS jitter_rank,
    count(v.jitter_ms) OVER (PARTITION BY v.client_stream, v.ssrc) AS jitter_n,
    lag(v.frame_width) OVER (PARTITION BY v.client_stream, v.ssrc ORDER BY v.position) AS prev_width,
    lag(v.frame_height) OVER (PARTITION BY v.client_stream, v.ssrc ORDER BY v.position) AS prev_height
  FROM viewer_samples v
) s
LEFT JOIN (
  SELECT stream, min(recorded_at) AS started_at FROM events WHERE type = 'client.created' GROUP BY stream
) st ON st.stream = s.client_stream
GROUP BY s.client_stream, s.ssrc;
