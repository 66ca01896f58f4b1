import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '@paygraph/shared/db/migrate';
import { legacyKeysStep } from './services/legacy-keys';
import { giveBacksInFlightStep } from './services/give-back-counts';

/** The transaction subgraph's tables (payments, refunds, holds, idempotency keys, outbox) and its data steps. */
export const transactionMigrations: MigrationSet = {
  name: 'transaction',
  folder: fileURLToPath(new URL('../drizzle', import.meta.url)),
  dataSteps: [legacyKeysStep, giveBacksInFlightStep],
};
