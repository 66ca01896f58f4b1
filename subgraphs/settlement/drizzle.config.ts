import { defineConfig } from 'drizzle-kit';

// Migrations are generated here and applied to every shard by scripts/migrate.ts.
export default defineConfig({
  dialect: 'mysql',
  schema: './subgraphs/settlement/src/db/schema/*.ts',
  out: './subgraphs/settlement/drizzle',
});
