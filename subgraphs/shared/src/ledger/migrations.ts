import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '../db/migrate';
import { backfillStripeDirectories } from './stripes';

/** The ledger's tables (accounts, postings, entries, stripes, …) and its data steps. */
export const ledgerMigrations: MigrationSet = {
  name: 'ledger',
  folder: fileURLToPath(new URL('../../drizzle', import.meta.url)),
  // The stripe directory backfill also picks up stripes opened during a rollout by processes
  // that did not write the directory yet, which is why data steps run on every migrate.
  dataSteps: [{ name: 'stripe-directory', run: async (shards) => void (await backfillStripeDirectories(shards)) }],
};
