ALTER TABLE `connections` ADD `outcome` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `stalled` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `connections_outcome_position` ON `connections` (`outcome`,`created_position`);--> statement-breakpoint
ALTER TABLE `tasks` ADD `abandoned` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_abandoned_position` ON `tasks` (`abandoned`,`created_position`);