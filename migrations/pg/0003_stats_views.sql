-- The node's migrations/0005_stats_views.sql over the whole fleet: the same
-- views and columns, `node` first, `position` the node's own log position
-- (conventions and dialect differences: 0001_views.sql). Numbers from event
-- data are double precision, as in 0001: the catalogue's counts need not be
-- integers, and a cast to bigint would fail the whole query on one that is not.
-- A JSON null (unknown) reads as SQL NULL, never 0, as on the node.
--
-- Dialect differences added here:
--   json_array_length(x, '$.a')    json_array_length(x->'a') (both NULL when the field is absent)
--   FROM events e, json_each(e.data, '$.a') t
--                                  FROM events e CROSS JOIN LATERAL json_array_elements(e.data->'a') t(value)
--   OVER (PARTITION BY e.stream ORDER BY e.position)
--                                  OVER (PARTITION BY e.node, e.stream ORDER BY e.node_position)

-- stats_samples gains the fields schema 2 added; its first columns are
-- unchanged, so it is replaced in place (PostgreSQL allows new columns last).
CREATE OR REPLACE VIEW stats_samples AS
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
  (e.data->>'frames_sent')::double precision AS frames_sent,
  (e.data->>'packets_received')::double precision AS packets_received,
  (e.data->>'fraction_lost')::double precision AS fraction_lost,
  (e.data->>'bitrate_in_bps')::double precision AS bitrate_in_bps,
  (e.data->>'keyframes_sent')::double precision AS keyframes_sent,
  (e.data->>'nack_count')::double precision AS nack_count,
  (e.data->>'pli_count')::double precision AS pli_count,
  (e.data->>'fir_count')::double precision AS fir_count,
  (e.data->>'retransmitted_packets_sent')::double precision AS retransmitted_packets_sent,
  (e.data->>'interval_ms')::double precision AS interval_ms,
  json_array_length(e.data->'tracks') AS tracks,
  json_array_length(e.data->'data_channels') AS data_channels,
  e.node_position AS position
FROM events e
WHERE e.type = 'connection.stats_sampled';
--> statement-breakpoint
-- One row per outbound track (SSRC) per stats sample: what was sent, and what
-- the viewer's RTCP said about it (loss, jitter, RTT, NACK/PLI/FIR).
CREATE VIEW track_samples AS
SELECT
  e.node,
  substr(e.stream, 12) AS connection_id,
  iso_time(e.recorded_at) AS at,
  e.recorded_at,
  (t.value->>'ssrc')::double precision AS ssrc,
  t.value->>'kind' AS kind,
  t.value->>'mid' AS mid,
  t.value->>'codec' AS codec,
  (t.value->>'packets_sent')::double precision AS packets_sent,
  (t.value->>'bytes_sent')::double precision AS bytes_sent,
  (t.value->>'bitrate_bps')::double precision AS bitrate_bps,
  (t.value->>'packets_lost')::double precision AS packets_lost,
  (t.value->>'fraction_lost')::double precision AS fraction_lost,
  (t.value->>'jitter_ms')::double precision AS jitter_ms,
  (t.value->>'rtt_ms')::double precision AS rtt_ms,
  (t.value->>'receiver_reports')::double precision AS receiver_reports,
  (t.value->>'nack_count')::double precision AS nack_count,
  (t.value->>'pli_count')::double precision AS pli_count,
  (t.value->>'fir_count')::double precision AS fir_count,
  (t.value->>'retransmitted_packets_sent')::double precision AS retransmitted_packets_sent,
  (t.value->>'retransmitted_bytes_sent')::double precision AS retransmitted_bytes_sent,
  (t.value->>'frames_sent')::double precision AS frames_sent,
  (t.value->>'keyframes_sent')::double precision AS keyframes_sent,
  e.node_position AS position
FROM events e CROSS JOIN LATERAL json_array_elements(e.data->'tracks') t(value)
WHERE e.type = 'connection.stats_sampled';
--> statement-breakpoint
-- One row per data channel per stats sample.
CREATE VIEW data_channel_samples AS
SELECT
  e.node,
  substr(e.stream, 12) AS connection_id,
  iso_time(e.recorded_at) AS at,
  e.recorded_at,
  c.value->>'label' AS label,
  (c.value->>'channel_id')::double precision AS channel_id,
  c.value->>'state' AS state,
  (c.value->>'messages_sent')::double precision AS messages_sent,
  (c.value->>'bytes_sent')::double precision AS bytes_sent,
  (c.value->>'messages_received')::double precision AS messages_received,
  (c.value->>'bytes_received')::double precision AS bytes_received,
  (c.value->>'buffered_amount')::double precision AS buffered_amount,
  e.node_position AS position
FROM events e CROSS JOIN LATERAL json_array_elements(e.data->'data_channels') c(value)
WHERE e.type = 'connection.stats_sampled';
--> statement-breakpoint
-- Each stall with how it ended: `resumed`, `closed`, or NULL while it lasts.
CREATE VIEW stall_periods AS
SELECT
  node,
  connection_id,
  iso_time(recorded_at) AS started,
  recorded_at,
  silent_ms,
  next_type AS ended_by,
  iso_time(next_at) AS ended,
  next_at - recorded_at + silent_ms AS silent_total_ms
FROM (
  SELECT
    e.node,
    substr(e.stream, 12) AS connection_id,
    e.type,
    e.recorded_at,
    (e.data->>'silent_ms')::double precision AS silent_ms,
    replace(LEAD(e.type) OVER (PARTITION BY e.node, e.stream ORDER BY e.node_position), 'connection.', '') AS next_type,
    LEAD(e.recorded_at) OVER (PARTITION BY e.node, e.stream ORDER BY e.node_position) AS next_at
  FROM events e
  WHERE e.type IN ('connection.stalled', 'connection.resumed', 'connection.closed')
) stalls
WHERE type = 'connection.stalled';
