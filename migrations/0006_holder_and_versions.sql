-- STRICT added by hand: drizzle's sqlite-core cannot declare it (drizzle-team/drizzle-orm#202,
-- closed without it; drizzle-team/drizzle-orm#5389 and #5907 would add `.strict()`). See src/log/schema.ts.
CREATE TABLE `holder` (
	`id` integer PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`pid` integer NOT NULL,
	`host` text NOT NULL,
	`since` integer NOT NULL
) STRICT;
--> statement-breakpoint
CREATE TABLE `read_model_versions` (
	`name` text PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`built_at` integer NOT NULL
) STRICT;
