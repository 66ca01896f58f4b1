import { defineConfig } from 'drizzle-kit';

// Migrations are generated here and applied to every shard by scripts/migrate.ts.
// idempotency_keys is the shared idempotency module's table, but this set made it (0000 and
// later) and has been applied to every database: its migrations stay here, so the set reads the
// module's schema beside its own (subgraphs/shared/src/idempotency/store/schema.ts says why).
export default defineConfig({
  dialect: 'mysql',
  schema: ['./subgraphs/transaction/src/db/schema/*.ts', './subgraphs/shared/src/idempotency/store/schema.ts'],
  out: './subgraphs/transaction/drizzle',
});
