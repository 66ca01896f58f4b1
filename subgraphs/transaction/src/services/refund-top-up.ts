import { assert } from '@paygraph/shared/result';
import type { Shard } from '@paygraph/shared/shards/pool';
import type { PaymentLegRow, PaymentRow } from '../db/schema/transactions';
import type { PaymentFxRow } from '../db/schema/fx';
import { legsOfPayments } from '../db/payment-legs';
import { refundsByIds } from '../db/payments';
import { buyReturnedOfPayments } from '../db/fx';
import { isPaying, type LegRole } from '../domain/payment-legs';
import { decideRefund, refundShares, stripeShortfall, type StripeGiveBack } from '../domain/refund-rules';
import { readAccounts } from './accounts';
import { completeSweep, debitForSweep } from './sweep';
import { hitFailpoint } from './failpoints';
import type { ServiceContext } from './context';

/**
 * A refund after the merchant's money left a stripe (advanced and withdrawn, settled and paid
 * out) gives back from the merchant's pending first, then its available, then its credit line
 * (issue 33). A merchant is paid on the stripe of the payer's shard, and a refund gives back from
 * that stripe in the payer's shard's transaction; the credit line, and the money a withdrawal
 * swept, are on the home row, which may be on another shard. So before the refund, what each
 * such stripe lacks is moved to it from the home row: a sweep the other way (services/sweep.ts),
 * debited from the home row's available — down to minus its credit limit, under the home row's
 * lock — and credited to the stripe, exactly once, keyed by (refund, home row).
 *
 * - The amount is the stripe's shortfall for this refund's shares (domain/refund-rules.ts
 *   stripeShortfall): at most the refund's share, and only when the refund is allowed.
 * - The home row that cannot give it (its available and line used up, frozen, closed) gives
 *   nothing: the refund is then refused as before, nothing written.
 * - A refund that exists already (a replay of its key: done, failed, or in flight) tops up
 *   nothing: the payment's refunded amount already counts it, so its shares would be another's.
 *   A request that died between its top-up and its refund has no refund yet: its retry meets its
 *   own top-up (DUPLICATE) and moves nothing more.
 * - The payee's stripe comes first, then its splits' (each split recipient's share from its own
 *   home row, as a split's home row on the payment's shard gives back in the refund itself, its
 *   line included); the first home row that cannot give stops the rest: the refund will be refused.
 * - The top-up and the refund are two transactions on two shards. If the stripe's money went
 *   elsewhere in between (a concurrent refund or withdrawal), the refund is refused and the
 *   top-up stays on the stripe. Concurrent refunds of one stripe may each count the money another
 *   brought; the one that finds it gone is refused (INSUFFICIENT_FUNDS), and its retry with the
 *   same key finds its top-up made and moves nothing more: a new key tops up anew. What stays is
 *   the merchant's own money on its own row: its balance, its credit in use (netted over its
 *   rows) and every shard's books are unchanged by it, and its next withdrawal sweeps it home.
 */
export async function topUpStripesForRefund(
  ctx: ServiceContext,
  shard: Shard,
  payment: PaymentRow,
  amount: bigint,
  refundId: string,
  fx: PaymentFxRow | null,
): Promise<void> {
  if (!decideRefund(payment, amount).ok) return;
  const giveBacks = await stripeGiveBacks(shard, payment, fx, payment.refundedAmount + amount);
  if (giveBacks.size === 0) return;
  const stripes = await readAccounts(ctx.shards, [...giveBacks.keys()]);
  let checkedNew = false;
  for (const [stripeId, { homeId, parts }] of payeeFirst(giveBacks, payment.payeeAccountId)) {
    const stripe = stripes.get(stripeId);
    assert(stripe && stripe.parentId === homeId, `refund ${refundId}: ${stripeId} is not a stripe of ${homeId}`);
    const lacking = stripeShortfall(parts, stripe);
    assert(
      lacking <= parts.reduce((s, p) => s + p.amount, 0n),
      `refund ${refundId}: a top-up of ${lacking} exceeds its share`,
    );
    if (lacking === 0n) continue;
    // Read only when something would move: the common refund, from a stripe that holds its share, reads nothing more.
    if (!checkedNew && (await refundsByIds(shard.db, [refundId])).length > 0) return;
    checkedNew = true;
    const home = ctx.shards.of('account', homeId);
    const move = { fromId: homeId, toId: stripeId, currency: stripe.currency, amount: lacking };
    const sweep = await debitForSweep(ctx.shards, home, move, refundId, ctx.now);
    if (!sweep) return;
    hitFailpoint('top-up-after-debit');
    await completeSweep(ctx.shards, home, sweep, ctx.now);
  }
}

/**
 * The refund's shares (domain/refund-rules.ts refundShares, read before the payment's lock: the
 * reservation decides them again under it) of the receiving legs posted to a merchant's stripe
 * other than its home row, by stripe. A home row gives back in the refund itself, its line
 * included; a personal account has no stripes.
 */
async function stripeGiveBacks(
  shard: Shard,
  payment: PaymentRow,
  fx: PaymentFxRow | null,
  refundedAfter: bigint,
): Promise<Map<string, { homeId: string; parts: StripeGiveBack[] }>> {
  const found = new Map<string, { homeId: string; parts: StripeGiveBack[] }>();
  const add = (stripeId: string, homeId: string, part: StripeGiveBack) => {
    if (stripeId === homeId || part.amount <= 0n) return;
    const entry = found.get(stripeId) ?? { homeId, parts: [] };
    entry.parts.push(part);
    found.set(stripeId, entry);
  };
  if (payment.route === 'LEGS') {
    const legs = await legsOfPayments(shard.db, [payment.id]);
    const shares = refundShares(legs.map(weighed), payment.amount, refundedAfter);
    legs.forEach((leg, i) => {
      if (isPaying(leg.role as LegRole) || leg.bucket !== 'PENDING') return;
      add(leg.postedAccountId, leg.accountId, { amount: shares[i]!, fromPending: leg.settlementId === null });
    });
  } else if (payment.route === 'MERCHANT_STRIPE') {
    const payee = fx
      ? {
          role: 'PAYEE' as const,
          amount: fx.buyAmount,
          currency: fx.buyCurrency,
          refunded: (await buyReturnedOfPayments(shard.db, [payment.id])).get(payment.id) ?? 0n,
        }
      : {
          role: 'PAYEE' as const,
          amount: payment.amount,
          currency: payment.currency,
          refunded: payment.refundedAmount,
        };
    const payer = {
      role: 'PAYER' as const,
      amount: payment.amount,
      currency: payment.currency,
      refunded: payment.refundedAmount,
    };
    const [, share] = refundShares([payer, payee], payment.amount, refundedAfter);
    add(payment.creditAccountId, payment.payeeAccountId, {
      amount: share!,
      fromPending: payment.settlementId === null,
    });
  }
  return found;
}

/** The payee's stripes first (its own request), then the splits', each in the order found. */
function payeeFirst<T extends { homeId: string }>(
  giveBacks: ReadonlyMap<string, T>,
  payeeId: string,
): Array<[string, T]> {
  const all = [...giveBacks];
  return [...all.filter(([, g]) => g.homeId === payeeId), ...all.filter(([, g]) => g.homeId !== payeeId)];
}

function weighed(leg: PaymentLegRow) {
  return { role: leg.role as LegRole, amount: leg.amount, currency: leg.currency, refunded: leg.refundedAmount };
}
