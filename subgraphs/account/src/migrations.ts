import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '@paygraph/shared/db/migrate';

/**
 * The account subgraph's own tables: none yet (it reads the ledger's), so its folder is empty and the set applies
 * nothing.
 */
export const accountMigrations: MigrationSet = {
  name: 'account',
  folder: fileURLToPath(new URL('../drizzle', import.meta.url)),
};
