import { defineConfig } from 'drizzle-kit';

// The control module's migrations (the live shard map), applied to every shard by scripts/migrate.ts.
export default defineConfig({
  dialect: 'mysql',
  schema: './subgraphs/shared/src/control/store/schema.ts',
  out: './subgraphs/shared/drizzle-control',
});
