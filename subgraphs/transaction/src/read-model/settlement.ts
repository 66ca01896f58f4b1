import { and, eq, gte, inArray, isNotNull, isNull, lte, ne, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/mysql-core';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import {
  externalTransfers,
  paymentLegs,
  payments,
  refundLegs,
  refunds,
  type PaymentRow,
} from '../db/schema/transactions';
import { processingSweeps } from '../db/sweeps';
import { paymentFxByIds, refundFxByIds } from '../db/fx';
import { buyReturnedAfter } from '../domain/fx';
import { dedupeKeys } from '@paygraph/shared/ledger/index';
import { heldHere, openHere } from '@paygraph/shared/control/index';

/**
 * The transaction subgraph's read model for settlement and reconciliation: the only way another
 * subgraph reads payments, refunds and external transfers. The tables stay this subgraph's; their
 * SQL stays here, next to their schema, so a change to them is made and reviewed in one place
 * (docs/ARCHITECTURE.md, "Table ownership and read models"). It answers records of its own making, not the tables'
 * rows, so a column added to a table reaches no other part until it is named here. It writes
 * nothing: settlement's one write to these tables is write-model/settlement.ts.
 */

/** A payment a stripe received, as its payee saw it: an FX payment's buy side, in the payee's currency. */
export interface SettleablePayment {
  id: string;
  amount: bigint;
  refundedAmount: bigint;
  currency: string;
}

/** A refund as its payee gave it back: an FX payment's refund in the payee's currency (its share of buyAmount). */
export interface SettleableRefund {
  id: string;
  amount: bigint;
  currency: string;
}

/** A MERCHANT leg of a payment of many legs, settled as a payment of its own amount. */
export interface SettleableLeg {
  paymentId: string;
  legIndex: number;
  amount: bigint;
  refundedAmount: bigint;
}

/** A refund's share of one leg (refund_legs). */
export interface RefundShare {
  refundId: string;
  legIndex: number;
  amount: bigint;
}

/** A payment of a business date, as reconciliation checks its postings. */
export interface DatedPayment {
  id: string;
  route: PaymentRow['route'];
  status: PaymentRow['status'];
  payerAccountId: string;
  payeeAccountId: string;
}

/** A leg of a payment of many legs: whose it is, where it posted and how much. */
export interface PaymentLeg {
  paymentId: string;
  legIndex: number;
  accountId: string;
  postedAccountId: string;
  amount: bigint;
}

/**
 * A refund of a business date with its payment's route and credited row. `payeeShare` is what the
 * payee gave back in its own currency: the refund's amount, or an FX payment's share of
 * buyAmount, which may be 0 for a small part (then no debit posts on the payee's shard).
 */
export interface DatedRefund {
  id: string;
  paymentId: string;
  status: PaymentRow['status'];
  route: PaymentRow['route'];
  payeeAccountId: string;
  payeeShare: bigint;
}

/** Money in flight from one shard to an account elsewhere, in the currency and amount its clearing holds. */
export interface InFlight {
  id: string;
  /** The account whose shard's posting ends the flight. */
  payeeAccountId: string;
  amount: bigint;
  currency: string;
}

/** A deposit or withdrawal with the reference its bank or channel statement names. */
export interface ReferencedTransfer {
  id: string;
  kind: 'DEPOSIT' | 'WITHDRAWAL';
  status: PaymentRow['status'];
  externalRef: string;
  amount: bigint;
  currency: string;
}

const settleablePayment = {
  id: payments.id,
  amount: payments.amount,
  refundedAmount: payments.refundedAmount,
  currency: payments.currency,
};
const settleableRefund = { id: refunds.id, amount: refunds.amount, currency: refunds.currency };
const settleableLeg = {
  paymentId: paymentLegs.paymentId,
  legIndex: paymentLegs.legIndex,
  amount: paymentLegs.amount,
  refundedAmount: paymentLegs.refundedAmount,
};
const refundShare = { refundId: refundLegs.refundId, legIndex: refundLegs.legIndex, amount: refundLegs.amount };

