import { defineConfig } from 'drizzle-kit';

// Migrations are generated here and applied to every shard by scripts/migrate.ts.
export default defineConfig({
  dialect: 'mysql',
  schema: './subgraphs/shared/src/ledger/store/schema.ts',
  out: './subgraphs/shared/drizzle',
});
