import { inArray } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { rawHold } from '@paygraph/shared/db/raw';
import { giveBackCounts } from './schema/transactions';

/**
 * One more refund the row has given a leg's share back to, its count made when missing, in the give-back's
 * transaction: that transaction holds the row's lock, so a close that takes the lock after it sees the count.
 */
export async function countGiveBack(tx: PostingTx, accountId: string): Promise<void> {
  await rawHold(
    tx,
    'INSERT INTO give_back_counts (account_id, refunds) VALUES (?, 1) ON DUPLICATE KEY UPDATE refunds = refunds + 1',
    [accountId],
  );
}

/** Whether any of `rowIds` (on this database) has ever given back to a refund: read by a close under the rows' locks. */
export async function anyGaveBack(db: Executor, rowIds: readonly string[]): Promise<boolean> {
  if (rowIds.length === 0) return false;
  const counted = await db
    .select({ accountId: giveBackCounts.accountId })
    .from(giveBackCounts)
    .where(inArray(giveBackCounts.accountId, [...rowIds]))
    .limit(1);
  return counted.length > 0;
}
