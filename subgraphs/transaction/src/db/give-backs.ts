import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { rawHold } from '@paygraph/shared/db/raw';
import { heldHere } from '@paygraph/shared/control/index';
import { receivingRoles } from '../domain/payment-legs';
import { giveBackCounts, paymentLegs, refundLegs, refunds } from './schema/transactions';

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

/** Whether any of `rowIds` (on this database) ever gave back to a refund: read by a close under the rows' locks. */
export async function anyGaveBack(db: Executor, rowIds: readonly string[]): Promise<boolean> {
  if (rowIds.length === 0) return false;
  const counted = await db
    .select({ accountId: giveBackCounts.accountId })
    .from(giveBackCounts)
    .where(inArray(giveBackCounts.accountId, [...rowIds]))
    .limit(1);
  return counted.length > 0;
}

/** A receiving leg (PAYEE, SPLIT) of a refund still PROCESSING, and the row it gives back from. */
export interface LegInFlight {
  refundId: string;
  legIndex: number;
  postedAccountId: string;
}

/** The receiving legs of refunds still PROCESSING here (live rows), in (refund, leg) order after `after`. */
export async function receivingLegsInFlight(
  db: Executor,
  after: LegInFlight | null,
  limit: number,
): Promise<LegInFlight[]> {
  const next = after
    ? sql`(${refunds.id}, ${refundLegs.legIndex}) > (${after.refundId}, ${after.legIndex})`
    : sql`TRUE`;
  return db
    .select({ refundId: refunds.id, legIndex: refundLegs.legIndex, postedAccountId: paymentLegs.postedAccountId })
    .from(refunds)
    .innerJoin(refundLegs, eq(refundLegs.refundId, refunds.id))
    .innerJoin(
      paymentLegs,
      and(eq(paymentLegs.paymentId, refunds.paymentId), eq(paymentLegs.legIndex, refundLegs.legIndex)),
    )
    .where(
      and(
        eq(refunds.status, 'PROCESSING'),
        inArray(paymentLegs.role, [...receivingRoles]),
        sql.raw(heldHere('`refunds`.`id`')),
        next,
      ),
    )
    .orderBy(asc(refunds.id), asc(refundLegs.legIndex))
    .limit(limit);
}

/** Rows counted as having given back, where not counted yet (the data step's, give-back-counts.ts). */
export async function countGiveBacksIfMissing(db: Executor, rowIds: readonly string[]): Promise<void> {
  if (rowIds.length === 0) return;
  await db
    .insert(giveBackCounts)
    .ignore()
    .values(rowIds.map((accountId) => ({ accountId, refunds: 1 })));
}
