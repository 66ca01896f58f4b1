import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '@paygraph/shared/db/migrate';

/** The webhooks subgraph's tables (endpoints, streams and their cursors, deliveries). */
export const webhooksMigrations: MigrationSet = {
  name: 'webhooks',
  folder: fileURLToPath(new URL('../drizzle', import.meta.url)),
};
