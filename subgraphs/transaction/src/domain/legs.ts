import type { Leg, PostingSpec } from '@paygraph/shared/ledger/posting-rules';

/**
 * The postings of every money movement, as pure data. Each sums to zero on its own shard.
 * Dedupe keys make each half of a movement apply at most once however often it is tried:
 *   <resource id>            the first half (on the shard where the resource lives)
 *   <resource id>:credit     a payment's credit on the payee's shard
 *   <resource id>:reverse    a failed cross-shard payment's money back to the payer
 *   <refund id>:debit        a cross-shard refund's debit on the payee's shard
 *   <refund id>:credit       a cross-shard refund's credit back to the payer
 *   <hold id>                a hold: the payer's available → frozen
 *   <payment id>             a hold's capture: frozen → the payment's credit row, the rest → available
 *   <hold id>:release        a hold's void or expiry: frozen → available (one key for both, so
 *                            however a hold is released, its money comes back once)
 *   <withdrawal id>:sweep:<stripe id>  a sweep's debit of a merchant stripe into clearing
 *   <sweep id>:credit        a sweep's credit of the merchant's home row from clearing
 */
export interface Movement {
  id: string;
  currency: string;
  amount: bigint;
}

function transfer(
  kind: string, refId: string, dedupeKey: string, postingId: string, currency: string,
  from: { accountId: string; bucket: 'AVAILABLE' | 'PENDING'; fallback?: 'AVAILABLE' },
  to: { accountId: string; bucket: 'AVAILABLE' | 'PENDING' },
  amount: bigint,
): PostingSpec {
  const debit = { accountId: from.accountId, bucket: from.bucket, amount: -amount, ...(from.fallback ? { fallbackBucket: from.fallback } : {}) };
  return { id: postingId, kind, refId, dedupeKey, currency, legs: [debit, { accountId: to.accountId, bucket: to.bucket, amount }] };
}

export function depositSpec(m: Movement, postingId: string, reserveId: string, accountId: string): PostingSpec {
  return transfer('DEPOSIT', m.id, m.id, postingId, m.currency, { accountId: reserveId, bucket: 'AVAILABLE' }, { accountId, bucket: 'AVAILABLE' }, m.amount);
}

export function withdrawalSpec(m: Movement, postingId: string, accountId: string, reserveId: string): PostingSpec {
  return transfer('WITHDRAWAL', m.id, m.id, postingId, m.currency, { accountId, bucket: 'AVAILABLE' }, { accountId: reserveId, bucket: 'AVAILABLE' }, m.amount);
}

/** The payer's side: straight to the payee (same shard), into a merchant stripe's pending, or into clearing. */
export function paymentDebitSpec(m: Movement, postingId: string, payerId: string, creditId: string, creditBucket: 'AVAILABLE' | 'PENDING'): PostingSpec {
  return transfer('PAYMENT', m.id, m.id, postingId, m.currency, { accountId: payerId, bucket: 'AVAILABLE' }, { accountId: creditId, bucket: creditBucket }, m.amount);
}

export function paymentCreditSpec(m: Movement, postingId: string, clearingId: string, payeeId: string): PostingSpec {
  return transfer('PAYMENT_CREDIT', m.id, `${m.id}:credit`, postingId, m.currency, { accountId: clearingId, bucket: 'AVAILABLE' }, { accountId: payeeId, bucket: 'AVAILABLE' }, m.amount);
}

export function paymentReversalSpec(m: Movement, postingId: string, clearingId: string, payerId: string): PostingSpec {
  const spec = transfer('PAYMENT_REVERSAL', m.id, `${m.id}:reverse`, postingId, m.currency, { accountId: clearingId, bucket: 'AVAILABLE' }, { accountId: payerId, bucket: 'AVAILABLE' }, m.amount);
  return { ...spec, completion: true };
}

/**
 * A refund on the payment's own shard: the credited row gives back (a merchant stripe from
 * pending first, then available when settlement already moved it) and the payer receives.
 */
