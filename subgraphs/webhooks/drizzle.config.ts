import { defineConfig } from 'drizzle-kit';

// Migrations are generated here and applied to every shard by scripts/migrate.ts.
export default defineConfig({
  dialect: 'mysql',
  schema: './subgraphs/webhooks/src/db/schema/*.ts',
  out: './subgraphs/webhooks/drizzle',
});
