import { err, ok, type Result } from '@paygraph/shared/result';
import type { Account } from '@paygraph/shared/ledger/index';
import type { MoneyErrorOf } from './errors';
import { buyReturnedAfter } from './fx';
import { refundLegChanges, type LegRole } from './payment-legs';

export interface RefundablePayment {
  id: string;
  status: 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
  amount: bigint;
  refundedAmount: bigint;
}

/**
 * A refund may take back at most what is left of a succeeded payment. refundedAmount counts
 * refunds in flight too, so concurrent refunds (serialised on the payment row) never add up
 * to more than the payment.
 */
export function decideRefund(
  payment: RefundablePayment,
  amount: bigint,
): Result<bigint, MoneyErrorOf<'PaymentNotRefundable' | 'RefundExceedsPayment'>> {
  if (payment.status !== 'SUCCEEDED')
    return err({ kind: 'PaymentNotRefundable', paymentId: payment.id, status: payment.status });
  const refundable = payment.amount - payment.refundedAmount;
  if (amount > refundable) return err({ kind: 'RefundExceedsPayment', paymentId: payment.id, refundable });
  return ok(payment.refundedAmount + amount);
}

/** A payment's leg as a refund weighs it: what it moved, in which currency, and what it has returned so far. */
export interface RefundedLeg {
  role: LegRole;
  amount: bigint;
  currency: string;
  refunded: bigint;
}

/**
 * What each leg moves in a refund that brings the payment's refunded total to `refundedAfter`:
 * the one rule of refund shares, for every plan. A payment's legs are its plan's: PAYER and
 * PAYEE of the whole amount for a plain payment (each moves the refund itself), PAYER in the
 * sell currency and PAYEE in the quote's buy currency for an FX payment, PAYER, CAMPAIGN, PAYEE
 * and SPLITs for a payment of legs (payment-legs.ts refundLegChanges: splits floor, payer and
 * payee take their side's remainder, never past their own leg). An FX payment's PAYEE gives
 * back its cumulative share of buy rounded up (fx.ts buyReturnedAfter, in the platform's
 * favour), less what its refunds that did not fail gave: never below zero, so a full refund
 * returns the buy side exactly. The answer is each leg's change, in the leg's own currency.
 */
export function refundShares(legs: readonly RefundedLeg[], paymentAmount: bigint, refundedAfter: bigint): bigint[] {
  const payer = legs.find((leg) => leg.role === 'PAYER')!;
  if (legs.every((leg) => leg.currency === payer.currency)) return refundLegChanges(legs, paymentAmount, refundedAfter);
  return legs.map((leg) => {
    if (leg.currency === payer.currency) return refundedAfter - leg.refunded;
    const owed = buyReturnedAfter(refundedAfter, paymentAmount, leg.amount) - leg.refunded;
    return owed > 0n ? owed : 0n;
  });
}

/**
 * What a refund takes back from one merchant stripe: a leg's share, from pending first when its payment is unsettled.
 */
export interface StripeGiveBack {
  amount: bigint;
  fromPending: boolean;
}

/**
 * How much a stripe lacks to give back `giveBacks` (a refund's shares of the legs posted to it):
 * the unsettled shares take its pending first and the rest from available, the settled ones take
 * available only — the posting rules' order (a PENDING leg falls back to AVAILABLE). Zero when
 * the stripe holds enough. Never more than the give-backs themselves, so a top-up made for it
 * (services/refund-top-up.ts) moves at most the refund's share.
 */
export function stripeShortfall(
  giveBacks: readonly StripeGiveBack[],
  stripe: Pick<Account, 'pending' | 'available'>,
): bigint {
  const fromPending = giveBacks.filter((g) => g.fromPending).reduce((s, g) => s + g.amount, 0n);
  const fromAvailable = giveBacks.filter((g) => !g.fromPending).reduce((s, g) => s + g.amount, 0n);
  const pending = stripe.pending > 0n ? stripe.pending : 0n;
  const available = stripe.available > 0n ? stripe.available : 0n;
  const spill = fromPending > pending ? fromPending - pending : 0n;
  const lacking = fromAvailable + spill - available;
  return lacking > 0n ? lacking : 0n;
}
