import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { heldHere } from '@paygraph/shared/control/index';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { paymentLegs, refundLegs, type PaymentLegRow, type RefundLegRow } from './schema/transactions';

/** The legs of a LEGS payment and of its refunds, on the payment's shard. */
export function deferPaymentLegs(
  deferred: DeferredInserts,
  rows: ReadonlyArray<typeof paymentLegs.$inferInsert>,
): void {
  for (const row of rows) deferred.add(paymentLegs, row);
}

export async function legsOfPayments(db: Executor, paymentIds: readonly string[]): Promise<PaymentLegRow[]> {
  if (paymentIds.length === 0) return [];
  return db
    .select()
    .from(paymentLegs)
    .where(inArray(paymentLegs.paymentId, [...paymentIds]))
    .orderBy(asc(paymentLegs.paymentId), asc(paymentLegs.legIndex));
}

/** Under the payment row's lock (a refund's reservation), so the legs' refunded amounts move with the payment's. */
export async function lockLegsOfPayment(tx: Tx, paymentId: string): Promise<PaymentLegRow[]> {
  return tx
    .select()
    .from(paymentLegs)
    .where(eq(paymentLegs.paymentId, paymentId))
    .orderBy(asc(paymentLegs.legIndex))
    .for('update');
}

export async function addLegRefunded(tx: Tx, paymentId: string, legIndex: number, delta: bigint): Promise<void> {
  if (delta === 0n) return;
  await tx
    .update(paymentLegs)
    .set({ refundedAmount: sql`${paymentLegs.refundedAmount} + ${delta}` })
    .where(and(eq(paymentLegs.paymentId, paymentId), eq(paymentLegs.legIndex, legIndex)));
}

export async function insertRefundLegs(tx: Tx, rows: ReadonlyArray<RefundLegRow>): Promise<void> {
  if (rows.length > 0) await tx.insert(refundLegs).values([...rows]);
}

export async function legsOfRefund(db: Executor, refundId: string): Promise<RefundLegRow[]> {
  return db.select().from(refundLegs).where(eq(refundLegs.refundId, refundId)).orderBy(asc(refundLegs.legIndex));
}

type Rows<T> = [T[], unknown];

/**
 * LEGS payments whose legs do not add up: paying legs and receiving legs must each sum to the
 * amount, and each side's refunded amounts to the payment's refunded amount (npm run verify). Live rows only
 * (control's heldHere): a shard move's copies are not this database's.
 */
export async function legSumMismatches(db: Executor): Promise<Array<{ paymentId: string; detail: string }>> {
  const [rows] = (await db.execute(sql`
    SELECT p.id, p.amount, p.refunded_amount,
      SUM(CASE WHEN l.role IN ('PAYER', 'CAMPAIGN') THEN l.amount ELSE 0 END) AS paying,
      SUM(CASE WHEN l.role IN ('PAYEE', 'SPLIT') THEN l.amount ELSE 0 END) AS receiving,
      SUM(CASE WHEN l.role IN ('PAYER', 'CAMPAIGN') THEN l.refunded_amount ELSE 0 END) AS paying_refunded,
      SUM(CASE WHEN l.role IN ('PAYEE', 'SPLIT') THEN l.refunded_amount ELSE 0 END) AS receiving_refunded
    FROM payments p JOIN payment_legs l ON l.payment_id = p.id
    WHERE p.route = 'LEGS' AND ${sql.raw(heldHere('p.id'))}
    GROUP BY p.id, p.amount, p.refunded_amount
    HAVING paying <> p.amount OR receiving <> p.amount OR paying_refunded <> p.refunded_amount OR receiving_refunded <> p.refunded_amount`)) as unknown as Rows<{
    id: string;
    amount: string;
    refunded_amount: string;
    paying: string;
    receiving: string;
    paying_refunded: string;
    receiving_refunded: string;
  }>;
  return rows.map((r) => ({
    paymentId: r.id,
    detail: `amount ${r.amount}, paying ${r.paying}, receiving ${r.receiving}; refunded ${r.refunded_amount}, paying ${r.paying_refunded}, receiving ${r.receiving_refunded}`,
  }));
}

/**
 * Per campaign, the discounts of the payments on this shard that did not fail: what its counters must add up to. Live
 * rows only (control's heldHere): every database's are summed, and a moved payment's copy would count it twice.
 */
export async function campaignUsesOnShard(
  db: Executor,
): Promise<Array<{ campaignId: string; spent: bigint; count: number }>> {
  const [rows] = (await db.execute(sql`
    SELECT campaign_id, SUM(discount_amount) AS spent, COUNT(*) AS n FROM payments
    WHERE campaign_id IS NOT NULL AND status <> 'FAILED' AND discount_amount > 0 AND ${sql.raw(heldHere('id'))}
    GROUP BY campaign_id`)) as unknown as Rows<{
    campaign_id: string;
    spent: string;
    n: string | number;
  }>;
  return rows.map((r) => ({ campaignId: r.campaign_id, spent: BigInt(r.spent), count: Number(r.n) }));
}
