import { dedupeKeys, type Leg, type PostingSpec } from '@paygraph/shared/ledger/index';

/**
 * The postings of every money movement, as pure data. Each sums to zero on its own shard, and
 * carries the dedupe key that makes its half apply at most once (the ledger's rules/dedupe-keys.ts names
 * each key and what it guards).
 */
export interface Movement {
  id: string;
  currency: string;
  amount: bigint;
}

function transfer(
  kind: string,
  refId: string,
  dedupeKey: string,
  postingId: string,
  currency: string,
  from: { accountId: string; bucket: 'AVAILABLE' | 'PENDING'; fallback?: 'AVAILABLE' },
  to: { accountId: string; bucket: 'AVAILABLE' | 'PENDING' },
  amount: bigint,
): PostingSpec {
  const debit = {
    accountId: from.accountId,
    bucket: from.bucket,
    amount: -amount,
    ...(from.fallback ? { fallbackBucket: from.fallback } : {}),
  };
  return {
    id: postingId,
    kind,
    refId,
    dedupeKey,
    currency,
    legs: [debit, { accountId: to.accountId, bucket: to.bucket, amount }],
  };
}

export function depositSpec(m: Movement, postingId: string, reserveId: string, accountId: string): PostingSpec {
  return transfer(
    'DEPOSIT',
    m.id,
    dedupeKeys.firstHalf(m.id),
    postingId,
    m.currency,
    { accountId: reserveId, bucket: 'AVAILABLE' },
    { accountId, bucket: 'AVAILABLE' },
    m.amount,
  );
}

export function withdrawalSpec(m: Movement, postingId: string, accountId: string, reserveId: string): PostingSpec {
  return transfer(
    'WITHDRAWAL',
    m.id,
    dedupeKeys.firstHalf(m.id),
    postingId,
    m.currency,
    { accountId, bucket: 'AVAILABLE' },
    { accountId: reserveId, bucket: 'AVAILABLE' },
    m.amount,
  );
}

/** The payer's side: straight to the payee (same shard), into a merchant stripe's pending, or into clearing. */
export function paymentDebitSpec(
  m: Movement,
  postingId: string,
  payerId: string,
  creditId: string,
  creditBucket: 'AVAILABLE' | 'PENDING',
): PostingSpec {
  return transfer(
    'PAYMENT',
    m.id,
    dedupeKeys.firstHalf(m.id),
    postingId,
    m.currency,
    { accountId: payerId, bucket: 'AVAILABLE' },
    { accountId: creditId, bucket: creditBucket },
    m.amount,
  );
}

export function paymentCreditSpec(m: Movement, postingId: string, clearingId: string, payeeId: string): PostingSpec {
  return transfer(
    'PAYMENT_CREDIT',
    m.id,
    dedupeKeys.paymentCredit(m.id),
    postingId,
    m.currency,
    { accountId: clearingId, bucket: 'AVAILABLE' },
    { accountId: payeeId, bucket: 'AVAILABLE' },
    m.amount,
  );
}

export function paymentReversalSpec(m: Movement, postingId: string, clearingId: string, payerId: string): PostingSpec {
  const spec = transfer(
    'PAYMENT_REVERSAL',
    m.id,
    dedupeKeys.paymentReversal(m.id),
    postingId,
    m.currency,
    { accountId: clearingId, bucket: 'AVAILABLE' },
    { accountId: payerId, bucket: 'AVAILABLE' },
    m.amount,
  );
  return { ...spec, completion: true };
}

/**
 * A refund on the payment's own shard: the credited row gives back (a merchant stripe from
 * pending first, then available when settlement already moved it) and the payer receives.
 */
export function localRefundSpec(
  m: Movement,
  postingId: string,
  creditId: string,
  fromPending: boolean,
  payerId: string,
): PostingSpec {
  const from = fromPending
    ? { accountId: creditId, bucket: 'PENDING' as const, fallback: 'AVAILABLE' as const }
    : { accountId: creditId, bucket: 'AVAILABLE' as const };
  return transfer(
    'REFUND',
    m.id,
    dedupeKeys.firstHalf(m.id),
    postingId,
    m.currency,
    from,
    { accountId: payerId, bucket: 'AVAILABLE' },
    m.amount,
  );
}

export function refundDebitSpec(m: Movement, postingId: string, payeeId: string, clearingId: string): PostingSpec {
  return transfer(
    'REFUND_DEBIT',
    m.id,
    dedupeKeys.refundDebit(m.id),
    postingId,
    m.currency,
    { accountId: payeeId, bucket: 'AVAILABLE' },
    { accountId: clearingId, bucket: 'AVAILABLE' },
    m.amount,
  );
}

