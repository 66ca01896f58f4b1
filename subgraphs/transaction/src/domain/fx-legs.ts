import { dedupeKeys, type Leg, type PostingSpec } from '@paygraph/shared/ledger/index';

/**
 * The postings of an FX payment and its refunds, as pure data. They carry the dedupe keys of
 * a plain payment's (the ledger's dedupeKeys), so that relay, replays and reconciliation treat
 * them alike. Each posting on the payer's shard moves two currencies and balances in
 * each: the FX position accounts of the payer's entity on that shard (one per currency) take
 * the other side, so a payment within one entity stays in its books and one between entities
 * owes the payee's entity in B alone. With A the payer's currency (sold) and B the payee's (bought):
 *
 *   debit       payer −sell(A), fxPos(A) +sell(A), fxPos(B) −buy(B), credit row +buy(B)
 *               (credit row: the payee on this shard, the merchant's stripe here, or clearing(B))
 *   credit      on the payee's shard: clearing(B) −buy(B), payee +buy(B)   (a plain credit in B)
 *   reverse     clearing(B) −buy(B), fxPos(B) +buy(B), fxPos(A) −sell(A), payer +sell(A)
 *   refund r    the payee's row −b(B), fxPos(B) +b(B), fxPos(A) −r(A), payer +r(A), where b is the
 *               refund's cumulative pro-rata share of buy, rounded up in the platform's favour
 *               (domain/fx.ts buyReturnedAfter: the payee never keeps a remainder); across
 *               shards the payee's part is a plain debit in B into clearing(B) on its shard, and
 *               the rest posts from clearing(B) on the payer's shard.
 */
export interface FxSides {
  sellAmount: bigint;
  sellCurrency: string;
  buyAmount: bigint;
  buyCurrency: string;
}

/** The FX position accounts of the payer's entity on its shard: one in the currency sold, one in the one bought. */
export interface FxPositions {
  sell: string;
  buy: string;
}

type Bucketed = { accountId: string; bucket: 'AVAILABLE' | 'PENDING'; fallbackBucket?: 'AVAILABLE' };

/** Money in B leaves `from` for the position in B; the position in A pays `to` in A. Zero amounts make no leg. */
function exchangeLegs(from: Bucketed, to: Bucketed, sides: FxSides, positions: FxPositions): Leg[] {
  const legs: Leg[] = [];
  if (sides.buyAmount > 0n) {
    legs.push({ ...from, amount: -sides.buyAmount, currency: sides.buyCurrency });
    legs.push({ accountId: positions.buy, bucket: 'AVAILABLE', amount: sides.buyAmount, currency: sides.buyCurrency });
  }
  legs.push({
    accountId: positions.sell,
    bucket: 'AVAILABLE',
    amount: -sides.sellAmount,
    currency: sides.sellCurrency,
  });
  legs.push({ ...to, amount: sides.sellAmount, currency: sides.sellCurrency });
  return legs;
}

export function fxPaymentDebitSpec(
  paymentId: string,
  postingId: string,
  payerId: string,
  credit: { accountId: string; bucket: 'AVAILABLE' | 'PENDING' },
  sides: FxSides,
  positions: FxPositions,
): PostingSpec {
  const legs: Leg[] = [
    { accountId: payerId, bucket: 'AVAILABLE', amount: -sides.sellAmount, currency: sides.sellCurrency },
    { accountId: positions.sell, bucket: 'AVAILABLE', amount: sides.sellAmount, currency: sides.sellCurrency },
    { accountId: positions.buy, bucket: 'AVAILABLE', amount: -sides.buyAmount, currency: sides.buyCurrency },
    { ...credit, amount: sides.buyAmount, currency: sides.buyCurrency },
  ];
  return {
    id: postingId,
    kind: 'PAYMENT',
    refId: paymentId,
    dedupeKey: dedupeKeys.firstHalf(paymentId),
    currency: sides.sellCurrency,
    legs,
  };
}

/** A failed cross-shard FX payment: the debit undone, from clearing(B) back through the positions to the payer. */
export function fxPaymentReversalSpec(
  paymentId: string,
  postingId: string,
  clearingId: string,
  payerId: string,
  sides: FxSides,
  positions: FxPositions,
): PostingSpec {
  const legs = exchangeLegs(
    { accountId: clearingId, bucket: 'AVAILABLE' },
    { accountId: payerId, bucket: 'AVAILABLE' },
    sides,
    positions,
  );
  return {
    id: postingId,
    kind: 'PAYMENT_REVERSAL',
    refId: paymentId,
    dedupeKey: dedupeKeys.paymentReversal(paymentId),
    currency: sides.sellCurrency,
    legs,
    completion: true,
  };
}

/**
 * A refund on the payment's own shard: the credited row gives back its share in B (a merchant
 * stripe from pending first, then available), the payer receives r in A.
 */
export function fxLocalRefundSpec(
  refundId: string,
  postingId: string,
  creditId: string,
  fromPending: boolean,
  payerId: string,
  sides: FxSides,
  positions: FxPositions,
): PostingSpec {
  const from: Bucketed = fromPending
    ? { accountId: creditId, bucket: 'PENDING', fallbackBucket: 'AVAILABLE' }
    : { accountId: creditId, bucket: 'AVAILABLE' };
  const legs = exchangeLegs(from, { accountId: payerId, bucket: 'AVAILABLE' }, sides, positions);
  return {
    id: postingId,
    kind: 'REFUND',
    refId: refundId,
    dedupeKey: dedupeKeys.firstHalf(refundId),
    currency: sides.sellCurrency,
    legs,
  };
}

/** A cross-shard refund's second half on the payment's shard: the share from clearing(B), r to the payer. */
export function fxRefundCreditSpec(
  refundId: string,
  postingId: string,
  clearingId: string,
  payerId: string,
  sides: FxSides,
  positions: FxPositions,
): PostingSpec {
  const legs = exchangeLegs(
    { accountId: clearingId, bucket: 'AVAILABLE' },
    { accountId: payerId, bucket: 'AVAILABLE' },
    sides,
    positions,
  );
  return {
    id: postingId,
    kind: 'REFUND_CREDIT',
    refId: refundId,
    dedupeKey: dedupeKeys.refundCredit(refundId),
    currency: sides.sellCurrency,
    legs,
    completion: true,
  };
}
