-- The node's quality_samples view (migrations/0008_issues.sql) over the whole
-- fleet: the same columns, `node` first, `position` the node's own log
-- position (conventions: 0001_views.sql). `reasons` is the JSON array as text,
-- as SQLite's json_extract gives it.
CREATE VIEW quality_samples AS
SELECT
  e.node,
  substr(e.stream, 12) AS connection_id,
  iso_time(e.recorded_at) AS at,
  e.recorded_at,
  (e.data->'score'->>'score')::double precision AS score,
  (e.data->'score'->'audio'->>'r')::double precision AS audio_r,
  (e.data->'score'->'audio'->>'mos')::double precision AS audio_mos,
  (e.data->'score'->'audio'->>'score')::double precision AS audio_score,
  (e.data->'score'->'video'->>'score')::double precision AS video_score,
  (e.data->'score'->'video'->>'fps')::double precision AS video_fps,
  (e.data->'score'->'reasons')::text AS reasons,
  e.node_position AS position
FROM events e
WHERE e.type = 'connection.stats_sampled';