export function refundCreditSpec(m: Movement, postingId: string, clearingId: string, payerId: string): PostingSpec {
  const spec = transfer(
    'REFUND_CREDIT',
    m.id,
    dedupeKeys.refundCredit(m.id),
    postingId,
    m.currency,
    { accountId: clearingId, bucket: 'AVAILABLE' },
    { accountId: payerId, bucket: 'AVAILABLE' },
    m.amount,
  );
  return { ...spec, completion: true };
}

/** A hold: the payer's own money moves from available to frozen, on the payer's row alone. */
export function holdSpec(m: Movement, postingId: string, payerId: string): PostingSpec {
  return {
    id: postingId,
    kind: 'HOLD',
    refId: m.id,
    dedupeKey: dedupeKeys.hold(m.id),
    currency: m.currency,
    legs: [
      { accountId: payerId, bucket: 'AVAILABLE', amount: -m.amount },
      { accountId: payerId, bucket: 'FROZEN', amount: m.amount },
    ],
  };
}

/**
 * A hold's capture, posted as its payment's first half (ref and dedupe key: the payment): the
 * whole hold leaves frozen, `captured` goes where a payment's debit would (the payee, the
 * merchant's stripe here, or clearing) and what was not captured returns to available.
 */
export function holdCaptureSpec(
  hold: Movement,
  payment: Movement,
  postingId: string,
  payerId: string,
  creditId: string,
  creditBucket: 'AVAILABLE' | 'PENDING',
): PostingSpec {
  const rest = hold.amount - payment.amount;
  const legs: Leg[] = [
    { accountId: payerId, bucket: 'FROZEN', amount: -hold.amount },
    { accountId: creditId, bucket: creditBucket, amount: payment.amount },
  ];
  if (rest > 0n) legs.push({ accountId: payerId, bucket: 'AVAILABLE', amount: rest });
  return {
    id: postingId,
    kind: 'HOLD_CAPTURE',
    refId: payment.id,
    dedupeKey: dedupeKeys.holdCapture(payment.id),
    currency: payment.currency,
    legs,
  };
}

/**
 * A void or an expiry: frozen back to available. A completion: the money is the payer's own,
 * and an account frozen or closed meanwhile must still get it back rather than strand it.
 */
export function holdReleaseSpec(hold: Movement, postingId: string, payerId: string): PostingSpec {
  return {
    id: postingId,
    kind: 'HOLD_RELEASE',
    refId: hold.id,
    dedupeKey: dedupeKeys.holdRelease(hold.id),
    currency: hold.currency,
    completion: true,
    legs: [
      { accountId: payerId, bucket: 'FROZEN', amount: -hold.amount },
      { accountId: payerId, bucket: 'AVAILABLE', amount: hold.amount },
    ],
  };
}

/**
 * A sweep's first half, on the debited row's shard, keyed by withdrawal (or refund) and row, so a replay finds it: its
 * available into clearing, or (a refund's move of pending, refund-top-up.ts) its pending, under a key of its own,
 * since one refund may move both from one row.
 */
export function sweepDebitSpec(
  m: Movement,
  postingId: string,
  withdrawalId: string,
  stripeId: string,
  clearingId: string,
  bucket: 'AVAILABLE' | 'PENDING' = 'AVAILABLE',
): PostingSpec {
  return transfer(
    'SWEEP',
    m.id,
    bucket === 'AVAILABLE'
      ? dedupeKeys.sweepDebit(withdrawalId, stripeId)
      : dedupeKeys.pendingMoveDebit(withdrawalId, stripeId),
    postingId,
    m.currency,
    { accountId: stripeId, bucket },
    { accountId: clearingId, bucket: 'AVAILABLE' },
    m.amount,
  );
}

/** A sweep's second half, on the home shard: a completion, so the money never stays in clearing. */
export function sweepCreditSpec(m: Movement, postingId: string, clearingId: string, homeId: string): PostingSpec {
  const spec = transfer(
    'SWEEP_CREDIT',
    m.id,
    dedupeKeys.sweepCredit(m.id),
    postingId,
    m.currency,
    { accountId: clearingId, bucket: 'AVAILABLE' },
    { accountId: homeId, bucket: 'AVAILABLE' },
    m.amount,
  );
  return { ...spec, completion: true };
}

/**
 * A move of pending's second half, on the credited stripe's shard, a completion: `toPending` of it into the stripe's
 * pending (what the advance still covers there: settlement's write-model pendingMovedIn), the rest into its available.
 */
