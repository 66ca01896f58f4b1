import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { Tx } from '@paygraph/shared/shards/transaction';
import { shardOf } from '@paygraph/shared/ids';
import { refuseFenced } from '@paygraph/shared/control/index';
import { lockAccount, onShard, placedHere, stripeShardsOf, type Account } from '@paygraph/shared/ledger/index';
import { addOutstanding, lockOutstanding, moveOutstanding, offsetRefunds, outstandingOf } from '../db/advance-store';
import { advanceRefundOffsets } from '../db/schema/settlement';
import { repayAdvanceByRefunds } from '../services/advance-refunds';
import { whileNoAdvanceRuns } from '../services/advance-lock';

/**
 * The one write settlement lets another part make to its advance tables: a refund of advanced
 * money (transaction's services/refund-top-up.ts) gives back the merchant's pending first, on any
 * stripe, so it moves pending from another stripe Y to the stripe X it gives back from. Per
 * stripe, pending + outstanding = unsettled money + what refunds repaid (docs/SETTLEMENT.md,
 * "A refund after an advance"): Y's pending goes down and X's up by the same amount, so the advance
 * moves with it, Y's outstanding up and X's down, each in the local transaction of its posting
 * on that stripe's shard (as a settlement marks what it settled through transaction's
 * write-model). Each side is recorded in advance_refund_offsets under the move's id (the sweep's:
 * never a refund's, so it cannot meet a refund's own repayment there), negative for Y, so that
 * outstanding = Σ pieces − Σ covered − Σ offsets still holds, and `npm run verify` checks it.
 */
export interface PendingMove {
  /** The sweep that moves it: its id keys both sides. */
  moveId: string;
  merchantId: string;
  stripeId: string;
  amount: bigint;
}

/**
 * Runs `work` under the merchant's advance lock (services/advance-lock.ts): no advance, settlement or other move of
 * the merchant runs beside it, so what it reads of pending and outstanding stays true until it has moved.
 */
export function whileNoAdvanceMoves<T>(shards: ShardSet, merchantId: string, work: () => Promise<T>): Promise<T> {
  return whileNoAdvanceRuns(shards, merchantId, work);
}

/**
 * What stands advanced on each of the merchant's stripes (advance_outstanding; a stripe without a row: absent): how
 * much of a stripe's pending an advance moved out, so how much a refund of its money may take from other stripes'
 * pending. An upper bound (refunds' repayments not yet counted are still in it): the credited side decides exactly.
 */
export async function outstandingByStripe(
  shards: ShardSet,
  merchant: Pick<Account, 'id' | 'stripeShards'>,
): Promise<Map<string, bigint>> {
  const home = shards.of('account', merchant.id);
  const targets = [home, ...stripeShardsOf(shards, merchant).filter((s) => s !== home)];
  const found = await Promise.all(targets.map((s) => onShard(s, () => outstandingOf(s.db, merchant.id))));
  // Each stripe's row from the database the map places it on: a shard move's copy elsewhere is not its outstanding now.
  return new Map(found.flatMap((m, i) => [...m].filter(([stripe]) => placedHere(shards, targets[i]!, stripe))));
}

/**
 * The debited stripe's side, in the transaction of the posting that took `amount` of its pending: the advance now
 * stands against this stripe's money, so its outstanding goes up by as much, and its moved counter with it (a piece's
 * reversal does not take back what a move added since the piece: services/advance-pieces.ts).
 */
export async function pendingMovedOut(tx: Tx, move: PendingMove): Promise<void> {
  await moveOutstanding(tx, move.stripeId, move.merchantId, move.amount);
  await tx
    .insert(advanceRefundOffsets)
    .values({ refundId: move.moveId, stripeAccountId: move.stripeId, amount: -move.amount });
}

/**
 * The credited stripe's side, in the prepare of the posting that brings the move to it, with its outstanding locked:
 * how much of `amount` may land in its pending (null: the move landed already). First every refund's repayment of
 * the stripe not yet counted lowers outstanding (services/advance-refunds.ts), so what is left is exactly what the
 * advance still covers of the stripe's unsettled money; no more may land in pending, or pending would exceed the money
 * settlement will ever move out of it. What a refund in between took from available makes the rest (answered as
 * amount − the result, to the stripe's available): the merchant then has what that refund would have taken from
 * the other stripe's pending, never more.
 */
export async function pendingMovedIn(tx: Tx, shardName: string, move: PendingMove): Promise<bigint | null> {
  // The counter's row first, made if need be, and locked: a second credit of the same move (the relay beside the
  // refund) waits here until the first commits, then finds its offset (READ COMMITTED) and moves nothing.
  await addOutstanding(tx, move.stripeId, move.merchantId, 0n);
  const locked = await lockOutstanding(tx, move.stripeId);
  if ((await offsetRefunds(tx, move.stripeId, [move.moveId])).size > 0) return null;
  // The stripe's row before the refunds are read, in a posting's order (its fence row, then the row), as a piece's
  // reversal does: a refund posts on it, so one not committed by this read waits until the move has landed. Read before
  // the posting's own lock, a refund committing in between took from available what an advance had moved out, was not
  // counted, and more of the move landed in pending than the advance still covered: the next settlement then met a
  // refund's repayment above the stripe's outstanding.
  await refuseFenced(tx, shardName, [shardOf('account', move.stripeId)]);
  await lockAccount(tx, move.stripeId);
  const outstanding = await repayAdvanceByRefunds(tx, move.merchantId, move.stripeId, locked);
  const repaid = move.amount < outstanding ? move.amount : outstanding;
  if (repaid > 0n) await moveOutstanding(tx, move.stripeId, move.merchantId, -repaid);
  await tx
    .insert(advanceRefundOffsets)
    .values({ refundId: move.moveId, stripeAccountId: move.stripeId, amount: repaid });
  return repaid;
}
