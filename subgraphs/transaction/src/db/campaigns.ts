import { inArray } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { rawHold } from '@paygraph/shared/db/raw';
import { campaigns, type CampaignRow } from './schema/transactions';

/** Campaigns live on their funding account's shard. */
export async function insertCampaign(db: Executor, row: typeof campaigns.$inferInsert): Promise<void> {
  await db.insert(campaigns).ignore().values(row);
}

export async function campaignsByIds(db: Executor, ids: readonly string[]): Promise<CampaignRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(campaigns)
    .where(inArray(campaigns.id, [...ids]));
}

/**
 * Counts a discount paid (+1) or given back by a failed payment's reversal (-1), in the same
 * local transaction as the funding account's posting: spent and count never disagree with the
 * ledger. Nobody waits for its answer, so it goes out with the batch's next statement or its
 * COMMIT (rawHold): sent on its own, each funding leg of a merged batch cost a round trip of
 * its own while the batch held the funding account's lock. CAST keeps the sum an integer.
 */
export async function countCampaignUse(tx: PostingTx, id: string, discount: bigint, uses: 1 | -1): Promise<void> {
  await rawHold(
    tx,
    'UPDATE campaigns SET spent_amount = spent_amount + CAST(? AS SIGNED), payments_count = payments_count + ? WHERE id = ?',
    [(uses === 1 ? discount : -discount).toString(), uses, id],
  );
}

export async function allCampaigns(db: Executor): Promise<CampaignRow[]> {
  return db.select().from(campaigns);
}
