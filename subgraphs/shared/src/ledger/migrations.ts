import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '../db/migrate';
import { backfillStripeDirectories } from './stripes';
import { backfillOwnerDirectories } from './owners';
import { backfillClassDays } from './store/class-days';

/** The ledger's tables (accounts, postings, entries, stripes, …) and its data steps. */
export const ledgerMigrations: MigrationSet = {
  name: 'ledger',
  folder: fileURLToPath(new URL('../../drizzle', import.meta.url)),
  // The stripe directory backfill also picks up stripes opened during a rollout by processes
  // that did not write the directory yet, which is why data steps run on every migrate.
  dataSteps: [
    { name: 'stripe-directory', run: async (shards) => void (await backfillStripeDirectories(shards)) },
    // The owner directory (issue 48) for accounts opened before it, or by a process that did not write it yet.
    { name: 'owner-directory', run: async (shards) => void (await backfillOwnerDirectories(shards)) },
    // The books' sums of entries posted before they were kept (issue 49): once per shard.
    {
      name: 'books-sums',
      run: async (shards) => void (await Promise.all(shards.all.map((shard) => backfillClassDays(shard)))),
    },
  ],
};
