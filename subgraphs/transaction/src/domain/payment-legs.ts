import { err, ok, type Result } from '@paygraph/shared/result';
import type { MoneyErrorOf } from './errors';

/**
 * A payment as a set of legs (pure). Paying legs (PAYER, CAMPAIGN) sum to the payment's amount,
 * and so do receiving legs (PAYEE, SPLIT). A payment without splits or campaign is the two-leg
 * case: PAYER and PAYEE, each of the whole amount. Each leg names its own currency, so that a
 * leg in another currency (FX) is one more kind of leg, not another model.
 */
export type LegRole = 'PAYER' | 'CAMPAIGN' | 'PAYEE' | 'SPLIT';

export interface PaymentLeg {
  index: number;
  role: LegRole;
  accountId: string;
  amount: bigint;
  currency: string;
  /**
   * What a PAYER leg pays from: available, unless the plan is a hold's capture (payment-plan.ts planCapture), which
   * pays what the hold froze.
   */
  from?: 'FROZEN';
}

export function isPaying(role: LegRole): boolean {
  return role === 'PAYER' || role === 'CAMPAIGN';
}

/** The roles that receive, from which a refund takes back: every role isPaying is not. */
export const receivingRoles: readonly LegRole[] = ['PAYEE', 'SPLIT'];

export interface LegRequest {
  payerAccountId: string;
  payeeAccountId: string;
  amount: bigint;
  currency: string;
  splits: ReadonlyArray<{ accountId: string; amount: bigint }>;
  discount: { fundingAccountId: string; amount: bigint } | null;
}

/** The legs in their fixed order: PAYER, CAMPAIGN (when it pays something), PAYEE, SPLITs as given. */
export function planLegs(r: LegRequest): Result<PaymentLeg[], MoneyErrorOf<'AmountExceededBySplits'>> {
  const splitsTotal = r.splits.reduce((sum, s) => sum + s.amount, 0n);
  if (splitsTotal > r.amount) return err({ kind: 'AmountExceededBySplits', amount: r.amount, splitsTotal });
  const discount = r.discount && r.discount.amount > 0n ? r.discount : null;
  const legs: Array<Omit<PaymentLeg, 'index'>> = [
    { role: 'PAYER', accountId: r.payerAccountId, amount: r.amount - (discount?.amount ?? 0n), currency: r.currency },
    ...(discount
      ? [
          {
            role: 'CAMPAIGN' as const,
            accountId: discount.fundingAccountId,
            amount: discount.amount,
            currency: r.currency,
          },
        ]
      : []),
    { role: 'PAYEE', accountId: r.payeeAccountId, amount: r.amount - splitsTotal, currency: r.currency },
    ...r.splits.map((s) => ({
      role: 'SPLIT' as const,
      accountId: s.accountId,
      amount: s.amount,
      currency: r.currency,
    })),
  ];
  return ok(legs.map((leg, index) => ({ ...leg, index })));
}

/**
 * What each leg returns in a refund that brings the payment's refunded total to `refundedAfter`,
 * by the contract's cumulative rule: after refunds totalling R every SPLIT has returned
 * floor(R * leg / amount) and the CAMPAIGN ceil(R * leg / amount), the PAYER (paying side) and the
 * PAYEE (receiving side) taking their side's remainder. The campaign's share rounds up, in the
 * funder's favour: rounded down, a refund of 2 of a 3-unit payment the campaign paid 1 of gave the
 * payer back 2, so the campaign paid the whole of a 1-unit purchase its rule discounts by 0 (a unit
 * per payment to a payer whose payee refunds for it). Rounded up, what the campaign has paid net,
 * leg - ceil(R * leg / amount), is floor((amount - R) * leg / amount): never more than its share
 * of what was kept, and the PAYER's remainder never more than its own leg.
 * The receiving side mirrors it: no receiver gives back more than it received. Splits rounding
 * down together could make the PAYEE's remainder pass its own leg (refunding 14280 of 14281 whose
 * splits are 2837 and 7650: floors 2836 and 7649 leave the PAYEE 3795 of its 3794), and the unit
 * beyond came out of its stripe's pending, which held it for another payment: that payment's
 * settlement then found its pending short and was refused. So a SPLIT whose floor leaves the PAYEE
 * past its leg returns its ceiling instead, splits in their order, until the PAYEE's remainder is
 * its leg; the raised splits never return more than their own leg either (R <= amount).
 * `legs[i].refunded` is what leg i has returned so far; the answer is each leg's change, so the
 * legs' totals land exactly on the rule whatever came before (a failed refund's release included).
 * A full refund returns every leg exactly. A change may be negative (the leg receives) when a
 * later refund lowers a share the rule rounded up before.
 */
