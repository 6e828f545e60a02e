CREATE TABLE "connections" (
	"node" text NOT NULL,
	"id" text NOT NULL,
	"server_id" text,
	"category" text NOT NULL,
	"connection_state" text NOT NULL,
	"ice_state" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"closed_at" bigint,
	"created_position" bigint NOT NULL,
	"last_position" bigint NOT NULL,
	"state" json NOT NULL,
	CONSTRAINT "connections_pkey" PRIMARY KEY("node","id")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"node" text NOT NULL,
	"node_position" bigint NOT NULL,
	"position" bigint GENERATED ALWAYS AS IDENTITY (sequence name "events_position_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"stream" text NOT NULL,
	"version" integer NOT NULL,
	"type" text NOT NULL,
	"data" json NOT NULL,
	"meta" json NOT NULL,
	"recorded_at" bigint NOT NULL,
	"received_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL,
	CONSTRAINT "events_pkey" PRIMARY KEY("node","node_position")
);
--> statement-breakpoint
CREATE TABLE "fleet_cursors" (
	"node" text PRIMARY KEY NOT NULL,
	"position" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"node" text PRIMARY KEY NOT NULL,
	"head_position" bigint NOT NULL,
	"first_seen_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL,
	"updated_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operations" (
	"node" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"connection_id" text,
	"server_id" text,
	"started_at" bigint NOT NULL,
	"ended_at" bigint,
	"duration_ms" bigint,
	"created_position" bigint NOT NULL,
	"last_position" bigint NOT NULL,
	"state" json NOT NULL,
	CONSTRAINT "operations_pkey" PRIMARY KEY("node","id")
);
--> statement-breakpoint
CREATE TABLE "summary" (
	"node" text PRIMARY KEY NOT NULL,
	"state" json NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"node" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"operation_id" text,
	"connection_id" text,
	"created_at" bigint NOT NULL,
	"ended_at" bigint,
	"created_position" bigint NOT NULL,
	"last_position" bigint NOT NULL,
	"state" json NOT NULL,
	CONSTRAINT "tasks_pkey" PRIMARY KEY("node","id")
);
--> statement-breakpoint
CREATE INDEX "connections_category_created" ON "connections" USING btree ("category","created_at");--> statement-breakpoint
CREATE INDEX "connections_server" ON "connections" USING btree ("node","server_id");--> statement-breakpoint
CREATE INDEX "connections_created" ON "connections" USING btree ("created_at","node","created_position");--> statement-breakpoint
CREATE UNIQUE INDEX "events_node_stream_version" ON "events" USING btree ("node","stream","version");--> statement-breakpoint
CREATE UNIQUE INDEX "events_position" ON "events" USING btree ("position");--> statement-breakpoint
CREATE INDEX "operations_status_started" ON "operations" USING btree ("status","started_at");--> statement-breakpoint
CREATE INDEX "operations_started" ON "operations" USING btree ("started_at","node","created_position");--> statement-breakpoint
CREATE INDEX "tasks_status_created" ON "tasks" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "tasks_created" ON "tasks" USING btree ("created_at","node","created_position");--> statement-breakpoint
CREATE INDEX "tasks_operation" ON "tasks" USING btree ("node","operation_id");--> statement-breakpoint
CREATE INDEX "tasks_connection" ON "tasks" USING btree ("node","connection_id");