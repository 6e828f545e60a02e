-- The node's viewer views (migrations/0006_viewer_telemetry.sql) over the
-- whole fleet: the same columns, `node` first, `position` the node's own log
-- position (conventions and dialect differences: 0001_views.sql and
-- 0003_stats_views.sql). The node's partial expression indexes serve the
-- node's look-ups and are not needed here.
--
-- Dialect differences added here:
--   max(1, x) (scalar)              GREATEST(1, x)
CREATE VIEW viewer_samples AS
SELECT
  e.node,
  e.stream AS client_stream,
  (SELECT c.data->>'connection_id' FROM events c
    WHERE c.node = e.node AND c.stream = e.stream AND c.type = 'client.correlated' ORDER BY c.node_position LIMIT 1) AS connection_id,
  iso_time(e.recorded_at) AS at,
  e.recorded_at,
  (e.data->>'client_ts')::double precision AS client_ts,
  (e.data->>'interval_ms')::double precision AS interval_ms,
  (t.value->>'ssrc')::double precision AS ssrc,
  t.value->>'kind' AS kind,
  t.value->>'track_id' AS track_id,
  t.value->>'codec' AS codec,
  (t.value->>'packets_received')::double precision AS packets_received,
  (t.value->>'bytes_received')::double precision AS bytes_received,
  (t.value->>'packets_lost')::double precision AS packets_lost,
  (t.value->>'jitter_ms')::double precision AS jitter_ms,
  (t.value->>'jitter_buffer_delay_ms')::double precision AS jitter_buffer_delay_ms,
  (t.value->>'jitter_buffer_emitted_count')::double precision AS jitter_buffer_emitted_count,
  (t.value->>'frames_received')::double precision AS frames_received,
  (t.value->>'frames_decoded')::double precision AS frames_decoded,
  (t.value->>'frames_dropped')::double precision AS frames_dropped,
  (t.value->>'freeze_count')::double precision AS freeze_count,
  (t.value->>'total_freezes_duration_ms')::double precision AS total_freezes_duration_ms,
  (t.value->>'concealed_samples')::double precision AS concealed_samples,
  (t.value->>'concealment_events')::double precision AS concealment_events,
  (t.value->>'total_samples_received')::double precision AS total_samples_received,
  (t.value->>'total_decode_time_ms')::double precision AS total_decode_time_ms,
  (t.value->>'frame_width')::double precision AS frame_width,
  (t.value->>'frame_height')::double precision AS frame_height,
  (t.value->>'frames_per_second')::double precision AS frames_per_second,
  (e.data->'candidate_pair'->>'rtt_ms')::double precision AS rtt_ms,
  e.node_position AS position
FROM events e CROSS JOIN LATERAL json_array_elements(e.data->'inbound') t(value)
WHERE e.type = 'client.stats_sampled';
--> statement-breakpoint
CREATE VIEW viewer_quality AS
SELECT
  s.node,
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
  max(CASE WHEN s.jitter_rank = GREATEST(1, (s.jitter_n * 95 + 99) / 100) THEN s.jitter_ms END) AS p95_jitter_ms,
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
    row_number() OVER (PARTITION BY v.node, v.client_stream, v.ssrc ORDER BY v.jitter_ms) AS jitter_rank,
    count(v.jitter_ms) OVER (PARTITION BY v.node, v.client_stream, v.ssrc) AS jitter_n,
    lag(v.frame_width) OVER (PARTITION BY v.node, v.client_stream, v.ssrc ORDER BY v.position) AS prev_width,
    lag(v.frame_height) OVER (PARTITION BY v.node, v.client_stream, v.ssrc ORDER BY v.position) AS prev_height
  FROM viewer_samples v
) s
LEFT JOIN (
  SELECT node, stream, min(recorded_at) AS started_at FROM events WHERE type = 'client.created' GROUP BY node, stream
) st ON st.node = s.node AND st.stream = s.client_stream
GROUP BY s.node, s.client_stream, s.ssrc;
