import { and, eq, inArray } from 'drizzle-orm';
import type { Tx } from '@paygraph/shared/shards/transaction';
import { paymentLegs, payments, refundLegs, refunds } from '../db/schema/transactions';

/**
 * The one write the transaction subgraph lets another part make to its tables: settlement marks
 * what it settled (payments, refunds, legs and refunds' shares of legs) with its settlement id,
 * in the same local transaction as the stripe's settlement posting (they share the shard's
 * database), so each is settled exactly once: that is why this is a module on the shard, not a
 * GraphQL call. The SQL stays here, with the tables' owner; settlement names what it settled by
 * id, as read-model/settlement.ts answered it (docs/ARCHITECTURE.md, "Table ownership and read
 * models").
 */
export interface SettledItems {
  paymentIds: readonly string[];
  refundIds: readonly string[];
  legs: ReadonlyArray<{ paymentId: string; legIndex: number }>;
  shares: ReadonlyArray<{ refundId: string; legIndex: number }>;
}

export async function markSettled(tx: Tx, settlementId: string, settled: SettledItems): Promise<void> {
  if (settled.paymentIds.length > 0)
    await tx
      .update(payments)
      .set({ settlementId })
      .where(inArray(payments.id, [...settled.paymentIds]));
  if (settled.refundIds.length > 0)
    await tx
      .update(refunds)
      .set({ settlementId })
      .where(inArray(refunds.id, [...settled.refundIds]));
  for (const l of settled.legs) {
    await tx
      .update(paymentLegs)
      .set({ settlementId })
      .where(and(eq(paymentLegs.paymentId, l.paymentId), eq(paymentLegs.legIndex, l.legIndex)));
  }
  for (const r of settled.shares) {
    await tx
      .update(refundLegs)
      .set({ settlementId })
      .where(and(eq(refundLegs.refundId, r.refundId), eq(refundLegs.legIndex, r.legIndex)));
  }
}
