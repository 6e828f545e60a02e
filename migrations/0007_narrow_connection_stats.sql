-- A connection's hot fields (stats sample, counters, positions) move to a narrow row of their
-- own, so a stats sample no longer rewrites the connection's whole state. The connections
-- model's version changed with it: the next start rebuilds the read models before serving.
-- STRICT added by hand: drizzle's sqlite-core cannot declare it (drizzle-team/drizzle-orm#202). See src/log/schema.ts.
CREATE TABLE `connection_stats` (
	`id` text PRIMARY KEY NOT NULL,
	`latest_stats` text,
	`stats_samples` integer NOT NULL,
	`event_count` integer NOT NULL,
	`version` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_position` integer NOT NULL
) STRICT;
--> statement-breakpoint
ALTER TABLE `connections` DROP COLUMN `updated_at`;--> statement-breakpoint
ALTER TABLE `connections` DROP COLUMN `last_position`;