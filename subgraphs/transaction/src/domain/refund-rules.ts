import type { AccountStatus } from '@paygraph/shared/ledger/index';
import { err, ok, type Result } from '@paygraph/shared/result';
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

/** An account a refund would credit (a paying leg's: the payer, a campaign's funder) and its status as read. */
export interface CreditedAccount {
  id: string;
  status: AccountStatus;
}

/**
 * A refund gives back only to accounts that may receive: every account it credits ACTIVE, decided
 * under the payment's lock before anything is reserved, so a refused refund moves no money. A
 * CLOSED account cannot pay, withdraw or reopen: money credited to it would stay there for good; a
 * FROZEN one neither pays nor receives. Within one database the payer's credit is checked so by
 * its posting anyway; across databases it is a completion, posted whatever the status once the
 * payee has given back (it must not fail then), so without this the answer depended on where the
 * payee lived: refused locally, SUCCEEDED into a CLOSED payer remotely.
 */
export function decideRefundCredit(
  credited: readonly CreditedAccount[],
): Result<void, MoneyErrorOf<'AccountNotActive'>> {
  const inactive = credited.find((a) => a.status !== 'ACTIVE');
  return inactive ? err({ kind: 'AccountNotActive', accountId: inactive.id, status: inactive.status }) : ok(undefined);
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
