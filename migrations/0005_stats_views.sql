-- Views over the full media statistics and the liveness watchdog (see README
-- "SQL post-analysis"). A JSON null (unknown: no receiver report yet, no
-- previous sample) reads as SQL NULL, never 0.

-- stats_samples gains the fields schema 2 added; its first columns are unchanged.
DROP VIEW IF EXISTS `stats_samples`;
--> statement-breakpoint
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
  json_extract(e.data, '$.frames_sent') AS frames_sent,
  json_extract(e.data, '$.packets_received') AS packets_received,
  json_extract(e.data, '$.fraction_lost') AS fraction_lost,
  json_extract(e.data, '$.bitrate_in_bps') AS bitrate_in_bps,
  json_extract(e.data, '$.keyframes_sent') AS keyframes_sent,
  json_extract(e.data, '$.nack_count') AS nack_count,
  json_extract(e.data, '$.pli_count') AS pli_count,
  json_extract(e.data, '$.fir_count') AS fir_count,
  json_extract(e.data, '$.retransmitted_packets_sent') AS retransmitted_packets_sent,
  json_extract(e.data, '$.interval_ms') AS interval_ms,
  json_array_length(e.data, '$.tracks') AS tracks,
  json_array_length(e.data, '$.data_channels') AS data_channels,
  e.position
FROM events e
WHERE e.type = 'connection.stats_sampled';
--> statement-breakpoint
-- One row per outbound track (SSRC) per stats sample: what was sent, and what
-- the viewer's RTCP said about it (loss, jitter, RTT, NACK/PLI/FIR).
CREATE VIEW `track_samples` AS
SELECT
  substr(e.stream, 12) AS connection_id,
  strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
  e.recorded_at,
  json_extract(t.value, '$.ssrc') AS ssrc,
  json_extract(t.value, '$.kind') AS kind,
  json_extract(t.value, '$.mid') AS mid,
  json_extract(t.value, '$.codec') AS codec,
  json_extract(t.value, '$.packets_sent') AS packets_sent,
  json_extract(t.value, '$.bytes_sent') AS bytes_sent,
  json_extract(t.value, '$.bitrate_bps') AS bitrate_bps,
  json_extract(t.value, '$.packets_lost') AS packets_lost,
  json_extract(t.value, '$.fraction_lost') AS fraction_lost,
  json_extract(t.value, '$.jitter_ms') AS jitter_ms,
  json_extract(t.value, '$.rtt_ms') AS rtt_ms,
  json_extract(t.value, '$.receiver_reports') AS receiver_reports,
  json_extract(t.value, '$.nack_count') AS nack_count,
  json_extract(t.value, '$.pli_count') AS pli_count,
  json_extract(t.value, '$.fir_count') AS fir_count,
  json_extract(t.value, '$.retransmitted_packets_sent') AS retransmitted_packets_sent,
  json_extract(t.value, '$.retransmitted_bytes_sent') AS retransmitted_bytes_sent,
  json_extract(t.value, '$.frames_sent') AS frames_sent,
  json_extract(t.value, '$.keyframes_sent') AS keyframes_sent,
  e.position
FROM events e, json_each(e.data, '$.tracks') t
WHERE e.type = 'connection.stats_sampled';
--> statement-breakpoint
-- One row per data channel per stats sample.
CREATE VIEW `data_channel_samples` AS
SELECT
  substr(e.stream, 12) AS connection_id,
  strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
  e.recorded_at,
  json_extract(c.value, '$.label') AS label,
  json_extract(c.value, '$.channel_id') AS channel_id,
  json_extract(c.value, '$.state') AS state,
  json_extract(c.value, '$.messages_sent') AS messages_sent,
  json_extract(c.value, '$.bytes_sent') AS bytes_sent,
  json_extract(c.value, '$.messages_received') AS messages_received,
  json_extract(c.value, '$.bytes_received') AS bytes_received,
  json_extract(c.value, '$.buffered_amount') AS buffered_amount,
  e.position
FROM events e, json_each(e.data, '$.data_channels') c
WHERE e.type = 'connection.stats_sampled';
--> statement-breakpoint
-- Each stall with how it ended: `resumed`, `closed`, or NULL while it lasts.
CREATE VIEW `stall_periods` AS
SELECT
  connection_id,
  strftime('%Y-%m-%dT%H:%M:%fZ', recorded_at / 1000.0, 'unixepoch') AS started,
  recorded_at,
  silent_ms,
  next_type AS ended_by,
  strftime('%Y-%m-%dT%H:%M:%fZ', next_at / 1000.0, 'unixepoch') AS ended,
  next_at - recorded_at + silent_ms AS silent_total_ms
FROM (
  SELECT
    substr(e.stream, 12) AS connection_id,
    e.type,
    e.recorded_at,
    json_extract(e.data, '$.silent_ms') AS silent_ms,
    replace(LEAD(e.type) OVER (PARTITION BY e.stream ORDER BY e.position), 'connection.', '') AS next_type,
    LEAD(e.recorded_at) OVER (PARTITION BY e.stream ORDER BY e.position) AS next_at
  FROM events e
  WHERE e.type IN ('connection.stalled', 'connection.resumed', 'connection.closed')
)
WHERE type = 'connection.stalled';
