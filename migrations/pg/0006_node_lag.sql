ALTER TABLE "nodes" ADD COLUMN "local_head_position" bigint;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "waiting_since" bigint;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "reported_at" bigint;