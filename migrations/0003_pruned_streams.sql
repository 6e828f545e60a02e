CREATE TABLE `pruned_streams` (
	`stream` text PRIMARY KEY NOT NULL,
	`version` integer NOT NULL
) STRICT;