export function pendingMoveCreditSpec(
  m: Movement,
  postingId: string,
  clearingId: string,
  stripeId: string,
  toPending: bigint,
): PostingSpec {
  const legs: Leg[] = [{ accountId: clearingId, bucket: 'AVAILABLE', amount: -m.amount }];
  if (toPending > 0n) legs.push({ accountId: stripeId, bucket: 'PENDING', amount: toPending });
  if (m.amount > toPending) legs.push({ accountId: stripeId, bucket: 'AVAILABLE', amount: m.amount - toPending });
  return {
    id: postingId,
    kind: 'SWEEP_CREDIT',
    refId: m.id,
    dedupeKey: dedupeKeys.sweepCredit(m.id),
    currency: m.currency,
    legs,
    completion: true,
  };
}

/**
 * A payment or refund of route LEGS, each leg posted on its own account's shard (a merchant
 * receiver on its stripe on the payment's shard). Dedupe keys, with <id> the payment or refund:
 *   <id>                     the home posting: every leg on the payment's shard, the rest into
 *                            or out of that shard's clearing
 *   <id>:leg:<i>             leg i on another shard, against that shard's clearing
 *   <id>:leg:<i>:reverse     its reversal, when the movement fails
 *   <id>:reverse             the home posting's reversal (a payment's, as for two legs)
 */
export interface LegEffect {
  index: number;
  /** The row posted: the leg's account, or a merchant's stripe on the payment's shard. */
  accountId: string;
  bucket: 'AVAILABLE' | 'PENDING';
  /** For a debit from a merchant stripe's pending: what settlement has already moved to available. */
  fallback?: 'AVAILABLE';
  /** Signed effect on the account: a credit is positive. */
  amount: bigint;
}

/** The debits, then the credits, each in their order (a stable partition). */
function debitsFirst(legs: readonly Leg[]): Leg[] {
  return [...legs.filter((l) => l.amount < 0n), ...legs.filter((l) => l.amount > 0n)];
}

function legsOf(effects: readonly LegEffect[]): Leg[] {
  return effects
    .filter((e) => e.amount !== 0n)
    .map((e) => ({
      accountId: e.accountId,
      bucket: e.bucket,
      amount: e.amount,
      ...(e.fallback && e.amount < 0n ? { fallbackBucket: e.fallback } : {}),
    }));
}

/**
 * The home posting: the legs on this shard and the shard's clearing for the rest; null when nothing moves here.
 *
 * Debits come first. The ledger applies a posting's legs in order, each on what the ones before left, so a leg
 * listed after a credit to its own account could spend that credit. One account holds two legs when a campaign's
 * funder is also the payee or a split: a refund credits its CAMPAIGN leg and debits its receiving leg. On another
 * shard than the payment's, each leg is a posting of its own and the receiving legs post before any paying leg gets
 * its share back; in the leg order (PAYER, CAMPAIGN, PAYEE, SPLITs) the home posting let the campaign's share pay
 * the funder's give-back, so the same refund SUCCEEDED with the funder on the payer's shard and FAILED elsewhere
 * (simulator seed 3401617778). Debits first, a receiver that cannot give its share back fails the refund wherever
 * it lives, as the contract says. A payment's legs are already in that order (PAYER and CAMPAIGN pay first).
 */
export function homeLegsSpec(
  kind: 'PAYMENT' | 'REFUND',
  m: Pick<Movement, 'id' | 'currency'>,
  postingId: string,
  effects: readonly LegEffect[],
  clearingId: string,
): PostingSpec | null {
  const legs = debitsFirst(legsOf(effects));
  if (legs.length === 0) return null;
  const rest = -legs.reduce((sum, l) => sum + l.amount, 0n);
  if (rest !== 0n) legs.push({ accountId: clearingId, bucket: 'AVAILABLE', amount: rest });
  return { id: postingId, kind, refId: m.id, dedupeKey: dedupeKeys.firstHalf(m.id), currency: m.currency, legs };
}

/** One leg on another shard, against that shard's clearing. */
export function remoteLegSpec(
  kind: 'PAYMENT_LEG' | 'REFUND_LEG',
  m: Pick<Movement, 'id' | 'currency'>,
  postingId: string,
  effect: LegEffect,
  clearingId: string,
): PostingSpec {
  const legs = legsOf([effect]);
  legs.push({ accountId: clearingId, bucket: 'AVAILABLE', amount: -effect.amount });
  return {
    id: postingId,
    kind,
    refId: m.id,
    dedupeKey: dedupeKeys.legPosting(m.id, effect.index),
    currency: m.currency,
    legs,
  };
}

/** Undoes a posting of legs: a completion, as the money is on its way back to where it came from. */
export function reversalOf(spec: PostingSpec, kind: string, dedupeKey: string, postingId: string): PostingSpec {
  return {
    id: postingId,
    kind,
    refId: spec.refId,
    dedupeKey,
    currency: spec.currency,
    completion: true,
    legs: spec.legs.map((l) => ({ accountId: l.accountId, bucket: l.fallbackBucket ?? l.bucket, amount: -l.amount })),
  };
}
