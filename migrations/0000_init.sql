CREATE TABLE `checkpoints` (
	`consumer` text PRIMARY KEY NOT NULL,
	`position` integer NOT NULL,
	`updated_at` integer NOT NULL
) STRICT;
--> statement-breakpoint
CREATE TABLE `connections` (
	`id` text PRIMARY KEY NOT NULL,
	`server_id` text,
	`category` text NOT NULL,
	`connection_state` text NOT NULL,
	`ice_state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`closed_at` integer,
	`created_position` integer NOT NULL,
	`last_position` integer NOT NULL,
	`state` text NOT NULL
) STRICT;
--> statement-breakpoint
CREATE INDEX `connections_category` ON `connections` (`category`);--> statement-breakpoint
CREATE INDEX `connections_server` ON `connections` (`server_id`);--> statement-breakpoint
CREATE INDEX `connections_created_position` ON `connections` (`created_position`);--> statement-breakpoint
CREATE TABLE `events` (
	`position` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`stream` text NOT NULL,
	`version` integer NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`meta` text NOT NULL,
	`recorded_at` integer NOT NULL
) STRICT;
--> statement-breakpoint
CREATE UNIQUE INDEX `events_stream_version` ON `events` (`stream`,`version`);--> statement-breakpoint
CREATE TABLE `operations` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`status` text NOT NULL,
	`connection_id` text,
	`server_id` text,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`duration_ms` integer,
	`created_position` integer NOT NULL,
	`last_position` integer NOT NULL,
	`state` text NOT NULL
) STRICT;
--> statement-breakpoint
CREATE INDEX `operations_status_position` ON `operations` (`status`,`created_position`);--> statement-breakpoint
CREATE INDEX `operations_created_position` ON `operations` (`created_position`);--> statement-breakpoint
CREATE TABLE `summary` (
	`id` integer PRIMARY KEY NOT NULL,
	`state` text NOT NULL
) STRICT;
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`operation_id` text,
	`connection_id` text,
	`created_at` integer NOT NULL,
	`ended_at` integer,
	`created_position` integer NOT NULL,
	`last_position` integer NOT NULL,
	`state` text NOT NULL
) STRICT;
--> statement-breakpoint
CREATE INDEX `tasks_status_position` ON `tasks` (`status`,`created_position`);--> statement-breakpoint
CREATE INDEX `tasks_operation` ON `tasks` (`operation_id`);--> statement-breakpoint
CREATE INDEX `tasks_connection` ON `tasks` (`connection_id`);