import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { rawHold } from '@paygraph/shared/db/raw';
import { onPlacedShards } from '@paygraph/shared/db/placed';
import {
  payments,
  paymentLegs,
  refunds,
  externalTransfers,
  transferOutbox,
  type PaymentRow,
  type RefundRow,
  type ExternalTransferRow,
} from './schema/transactions';

/** Written with the batch's other payments at the end of the posting transaction. */
export function deferPayment(deferred: DeferredInserts, row: typeof payments.$inferInsert): void {
  deferred.add(payments, row);
}

export async function lockPayment(tx: Tx, id: string): Promise<PaymentRow | undefined> {
  const rows = await tx.select().from(payments).where(eq(payments.id, id)).for('update');
  return rows[0];
}

export async function paymentsByIds(db: Executor, ids: readonly string[]): Promise<PaymentRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(payments)
    .where(inArray(payments.id, [...ids]));
}

/**
 * Payments the account paid or received on this shard, newest first, before a payment id. Only those of the logical
 * shards the map places here (`placed`, db/placed.ts onPlacedShards): every database's are merged, and a shard move's
 * copies would list a payment twice, the copy's status stale.
 */
export async function paymentsOfAccount(
  db: Executor,
  accountId: string,
  beforeId: string | null,
  limit: number,
  placed: readonly number[] | null,
): Promise<PaymentRow[]> {
  const either = or(eq(payments.payerAccountId, accountId), eq(payments.payeeAccountId, accountId));
  const live = onPlacedShards(payments.id, placed);
  return db
    .select()
    .from(payments)
    .where(and(either, live, beforeId ? lt(payments.id, beforeId) : undefined))
    .orderBy(desc(payments.id))
    .limit(limit);
}

export async function finishPayment(
  tx: Tx,
  id: string,
  status: 'SUCCEEDED' | 'FAILED',
  failureCode: string | null,
  now: Date,
): Promise<void> {
  await tx.update(payments).set({ status, failureCode, completedAt: now }).where(eq(payments.id, id));
}

/**
 * Completes many cross-shard payments whose credit landed, each at its own instant: the one its request answered when
 * it answered before its ending (services/endings-in-flight.ts). One statement; a CASE only when the instants differ.
 */
export async function paymentsSucceeded(tx: PostingTx, ended: ReadonlyArray<{ id: string; at: Date }>): Promise<void> {
  if (ended.length === 0) return;
  // Loops, not callbacks: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const ids: string[] = [];
  const first = ended[0]!.at.getTime();
  let oneInstant = true;
  for (const e of ended) {
    ids.push(e.id);
    if (e.at.getTime() !== first) oneInstant = false;
  }
  if (oneInstant) {
    await rawHold(
      tx,
      "UPDATE payments SET status = 'SUCCEEDED', failure_code = NULL, completed_at = ? WHERE id IN (?)",
      [ended[0]!.at, ids],
    );
    return;
  }
  const whens: string[] = [];
  const values: Array<string | Date | string[]> = [];
  for (const e of ended) {
    whens.push('WHEN ? THEN ?');
    values.push(e.id, e.at);
  }
  values.push(ids);
  const cases = whens.join(' ');
  await rawHold(
    tx,
    `UPDATE payments SET status = 'SUCCEEDED', failure_code = NULL, completed_at = CASE id ${cases} END WHERE id IN (?)`,
    values,
  );
}

export async function setRefundedAmount(tx: Tx, id: string, refundedAmount: bigint): Promise<void> {
  await tx.update(payments).set({ refundedAmount }).where(eq(payments.id, id));
}

export async function addRefundedAmount(tx: Tx, id: string, delta: bigint): Promise<void> {
  await tx
    .update(payments)
    .set({ refundedAmount: sql`${payments.refundedAmount} + ${delta}` })
    .where(eq(payments.id, id));
}

export async function insertRefund(tx: Tx, row: typeof refunds.$inferInsert): Promise<void> {
  await tx.insert(refunds).values(row);
}

export async function refundsByIds(db: Executor, ids: readonly string[]): Promise<RefundRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(refunds)
    .where(inArray(refunds.id, [...ids]));
}

export async function refundsOfPayments(db: Executor, paymentIds: readonly string[]): Promise<RefundRow[]> {
  if (paymentIds.length === 0) return [];
  return db
    .select()
    .from(refunds)
    .where(inArray(refunds.paymentId, [...paymentIds]))
    .orderBy(refunds.id);
}

/**
 * A refund of the payment still PROCESSING (reserved, not yet SUCCEEDED or FAILED), or null: read under the payment's
 * lock (refunds_payment_idx), so that no refund of it is reserved or ended meanwhile.
 */
export async function refundInFlightOf(tx: Tx, paymentId: string): Promise<string | null> {
  const [row] = await tx
    .select({ id: refunds.id })
    .from(refunds)
    .where(and(eq(refunds.paymentId, paymentId), eq(refunds.status, 'PROCESSING')))
    .limit(1);
  return row?.id ?? null;
}

/** Only for a refund row written earlier in the same transaction whose posting was then refused. */
export async function deleteRefund(tx: Tx, id: string): Promise<void> {
  await tx.delete(refunds).where(eq(refunds.id, id));
}

export async function finishRefund(
  tx: Tx,
  id: string,
  status: 'SUCCEEDED' | 'FAILED',
  failureCode: string | null,
  now: Date,
): Promise<void> {
  await tx.update(refunds).set({ status, failureCode, completedAt: now }).where(eq(refunds.id, id));
}

export function deferExternalTransfer(deferred: DeferredInserts, row: typeof externalTransfers.$inferInsert): void {
  deferred.add(externalTransfers, row);
}

export async function externalTransfersByIds(db: Executor, ids: readonly string[]): Promise<ExternalTransferRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(externalTransfers)
    .where(inArray(externalTransfers.id, [...ids]));
}

/**
 * A LEGS payment refused before any of its legs posted leaves no record (services/leg-payment.ts forgetRefusedPayment).
 */
export async function deleteLegPayment(tx: Tx, id: string): Promise<void> {
  await tx.delete(paymentLegs).where(eq(paymentLegs.paymentId, id));
  await tx.delete(transferOutbox).where(eq(transferOutbox.id, id));
  await tx.delete(payments).where(eq(payments.id, id));
}
