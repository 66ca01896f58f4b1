import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '@paygraph/shared/db/migrate';

/** The gateway's table: audit_events, written to the control shard. */
export const gatewayMigrations: MigrationSet = {
  name: 'gateway',
  folder: fileURLToPath(new URL('../drizzle', import.meta.url)),
};
