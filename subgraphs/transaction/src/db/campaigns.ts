import { eq, inArray, sql } from 'drizzle-orm';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { rawHold } from '@paygraph/shared/db/raw';
import { heldHere } from '@paygraph/shared/control/index';
import { campaignCounts, campaigns, type CampaignRow } from './schema/transactions';

export type NewCampaign = typeof campaigns.$inferInsert;

/** Campaigns live on their funding account's shard. */
export async function insertCampaign(db: Executor, row: NewCampaign): Promise<void> {
  await db.insert(campaigns).ignore().values(row);
}

/**
 * The funding account's count of campaigns, its row made when missing (none yet) and locked until the
 * transaction ends: ON DUPLICATE KEY UPDATE takes the exclusive lock at once, so two first creations
 * wait for each other instead of deadlocking on a shared lock's upgrade (db/link-events.ts lockedHead).
 */
export async function lockedCampaignCount(tx: Tx, fundingAccountId: string): Promise<number> {
  await tx
    .insert(campaignCounts)
    .values({ fundingAccountId, campaigns: 0 })
    .onDuplicateKeyUpdate({ set: { campaigns: sql`${campaignCounts.campaigns}` } });
  const [row] = await tx
    .select({ campaigns: campaignCounts.campaigns })
    .from(campaignCounts)
    .where(eq(campaignCounts.fundingAccountId, fundingAccountId))
    .for('update');
  return row!.campaigns;
}

/** Sets the funding account's count of campaigns, its row locked (lockedCampaignCount). */
export async function setCampaignCount(tx: Tx, fundingAccountId: string, count: number): Promise<void> {
  await tx
    .update(campaignCounts)
    .set({ campaigns: count })
    .where(eq(campaignCounts.fundingAccountId, fundingAccountId));
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

/**
 * Every campaign this database holds (npm run verify), live rows only (control's heldHere): a moved campaign's copy,
 * its counters stale, would be checked against uses counted where it lives now.
 */
export async function allCampaigns(db: Executor): Promise<CampaignRow[]> {
  return db
    .select()
    .from(campaigns)
    .where(sql.raw(heldHere('`campaigns`.`id`')));
}
