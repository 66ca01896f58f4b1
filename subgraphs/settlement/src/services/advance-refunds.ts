import type { Tx } from '@paygraph/shared/shards/transaction';
import { assert } from '@paygraph/shared/result';
import { unsettledRefundKeys } from '@paygraph/transaction/read-model/settlement';
import { addOutstanding, insertRefundOffsets, offsetRefunds } from '../db/advance-store';
import { entriesOfKeys } from '../db/ledger-checks';
import { repaidByRefunds } from '../domain/advances';

/**
 * Lowers a stripe's outstanding advance by what refunds repaid of it, in the caller's local
 * transaction on the stripe's shard, with the outstanding row locked (`outstanding` as read
 * under that lock); answers the outstanding after.
 *
 * Why: a refund of money not yet settled gives back from the stripe's pending first, then from
 * its available. Pending runs short only when an advance moved the money out already, so the
 * part from available is the merchant giving that advance back. Left counted as outstanding, it
 * would keep the merchant's offer and cap consumed, and a later settlement would count that much
 * of new money as advanced and leave it in pending (docs/SETTLEMENT.md, "A refund after an advance").
 * Each refund lowers it once: advance_refund_offsets keys it by refund and stripe.
 */
export async function repayAdvanceByRefunds(
  tx: Tx,
  merchantId: string,
  stripeId: string,
  outstanding: bigint,
): Promise<bigint> {
  // Nothing outstanding: nothing was advanced past the refunds' reach, so pending sufficed for each.
  if (outstanding === 0n) return 0n;
  const asked = await unsettledRefundKeys(tx, merchantId, stripeId);
  const done = await offsetRefunds(tx, stripeId, [...new Set(asked.map((k) => k.refundId))]);
  const fresh = asked.filter((k) => !done.has(k.refundId));
  if (fresh.length === 0) return outstanding;
  const repaid = repaidByRefunds(fresh, await entriesOfKeys(tx, [...new Set(fresh.map((k) => k.key))]), stripeId);
  const total = [...repaid.values()].reduce((a, b) => a + b, 0n);
  if (total === 0n) return outstanding;
  // Pending + outstanding = unsettled money + what refunds repaid: a refund takes from available
  // only what pending lacked, which an advance moved out, so the repaid part never exceeds it.
  assert(total <= outstanding, `refunds repaid ${total} of an outstanding advance of ${outstanding} on ${stripeId}`);
  await insertRefundOffsets(
    tx,
    [...repaid].map(([refundId, amount]) => ({ refundId, stripeAccountId: stripeId, amount })),
  );
  await addOutstanding(tx, stripeId, merchantId, -total);
  return outstanding - total;
}