/**
 * The stripe's unsettled payments of these business dates: a settlement's own date and the dates of its stragglers
 * (payments dated a date whose settlement had read the stripe before they committed: the settlement subgraph's
 * worker names them, services/worker.ts). Never "up to the date": a later date settled first must not take an
 * earlier date's payments, whose own settlement is still to come.
 */
export async function lockUnsettledPayments(
  tx: Tx,
  merchantId: string,
  stripeId: string,
  businessDates: readonly string[],
): Promise<SettleablePayment[]> {
  const rows = await tx
    .select(settleablePayment)
    .from(payments)
    .where(
      and(
        eq(payments.payeeAccountId, merchantId),
        eq(payments.creditAccountId, stripeId),
        eq(payments.route, 'MERCHANT_STRIPE'),
        eq(payments.status, 'SUCCEEDED'),
        isNull(payments.settlementId),
        inArray(payments.businessDate, [...businessDates]),
      ),
    )
    .for('update');
  return onPayeeSide(tx, rows);
}

/**
 * Payments as their payee saw them: an FX payment's amount, refunded amount and currency are
 * the payer's (the quote's sell side), while the merchant's stripe received buyAmount and gave
 * back the cumulative pro-rata share of it (domain/fx.ts), in the merchant's currency.
 */
async function onPayeeSide<P extends SettleablePayment>(db: Executor, rows: P[]): Promise<P[]> {
  const fx = new Map(
    (
      await paymentFxByIds(
        db,
        rows.map((r) => r.id),
      )
    ).map((f) => [f.paymentId, f]),
  );
  return rows.map((r) => {
    const f = fx.get(r.id);
    if (!f) return r;
    return {
      ...r,
      amount: f.buyAmount,
      currency: f.buyCurrency,
      refundedAmount: buyReturnedAfter(r.refundedAmount, f.sellAmount, f.buyAmount),
    };
  });
}

/** Refunds as their payee gave them back: an FX payment's refund in the payee's currency (its share of buyAmount). */
async function refundsOnPayeeSide<R extends SettleableRefund>(db: Executor, rows: R[]): Promise<R[]> {
  const fx = new Map(
    (
      await refundFxByIds(
        db,
        rows.map((r) => r.id),
      )
    ).map((f) => [f.refundId, f]),
  );
  return rows.map((r) => {
    const f = fx.get(r.id);
    return f ? { ...r, amount: f.buyAmount, currency: f.buyCurrency } : r;
  });
}

/** Unsettled refunds of these payments: they came out of pending before settlement. */
export async function lockRefundsOfPayments(tx: Tx, paymentIds: readonly string[]): Promise<SettleableRefund[]> {
  if (paymentIds.length === 0) return [];
  return tx
    .select(settleableRefund)
    .from(refunds)
    .where(
      and(inArray(refunds.paymentId, [...paymentIds]), eq(refunds.status, 'SUCCEEDED'), isNull(refunds.settlementId)),
    )
    .for('update');
}

/** Refunds up to the date of payments settled earlier into this stripe: they came out of available. */
export async function lockLateRefunds(
  tx: Tx,
  merchantId: string,
  stripeId: string,
  businessDate: string,
): Promise<SettleableRefund[]> {
  const paid = alias(payments, 'paid');
  const rows = await tx
    .select(settleableRefund)
    .from(refunds)
    .innerJoin(paid, eq(paid.id, refunds.paymentId))
    .where(
      and(
        eq(refunds.payeeAccountId, merchantId),
        eq(refunds.status, 'SUCCEEDED'),
        isNull(refunds.settlementId),
        lte(refunds.businessDate, businessDate),
        isNotNull(paid.settlementId),
        eq(paid.creditAccountId, stripeId),
      ),
    )
    .for('update');
  return refundsOnPayeeSide(tx, rows);
}

