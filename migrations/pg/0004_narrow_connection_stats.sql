CREATE TABLE "connection_stats" (
	"node" text NOT NULL,
	"id" text NOT NULL,
	"latest_stats" json,
	"stats_samples" integer NOT NULL,
	"event_count" integer NOT NULL,
	"version" integer NOT NULL,
	"updated_at" bigint NOT NULL,
	"last_position" bigint NOT NULL,
	CONSTRAINT "connection_stats_pkey" PRIMARY KEY("node","id")
);
--> statement-breakpoint
ALTER TABLE "connections" DROP COLUMN "updated_at";--> statement-breakpoint
ALTER TABLE "connections" DROP COLUMN "last_position";