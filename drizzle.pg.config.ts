// The central PostgreSQL schema of the fleet (src/fleet/schema.ts) has its own
// migrations: `npm run db:generate:pg`. The node's SQLite schema is drizzle.config.ts.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/fleet/schema.ts',
  out: './migrations/pg',
});