export function refundLegChanges(
  legs: ReadonlyArray<{ role: LegRole; amount: bigint; refunded: bigint }>,
  paymentAmount: bigint,
  refundedAfter: bigint,
): bigint[] {
  const targets = legs.map((leg) =>
    leg.role === 'PAYER' || leg.role === 'PAYEE'
      ? 0n
      : legShareReturned(leg.role, leg.amount, paymentAmount, refundedAfter),
  );
  for (const remainderRole of ['PAYER', 'PAYEE'] as const) {
    const side = isPaying(remainderRole);
    const others = legs.reduce(
      (sum, leg, i) => (isPaying(leg.role) === side && leg.role !== remainderRole ? sum + targets[i]! : sum),
      0n,
    );
    legs.forEach((leg, i) => {
      if (leg.role === remainderRole) targets[i] = refundedAfter - others;
    });
  }
  const payee = legs.findIndex((leg) => leg.role === 'PAYEE');
  legs.forEach((leg, i) => {
    if (leg.role !== 'SPLIT' || payee < 0 || targets[payee]! <= legs[payee]!.amount) return;
    if ((refundedAfter * leg.amount) % paymentAmount === 0n) return;
    targets[i] = targets[i]! + 1n;
    targets[payee] = targets[payee]! - 1n;
  });
  return legs.map((leg, i) => targets[i]! - leg.refunded);
}

/**
 * A non-remainder leg's cumulative share after refunds totalling R: a SPLIT's rounds down (up when the PAYEE would pass
 * its leg, see refundLegChanges), a CAMPAIGN's up.
 */
export function legShareReturned(
  role: 'CAMPAIGN' | 'SPLIT',
  leg: bigint,
  paymentAmount: bigint,
  refundedAfter: bigint,
): bigint {
  const exact = refundedAfter * leg;
  return role === 'CAMPAIGN' ? (exact + paymentAmount - 1n) / paymentAmount : exact / paymentAmount;
}

export interface CampaignTerms {
  id: string;
  currency: string;
  percentOffBps: number | null;
  amountOff: bigint | null;
  maxDiscountPerPayment: bigint | null;
  payeeAccountIds: readonly string[] | null;
  endsAt: Date | null;
}

export function campaignEnded(c: Pick<CampaignTerms, 'endsAt'>, now: Date): boolean {
  return c.endsAt !== null && c.endsAt.getTime() <= now.getTime();
}

/** A receiving leg (PAYEE or SPLIT) as a campaign weighs it: whose account it credits, and how much. */
export interface ReceivingShare {
  accountId: string;
  ownerId: string;
  amount: bigint;
}

/** The receiving legs of planned legs, each with its account's owner (`ownerOf` knows every receiver). */
export function receivingShares(legs: readonly PaymentLeg[], ownerOf: (accountId: string) => string): ReceivingShare[] {
  return legs
    .filter((l) => !isPaying(l.role))
    .map((l) => ({ accountId: l.accountId, ownerId: ownerOf(l.accountId), amount: l.amount }));
}

/**
 * The discount a campaign gives a payment, as the contract says: a campaign pays only for what
 * it was funded for. The receiving legs are the PAYEE leg (amount - splits) and every SPLIT.
 * - Ended, or another currency: CAMPAIGN_NOT_APPLICABLE.
 * - Any receiving leg credits an account of the payer's owner (whatever its amount, 0 too):
 *   CAMPAIGN_NOT_APPLICABLE, open campaign or not: else a payer could route the discounted
 *   money back to itself (a split to its own second account, a transfer between its accounts).
 * - The eligible share is what the receiving legs to the campaign's payeeAccountIds receive
 *   (every receiving leg for an open campaign); none: CAMPAIGN_NOT_APPLICABLE.
 * - The discount is floor(share * bps / 10000) (rounded down: the funder's favour) or
 *   min(amountOff, share), then at most maxDiscountPerPayment.
 */
export function campaignDiscount(
  c: CampaignTerms,
  payment: { payerOwnerId: string; currency: string; receiving: readonly ReceivingShare[] },
  now: Date,
): Result<bigint, MoneyErrorOf<'CampaignNotApplicable'>> {
  const refuse = (reason: string) =>
    err({ kind: 'CampaignNotApplicable' as const, campaignId: c.id, reason: `campaign ${c.id} ${reason}` });
  if (campaignEnded(c, now)) return refuse(`ended at ${c.endsAt!.toISOString()}`);
  if (c.currency !== payment.currency) return refuse(`pays in ${c.currency}, the payment is in ${payment.currency}`);
  const own = payment.receiving.find((r) => r.ownerId === payment.payerOwnerId);
  if (own) return refuse(`does not pay for money the payer's owner receives (account ${own.accountId})`);
  const eligible = payment.receiving.filter(
    (r) => c.payeeAccountIds === null || c.payeeAccountIds.includes(r.accountId),
  );
  const share = eligible.reduce((sum, r) => sum + r.amount, 0n);
  if (share === 0n) return refuse("applies to none of what this payment's payee and splits receive");
  const raw =
    c.percentOffBps !== null
      ? (share * BigInt(c.percentOffBps)) / 10_000n
      : c.amountOff! < share
        ? c.amountOff!
        : share;
  return ok(c.maxDiscountPerPayment !== null && c.maxDiscountPerPayment < raw ? c.maxDiscountPerPayment : raw);
}
