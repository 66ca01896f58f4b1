import { inArray } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { advances } from '../db/schema/settlement';

/**
 * The settlement subgraph's read model for the webhooks subgraph: what an advance.paid event
 * says. The dispatcher finds the advance through an ADVANCE posting's ref_id and reads it here,
 * on the advance's shard (its merchant's home shard), one statement per shard for a pass.
 */
export interface AdvanceFacts {
  id: string;
  merchantAccountId: string;
  status: 'PENDING' | 'PAID' | 'REVERSED';
  amount: bigint;
  feeAmount: bigint;
  /**
   * The stripe of the advance's first piece: the one stream that says advance.paid (once per advance, not per piece).
   */
  firstStripeId: string;
}

export async function advanceFacts(db: Executor, ids: readonly string[]): Promise<AdvanceFacts[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select()
    .from(advances)
    .where(inArray(advances.id, [...ids]));
  return rows.map((r) => {
    const plan = JSON.parse(r.plan) as Array<{ stripeAccountId: string }>;
    return {
      id: r.id,
      merchantAccountId: r.merchantAccountId,
      status: r.status,
      amount: r.amount,
      feeAmount: r.feeAmount,
      firstStripeId: plan[0]!.stripeAccountId,
    };
  });
}