/**
 * A payment of many legs (route LEGS) settles per MERCHANT receiving leg: each leg credited to
 * this stripe's pending on the dates (a settlement's own and its stragglers', as lockUnsettledPayments),
 * of a payment that SUCCEEDED, not yet settled. Each refund's
 * share of such a leg (refund_legs) is counted once, as a refund is: by the leg's settlement when
 * it came out of pending before, or by the next settlement after it when the leg was settled.
 */
export async function lockUnsettledLegs(
  tx: Tx,
  merchantId: string,
  stripeId: string,
  businessDates: readonly string[],
): Promise<SettleableLeg[]> {
  return tx
    .select(settleableLeg)
    .from(paymentLegs)
    .innerJoin(payments, eq(payments.id, paymentLegs.paymentId))
    .where(and(unsettledLegsOfDates(merchantId, stripeId, businessDates), eq(payments.status, 'SUCCEEDED')))
    .for('update');
}

/** The merchant's legs credited to this stripe's pending on the dates, not settled yet, whatever their payment's status. */
function unsettledLegsOfDates(merchantId: string, stripeId: string, businessDates: readonly string[]) {
  return and(
    eq(paymentLegs.accountId, merchantId),
    eq(paymentLegs.postedAccountId, stripeId),
    eq(paymentLegs.bucket, 'PENDING'),
    isNull(paymentLegs.settlementId),
    inArray(paymentLegs.businessDate, [...businessDates]),
  );
}

/**
 * What the stripe's part waits for, by date: per date of `businessDates` that has one, a payment of many legs whose
 * MERCHANT leg credited this stripe's pending on it (lockUnsettledLegs's legs) and which is still PROCESSING (a leg on
 * another shard has not posted yet), or a refund of such a payment still PROCESSING. The leg settles once its payment
 * SUCCEEDED (lockUnsettledLegs); a refund in flight has raised the leg's refunded amount, which settlement leaves in
 * pending for it, but its completion reads the leg afresh and, finding it settled, takes the money from available
 * (services/legs.ts legEffect): pending would keep a share no leg stands behind. By date, because a settlement's own
 * date waits while a straggler's date (services/settle.ts) is left for a later settlement instead. Locks: none (both
 * only leave PROCESSING; the locking reads come after these).
 */
export async function inFlightOnLegs(
  tx: Executor,
  merchantId: string,
  stripeId: string,
  businessDates: readonly string[],
): Promise<Map<string, string>> {
  const legsOfDates = unsettledLegsOfDates(merchantId, stripeId, businessDates);
  const paymentsInFlight = await tx
    .select({ businessDate: paymentLegs.businessDate, id: sql<string>`MIN(${payments.id})` })
    .from(paymentLegs)
    .innerJoin(payments, eq(payments.id, paymentLegs.paymentId))
    .where(and(legsOfDates, eq(payments.status, 'PROCESSING')))
    .groupBy(paymentLegs.businessDate);
  const refundsInFlight = await tx
    .select({ businessDate: paymentLegs.businessDate, id: sql<string>`MIN(${refunds.id})` })
    .from(paymentLegs)
    .innerJoin(refunds, eq(refunds.paymentId, paymentLegs.paymentId))
    .where(and(legsOfDates, eq(refunds.status, 'PROCESSING')))
    .groupBy(paymentLegs.businessDate);
  const byDate = new Map<string, string>();
  // A payment first, as before: its refunds wait for it anyway.
  for (const row of [...paymentsInFlight, ...refundsInFlight])
    if (!byDate.has(row.businessDate)) byDate.set(row.businessDate, row.id);
  return byDate;
}

/**
 * Per stripe of the merchant on this shard: what MERCHANT legs of payments still PROCESSING credited, or are about to
 * credit, to its pending. An advance must not count it: the payment may yet fail, and its reversal takes the leg back
 * from pending alone (domain/legs.ts), so money advanced away would leave the payer's reversal waiting. Locks: none.
 */
