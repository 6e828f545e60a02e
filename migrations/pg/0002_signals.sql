ALTER TABLE "connections" ADD COLUMN "outcome" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "stalled" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "abandoned" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "connections_outcome_created" ON "connections" USING btree ("outcome","created_at");--> statement-breakpoint
CREATE INDEX "tasks_abandoned_created" ON "tasks" USING btree ("abandoned","created_at");