export function localRefundSpec(m: Movement, postingId: string, creditId: string, fromPending: boolean, payerId: string): PostingSpec {
  const from = fromPending
    ? { accountId: creditId, bucket: 'PENDING' as const, fallback: 'AVAILABLE' as const }
    : { accountId: creditId, bucket: 'AVAILABLE' as const };
  return transfer('REFUND', m.id, m.id, postingId, m.currency, from, { accountId: payerId, bucket: 'AVAILABLE' }, m.amount);
}

export function refundDebitSpec(m: Movement, postingId: string, payeeId: string, clearingId: string): PostingSpec {
  return transfer('REFUND_DEBIT', m.id, `${m.id}:debit`, postingId, m.currency, { accountId: payeeId, bucket: 'AVAILABLE' }, { accountId: clearingId, bucket: 'AVAILABLE' }, m.amount);
}

export function refundCreditSpec(m: Movement, postingId: string, clearingId: string, payerId: string): PostingSpec {
  const spec = transfer('REFUND_CREDIT', m.id, `${m.id}:credit`, postingId, m.currency, { accountId: clearingId, bucket: 'AVAILABLE' }, { accountId: payerId, bucket: 'AVAILABLE' }, m.amount);
  return { ...spec, completion: true };
}

/** A hold: the payer's own money moves from available to frozen, on the payer's row alone. */
export function holdSpec(m: Movement, postingId: string, payerId: string): PostingSpec {
  return {
    id: postingId, kind: 'HOLD', refId: m.id, dedupeKey: m.id, currency: m.currency,
    legs: [{ accountId: payerId, bucket: 'AVAILABLE', amount: -m.amount }, { accountId: payerId, bucket: 'FROZEN', amount: m.amount }],
  };
}

/**
 * A hold's capture, posted as its payment's first half (ref and dedupe key: the payment): the
 * whole hold leaves frozen, `captured` goes where a payment's debit would (the payee, the
 * merchant's stripe here, or clearing) and what was not captured returns to available.
 */
export function holdCaptureSpec(
  hold: Movement, payment: Movement, postingId: string, payerId: string, creditId: string, creditBucket: 'AVAILABLE' | 'PENDING',
): PostingSpec {
  const rest = hold.amount - payment.amount;
  const legs: Leg[] = [{ accountId: payerId, bucket: 'FROZEN', amount: -hold.amount }, { accountId: creditId, bucket: creditBucket, amount: payment.amount }];
  if (rest > 0n) legs.push({ accountId: payerId, bucket: 'AVAILABLE', amount: rest });
  return { id: postingId, kind: 'HOLD_CAPTURE', refId: payment.id, dedupeKey: payment.id, currency: payment.currency, legs };
}

/**
 * A void or an expiry: frozen back to available. A completion: the money is the payer's own,
 * and an account frozen or closed meanwhile must still get it back rather than strand it.
 */
export function holdReleaseSpec(hold: Movement, postingId: string, payerId: string): PostingSpec {
  return {
    id: postingId, kind: 'HOLD_RELEASE', refId: hold.id, dedupeKey: `${hold.id}:release`, currency: hold.currency, completion: true,
    legs: [{ accountId: payerId, bucket: 'FROZEN', amount: -hold.amount }, { accountId: payerId, bucket: 'AVAILABLE', amount: hold.amount }],
  };
}

/** A sweep's first half, on the stripe's shard: keyed by withdrawal and stripe, so a replay finds it. */
export function sweepDebitSpec(m: Movement, postingId: string, withdrawalId: string, stripeId: string, clearingId: string): PostingSpec {
  return transfer('SWEEP', m.id, `${withdrawalId}:sweep:${stripeId}`, postingId, m.currency, { accountId: stripeId, bucket: 'AVAILABLE' }, { accountId: clearingId, bucket: 'AVAILABLE' }, m.amount);
}

/** A sweep's second half, on the home shard: a completion, so the money never stays in clearing. */
export function sweepCreditSpec(m: Movement, postingId: string, clearingId: string, homeId: string): PostingSpec {
  const spec = transfer('SWEEP_CREDIT', m.id, `${m.id}:credit`, postingId, m.currency, { accountId: clearingId, bucket: 'AVAILABLE' }, { accountId: homeId, bucket: 'AVAILABLE' }, m.amount);
  return { ...spec, completion: true };
}