export async function pendingInFlight(db: Executor, merchantId: string): Promise<Map<string, bigint>> {
  const rows = await db
    .select({
      stripeId: paymentLegs.postedAccountId,
      amount: sql<string>`SUM(${paymentLegs.amount} - ${paymentLegs.refundedAmount})`,
    })
    .from(paymentLegs)
    .innerJoin(payments, eq(payments.id, paymentLegs.paymentId))
    .where(
      and(
        eq(paymentLegs.accountId, merchantId),
        eq(paymentLegs.bucket, 'PENDING'),
        isNull(paymentLegs.settlementId),
        eq(payments.status, 'PROCESSING'),
      ),
    )
    .groupBy(paymentLegs.postedAccountId);
  return new Map(rows.map((r) => [r.stripeId, BigInt(r.amount)]));
}

/** The shares of these legs in refunds that succeeded and no settlement has counted: they came out of pending. */
export async function lockRefundSharesOfLegs(
  tx: Tx,
  legs: ReadonlyArray<Pick<SettleableLeg, 'paymentId' | 'legIndex'>>,
): Promise<RefundShare[]> {
  if (legs.length === 0) return [];
  const rows = await tx
    .select({ share: refundShare, paymentId: refunds.paymentId })
    .from(refundLegs)
    .innerJoin(refunds, eq(refunds.id, refundLegs.refundId))
    .where(
      and(
        inArray(refunds.paymentId, [...new Set(legs.map((l) => l.paymentId))]),
        eq(refunds.status, 'SUCCEEDED'),
        isNull(refundLegs.settlementId),
      ),
    )
    .for('update');
  const ours = new Set(legs.map((l) => `${l.paymentId}:${l.legIndex}`));
  return rows.filter((r) => ours.has(`${r.paymentId}:${r.share.legIndex}`)).map((r) => r.share);
}

/** Shares, up to the date, of refunds of legs settled earlier into this stripe: they came out of available. */
export async function lockLateRefundShares(
  tx: Tx,
  merchantId: string,
  stripeId: string,
  businessDate: string,
): Promise<RefundShare[]> {
  return tx
    .select(refundShare)
    .from(refundLegs)
    .innerJoin(refunds, eq(refunds.id, refundLegs.refundId))
    .innerJoin(
      paymentLegs,
      and(eq(paymentLegs.paymentId, refunds.paymentId), eq(paymentLegs.legIndex, refundLegs.legIndex)),
    )
    .where(
      and(
        eq(paymentLegs.accountId, merchantId),
        eq(paymentLegs.postedAccountId, stripeId),
        isNotNull(paymentLegs.settlementId),
        isNull(refundLegs.settlementId),
        eq(refunds.status, 'SUCCEEDED'),
        lte(refunds.businessDate, businessDate),
      ),
    )
    .for('update');
}

/**
 * The dedupe keys of the postings of refunds not yet settled, of payments and MERCHANT legs this
 * stripe received and has not settled either: such a refund gives back from the stripe's pending
 * first and then from its available (domain/legs.ts localRefundSpec, the legs' refunds), under
 * its own key or, for a leg on another shard than its payment's, under its leg's. Settlement's
 * advances read what these postings took from available.
 */
export async function unsettledRefundKeys(
  db: Executor,
  merchantId: string,
  stripeId: string,
): Promise<Array<{ refundId: string; key: string }>> {
  const plain = await db
    .select({ refundId: refunds.id })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(
      and(
        eq(payments.payeeAccountId, merchantId),
        isNull(payments.settlementId),
        eq(payments.creditAccountId, stripeId),
        eq(payments.route, 'MERCHANT_STRIPE'),
        eq(refunds.status, 'SUCCEEDED'),
        isNull(refunds.settlementId),
      ),
    );
  const shares = await db
    .select({ refundId: refundLegs.refundId, legIndex: refundLegs.legIndex })
    .from(refundLegs)
    .innerJoin(refunds, eq(refunds.id, refundLegs.refundId))
    .innerJoin(
      paymentLegs,
      and(eq(paymentLegs.paymentId, refunds.paymentId), eq(paymentLegs.legIndex, refundLegs.legIndex)),
    )
    .where(
      and(
        eq(paymentLegs.accountId, merchantId),
        isNull(paymentLegs.settlementId),
        eq(paymentLegs.postedAccountId, stripeId),
        isNull(refundLegs.settlementId),
        eq(refunds.status, 'SUCCEEDED'),
      ),
    );
  return [
    ...plain.map((r) => ({ refundId: r.refundId, key: dedupeKeys.firstHalf(r.refundId) })),
    ...shares.flatMap((s) => [
      { refundId: s.refundId, key: dedupeKeys.firstHalf(s.refundId) },
      { refundId: s.refundId, key: dedupeKeys.legPosting(s.refundId, s.legIndex) },
    ]),
  ];
}

