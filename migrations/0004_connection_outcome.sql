ALTER TABLE `connections` ADD `outcome` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `stalled` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `connections_outcome_position` ON `connections` (`outcome`,`created_position`);