-- STRICT added by hand (see src/log/schema.ts). The streams read model
-- (src/projections/models/streams.ts); the first start on this version
-- rebuilds the read models from the log, which fills it.
CREATE TABLE `streams` (
	`id` text PRIMARY KEY NOT NULL,
	`stream_state` text NOT NULL,
	`content` text,
	`started_at` integer,
	`stopped_at` integer,
	`viewers_now` integer NOT NULL,
	`created_position` integer NOT NULL,
	`last_position` integer NOT NULL,
	`state` text NOT NULL
) STRICT;
--> statement-breakpoint
CREATE INDEX `streams_created_position` ON `streams` (`created_position`);--> statement-breakpoint
CREATE INDEX `streams_state_position` ON `streams` (`stream_state`,`created_position`);
