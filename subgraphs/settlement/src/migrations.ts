import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '@paygraph/shared/db/migrate';

/** The settlement subgraph's tables (settlements, their parts, fee rates, reconciliation reports). */
export const settlementMigrations: MigrationSet = {
  name: 'settlement',
  folder: fileURLToPath(new URL('../drizzle', import.meta.url)),
};