/** Reconciliation: the legs of these LEGS payments, and each refund's shares, on the payment's shard. */
export async function legsOfPaymentsOnShard(db: Executor, paymentIds: readonly string[]): Promise<PaymentLeg[]> {
  if (paymentIds.length === 0) return [];
  return db
    .select({
      paymentId: paymentLegs.paymentId,
      legIndex: paymentLegs.legIndex,
      accountId: paymentLegs.accountId,
      postedAccountId: paymentLegs.postedAccountId,
      amount: paymentLegs.amount,
    })
    .from(paymentLegs)
    .where(inArray(paymentLegs.paymentId, [...paymentIds]));
}

export async function sharesOfRefunds(db: Executor, refundIds: readonly string[]): Promise<RefundShare[]> {
  if (refundIds.length === 0) return [];
  return db
    .select(refundShare)
    .from(refundLegs)
    .where(inArray(refundLegs.refundId, [...refundIds]));
}

/**
 * (merchant, date) pairs on this shard with something left to settle, up to a date. Only rows of ranges open here
 * (control's openHere, as merchantsWithAdvancesLeft): a range moved away leaves its unsettled rows here as copies, for
 * good with --keep-source, and they would stay due forever and take the worker's slice (settlementsPerPassMax).
 */
export async function dueSettlements(
  db: Executor,
  onOrBefore: string,
): Promise<Array<{ merchantId: string; businessDate: string }>> {
  const fromPayments = await db
    .selectDistinct({ merchantId: payments.payeeAccountId, businessDate: payments.businessDate })
    .from(payments)
    .where(
      and(
        eq(payments.route, 'MERCHANT_STRIPE'),
        eq(payments.status, 'SUCCEEDED'),
        isNull(payments.settlementId),
        lte(payments.businessDate, onOrBefore),
        sql.raw(openHere('`payments`.`id`')),
      ),
    );
  const fromRefunds = await db
    .selectDistinct({ merchantId: refunds.payeeAccountId, businessDate: refunds.businessDate })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(
      and(
        eq(payments.route, 'MERCHANT_STRIPE'),
        eq(refunds.status, 'SUCCEEDED'),
        isNull(refunds.settlementId),
        lte(refunds.businessDate, onOrBefore),
        sql.raw(openHere('`refunds`.`id`')),
      ),
    );
  const fromLegs = await db
    .selectDistinct({ merchantId: paymentLegs.accountId, businessDate: paymentLegs.businessDate })
    .from(paymentLegs)
    .innerJoin(payments, eq(payments.id, paymentLegs.paymentId))
    .where(
      and(
        eq(paymentLegs.bucket, 'PENDING'),
        eq(payments.status, 'SUCCEEDED'),
        isNull(paymentLegs.settlementId),
        lte(paymentLegs.businessDate, onOrBefore),
        sql.raw(openHere('`payment_legs`.`payment_id`')),
      ),
    );
  return [...fromPayments, ...fromRefunds, ...fromLegs];
}

/**
 * By merchant and settlement: a range of payments_settle_idx (the table has no index on settlement_id alone). Only
 * the live rows here (control's heldHere): every database's are merged, and a moved payment's copy would list it twice.
 */
