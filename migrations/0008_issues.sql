-- STRICT added by hand (see src/log/schema.ts).
CREATE TABLE `issues` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`severity` text NOT NULL,
	`status` text NOT NULL,
	`connection_id` text,
	`operation_id` text,
	`task_id` text,
	`node` text,
	`raised_at` integer NOT NULL,
	`resolved_at` integer,
	`created_position` integer NOT NULL,
	`last_position` integer NOT NULL,
	`state` text NOT NULL
) STRICT;
--> statement-breakpoint
CREATE INDEX `issues_status_position` ON `issues` (`status`,`created_position`);--> statement-breakpoint
CREATE INDEX `issues_created_position` ON `issues` (`created_position`);--> statement-breakpoint
CREATE INDEX `issues_connection` ON `issues` (`connection_id`);--> statement-breakpoint
ALTER TABLE `checkpoints` ADD `state` text;--> statement-breakpoint
-- The quality score of every stats sample (src/detect/score.ts): NULL where
-- unknown and on samples recorded before scores existed.
CREATE VIEW `quality_samples` AS
SELECT
  substr(e.stream, 12) AS connection_id,
  strftime('%Y-%m-%dT%H:%M:%fZ', e.recorded_at / 1000.0, 'unixepoch') AS at,
  e.recorded_at,
  json_extract(e.data, '$.score.score') AS score,
  json_extract(e.data, '$.score.audio.r') AS audio_r,
  json_extract(e.data, '$.score.audio.mos') AS audio_mos,
  json_extract(e.data, '$.score.audio.score') AS audio_score,
  json_extract(e.data, '$.score.video.score') AS video_score,
  json_extract(e.data, '$.score.video.fps') AS video_fps,
  json_extract(e.data, '$.score.reasons') AS reasons,
  e.position
FROM events e
WHERE e.type = 'connection.stats_sampled';
