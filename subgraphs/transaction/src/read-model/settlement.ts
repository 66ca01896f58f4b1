import { and, eq, inArray, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/mysql-core';
import type { Executor } from '@paygraph/shared/db/ledger-store';
import type { Tx } from '@paygraph/shared/shards/transaction';
import { externalTransfers, payments, refunds, type PaymentRow, type RefundRow } from '../db/schema/transactions';
import { processingSweeps } from '../db/sweeps';

/**
 * The transaction subgraph's read model for settlement and reconciliation: the only way another
 * subgraph reads (or, for settlement, marks) payments, refunds and external transfers. The
 * tables stay this subgraph's; their SQL stays here, next to their schema, so a change to them
 * is made and reviewed in one place (docs/ARCHITECTURE.md, "Read models").
 *
 * Settlement marks a payment or refund with its settlement id in the same local transaction as
 * the stripe's settlement posting (they share the shard's database), so each is settled exactly
 * once: that is why this is a module on the shard, not a GraphQL call.
 */
export async function lockUnsettledPayments(tx: Tx, merchantId: string, stripeId: string, businessDate: string): Promise<PaymentRow[]> {
  return tx.select().from(payments).where(and(
    eq(payments.payeeAccountId, merchantId), eq(payments.creditAccountId, stripeId), eq(payments.route, 'MERCHANT_STRIPE'),
    eq(payments.status, 'SUCCEEDED'), isNull(payments.settlementId), eq(payments.businessDate, businessDate),
  )).for('update');
}

/** Unsettled refunds of these payments: they came out of pending before settlement. */
export async function lockRefundsOfPayments(tx: Tx, paymentIds: readonly string[]): Promise<RefundRow[]> {
  if (paymentIds.length === 0) return [];
  return tx.select().from(refunds).where(and(
    inArray(refunds.paymentId, [...paymentIds]), eq(refunds.status, 'SUCCEEDED'), isNull(refunds.settlementId),
  )).for('update');
}

/** Refunds up to the date of payments settled earlier into this stripe: they came out of available. */
export async function lockLateRefunds(tx: Tx, merchantId: string, stripeId: string, businessDate: string): Promise<RefundRow[]> {
  const paid = alias(payments, 'paid');
  const rows = await tx.select({ refund: refunds }).from(refunds)
    .innerJoin(paid, eq(paid.id, refunds.paymentId))
    .where(and(
      eq(refunds.payeeAccountId, merchantId), eq(refunds.status, 'SUCCEEDED'), isNull(refunds.settlementId),
      lte(refunds.businessDate, businessDate), isNotNull(paid.settlementId), eq(paid.creditAccountId, stripeId),
    )).for('update');
  return rows.map((r) => r.refund);
}

export async function markSettled(tx: Tx, settlementId: string, paymentIds: readonly string[], refundIds: readonly string[]): Promise<void> {
  if (paymentIds.length > 0) await tx.update(payments).set({ settlementId }).where(inArray(payments.id, [...paymentIds]));
  if (refundIds.length > 0) await tx.update(refunds).set({ settlementId }).where(inArray(refunds.id, [...refundIds]));
}

/** (merchant, date) pairs on this shard with something left to settle, up to a date. */
export async function dueSettlements(db: Executor, onOrBefore: string): Promise<Array<{ merchantId: string; businessDate: string }>> {
  const fromPayments = await db.selectDistinct({ merchantId: payments.payeeAccountId, businessDate: payments.businessDate }).from(payments)
    .where(and(eq(payments.route, 'MERCHANT_STRIPE'), eq(payments.status, 'SUCCEEDED'), isNull(payments.settlementId), lte(payments.businessDate, onOrBefore)));
  const fromRefunds = await db.selectDistinct({ merchantId: refunds.payeeAccountId, businessDate: refunds.businessDate }).from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(and(eq(payments.route, 'MERCHANT_STRIPE'), eq(refunds.status, 'SUCCEEDED'), isNull(refunds.settlementId), lte(refunds.businessDate, onOrBefore)));
  return [...fromPayments, ...fromRefunds];
}

/** By merchant and settlement: a range of payments_settle_idx (the table has no index on settlement_id alone). */
export async function paymentIdsOfSettlement(db: Executor, merchantId: string, settlementId: string): Promise<string[]> {
  const rows = await db.select({ id: payments.id }).from(payments)
    .where(and(eq(payments.payeeAccountId, merchantId), eq(payments.settlementId, settlementId)));
  return rows.map((r) => r.id);
}

export async function settlementIdsOfPayments(db: Executor, ids: readonly string[]): Promise<Array<{ id: string; settlementId: string | null }>> {
  if (ids.length === 0) return [];
  return db.select({ id: payments.id, settlementId: payments.settlementId }).from(payments).where(inArray(payments.id, [...ids]));
}

export async function externalTransfersOfDate(db: Executor, businessDate: string) {
  return db.select().from(externalTransfers).where(and(eq(externalTransfers.businessDate, businessDate), isNotNull(externalTransfers.externalRef)));
}

/** Reconciliation: the payments and refunds of a date, and those still in flight. */
export async function paymentsOfDate(db: Executor, businessDate: string) {
  return db.select().from(payments).where(eq(payments.businessDate, businessDate));
}

export async function refundsOfDate(db: Executor, businessDate: string) {
  return db.select({ refund: refunds, route: payments.route, payeeAccountId: payments.creditAccountId })
    .from(refunds).innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(eq(refunds.businessDate, businessDate));
}

export async function inFlightRecords(db: Executor) {
  const paying = await db.select().from(payments).where(and(eq(payments.status, 'PROCESSING'), eq(payments.route, 'CROSS_SHARD')));
  const refunding = await db.select({ refund: refunds, payeeAccountId: payments.creditAccountId })
    .from(refunds).innerJoin(payments, eq(payments.id, refunds.paymentId)).where(eq(refunds.status, 'PROCESSING'));
  // A sweep PROCESSING was debited into clearing here; it is in flight until its credit lands on the home shard.
  const sweeping = await processingSweeps(db);
  return { paying, refunding, sweeping };
}

/**
 * Accounts whose `frozen` differs from the sum of their HELD holds (a hold lives on its payer's
 * shard, with the payer's row), in one statement: a consistent view even while holds move.
 * With `accountIds`, only those accounts; otherwise every account that has frozen money or a
 * HELD hold.
 */
export async function frozenMismatches(db: Executor, accountIds: readonly string[] | null = null): Promise<Array<{ accountId: string; currency: string; frozen: bigint; held: bigint }>> {
  if (accountIds !== null && accountIds.length === 0) return [];
  const only = accountIds === null ? sql`(a.frozen <> 0 OR h.held IS NOT NULL)` : sql`a.id IN (${sql.join(accountIds.map((id) => sql`${id}`), sql`, `)})`;
  const [rows] = (await db.execute(sql`
    SELECT a.id AS account_id, a.currency, a.frozen, COALESCE(h.held, 0) AS held
    FROM accounts a
    LEFT JOIN (SELECT payer_account_id, SUM(amount) AS held FROM holds WHERE status = 'HELD' GROUP BY payer_account_id) h
      ON h.payer_account_id = a.id
    WHERE ${only} AND a.frozen <> COALESCE(h.held, 0)`)) as unknown as [Array<{ account_id: string; currency: string; frozen: string; held: string }>, unknown];
  return rows.map((r) => ({ accountId: r.account_id, currency: r.currency, frozen: BigInt(r.frozen), held: BigInt(r.held) }));
}