export async function paymentIdsOfSettlement(
  db: Executor,
  merchantId: string,
  settlementId: string,
): Promise<string[]> {
  const rows = await db
    .select({ id: payments.id })
    .from(payments)
    .where(
      and(
        eq(payments.payeeAccountId, merchantId),
        eq(payments.settlementId, settlementId),
        sql.raw(heldHere('`payments`.`id`')),
      ),
    );
  return rows.map((r) => r.id);
}

export async function settlementIdsOfPayments(
  db: Executor,
  ids: readonly string[],
): Promise<Array<{ id: string; settlementId: string | null }>> {
  if (ids.length === 0) return [];
  return db
    .select({ id: payments.id, settlementId: payments.settlementId })
    .from(payments)
    .where(inArray(payments.id, [...ids]));
}

/**
 * The date's reconciliation: the deposits and withdrawals of businessDate with a reference, on one shard. Only the live
 * rows of this database (control's heldHere), as channelMovementsBetween: the caller merges every database's, and a
 * shard move's copy (left on its source, arriving on its target) was a second transfer of its reference, on no
 * statement.
 */
export async function externalTransfersOfDate(db: Executor, businessDate: string): Promise<ReferencedTransfer[]> {
  const rows = await db
    .select({
      id: externalTransfers.id,
      kind: externalTransfers.kind,
      status: externalTransfers.status,
      externalRef: externalTransfers.externalRef,
      amount: externalTransfers.amount,
      currency: externalTransfers.currency,
    })
    .from(externalTransfers)
    .where(
      and(
        eq(externalTransfers.businessDate, businessDate),
        isNotNull(externalTransfers.externalRef),
        sql.raw(heldHere('`external_transfers`.`id`')),
      ),
    );
  return rows.map((r) => ({ ...r, externalRef: r.externalRef! }));
}

/**
 * A channel's reconciliation: its deposits and withdrawals that moved money (SUCCEEDED) with a
 * business date in [fromDate, toDate], on one shard (the index on (channel, business_date)). Only the live rows of
 * this database (control's heldHere): the caller merges every database's, and a shard move's copies (left on its
 * source, arriving on its target) would count a transfer twice.
 */
export async function channelMovementsBetween(db: Executor, channel: string, fromDate: string, toDate: string) {
  return db
    .select({
      id: externalTransfers.id,
      kind: externalTransfers.kind,
      amount: externalTransfers.amount,
      currency: externalTransfers.currency,
      externalRef: externalTransfers.externalRef,
      businessDate: externalTransfers.businessDate,
    })
    .from(externalTransfers)
    .where(
      and(
        eq(externalTransfers.channel, channel),
        gte(externalTransfers.businessDate, fromDate),
        lte(externalTransfers.businessDate, toDate),
        eq(externalTransfers.status, 'SUCCEEDED'),
        sql.raw(heldHere('`external_transfers`.`id`')),
      ),
    );
}

/** Reconciliation: the payments and refunds of a date, and those still in flight. */
export async function paymentsOfDate(db: Executor, businessDate: string): Promise<DatedPayment[]> {
  return db
    .select({
      id: payments.id,
      route: payments.route,
      status: payments.status,
      payerAccountId: payments.payerAccountId,
      payeeAccountId: payments.payeeAccountId,
    })
    .from(payments)
    .where(eq(payments.businessDate, businessDate));
}

/** The refunds of a date with their payment's route and credited row (DatedRefund). */
export async function refundsOfDate(db: Executor, businessDate: string): Promise<DatedRefund[]> {
  const rows = await db
    .select({
      id: refunds.id,
      paymentId: refunds.paymentId,
      status: refunds.status,
      amount: refunds.amount,
      route: payments.route,
      payeeAccountId: payments.creditAccountId,
    })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(eq(refunds.businessDate, businessDate));
  const shares = new Map(
    (
      await refundFxByIds(
        db,
        rows.map((r) => r.id),
      )
    ).map((f) => [f.refundId, f.buyAmount]),
  );
  return rows.map(({ amount, ...r }) => ({ ...r, payeeShare: shares.get(r.id) ?? amount }));
}

/**
 * What is in flight from this shard, each in the currency and amount its clearing holds (an FX payment's: the buy
 * side). Only the live rows here (control's heldHere): a moved PROCESSING payment's copy would count it in flight on
 * two databases, while clearing holds it once.
 */
export async function inFlightRecords(
  db: Executor,
): Promise<{ paying: InFlight[]; refunding: InFlight[]; sweeping: InFlight[]; movingLegs: string[] }> {
  const livePayment = sql.raw(heldHere('`payments`.`id`'));
  const liveRefund = sql.raw(heldHere('`refunds`.`id`'));
  const paying = await onPayeeSide(
    db,
    await db
      .select({ ...settleablePayment, payeeAccountId: payments.payeeAccountId })
      .from(payments)
      .where(and(eq(payments.status, 'PROCESSING'), eq(payments.route, 'CROSS_SHARD'), livePayment)),
  );
  const refunding = await refundsOnPayeeSide(
    db,
    await db
      .select({ ...settleableRefund, payeeAccountId: payments.creditAccountId })
      .from(refunds)
      .innerJoin(payments, eq(payments.id, refunds.paymentId))
      .where(and(eq(refunds.status, 'PROCESSING'), ne(payments.route, 'LEGS'), liveRefund)),
  );
  // Movements of many legs in flight: what they hold in clearing is read from their postings (ref_id).
  const legPayments = await db
    .select({ id: payments.id })
    .from(payments)
    .where(and(eq(payments.status, 'PROCESSING'), eq(payments.route, 'LEGS'), livePayment));
  const legRefunds = await db
    .select({ id: refunds.id })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(and(eq(refunds.status, 'PROCESSING'), eq(payments.route, 'LEGS'), liveRefund));
  const movingLegs = [...legPayments, ...legRefunds].map((r) => r.id);
  // A sweep PROCESSING was debited into clearing here; it is in flight until its credit lands on the home shard.
  const sweeping = (await processingSweeps(db)).map((s) => ({
    id: s.id,
    payeeAccountId: s.merchantAccountId,
    amount: s.amount,
    currency: s.currency,
  }));
  return {
    paying: paying.map((p) => ({ id: p.id, payeeAccountId: p.payeeAccountId, amount: p.amount, currency: p.currency })),
    refunding,
    sweeping,
    movingLegs,
  };
}

/**
 * Accounts whose `frozen` differs from the sum of their HELD holds (a hold lives on its payer's
 * shard, with the payer's row), in one statement: a consistent view even while holds move.
 * With `accountIds`, only those accounts; otherwise every account that has frozen money or a
 * HELD hold.
 */
export async function frozenMismatches(
  db: Executor,
  accountIds: readonly string[] | null = null,
): Promise<Array<{ accountId: string; currency: string; frozen: bigint; held: bigint }>> {
  if (accountIds !== null && accountIds.length === 0) return [];
  const only =
    accountIds === null
      ? sql`(a.frozen <> 0 OR h.held IS NOT NULL)`
      : sql`a.id IN (${sql.join(
          accountIds.map((id) => sql`${id}`),
          sql`, `,
        )})`;
  const [rows] = (await db.execute(sql`
    SELECT a.id AS account_id, a.currency, a.frozen, COALESCE(h.held, 0) AS held
    FROM accounts a
    LEFT JOIN (SELECT payer_account_id, SUM(amount) AS held FROM holds WHERE status = 'HELD' GROUP BY payer_account_id) h
      ON h.payer_account_id = a.id
    WHERE ${only} AND a.frozen <> COALESCE(h.held, 0)`)) as unknown as [
    Array<{ account_id: string; currency: string; frozen: string; held: string }>,
    unknown,
  ];
  return rows.map((r) => ({
    accountId: r.account_id,
    currency: r.currency,
    frozen: BigInt(r.frozen),
    held: BigInt(r.held),
  }));
}
