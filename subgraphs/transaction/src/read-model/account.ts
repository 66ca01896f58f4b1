import { and, eq, sql } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { payments, refunds } from '../db/schema/transactions';

/**
 * The transaction subgraph's read model for the account subgraph: what may still come back to an
 * account from a movement in flight, which a close waits for (docs/PAYMENTS.md). A cross-shard
 * payment still PROCESSING may be reversed into its payer (`<pay>:reverse`), and a refund still
 * PROCESSING credits its payment's payer; both are completions, posted whatever the status, so an
 * account closed in between would hold that money for good. Read on the account's home database
 * inside the close's transaction, under the account row's lock: a payer's payments and their
 * refunds live on the payer's logical shard, and a new payment's debit locks the same row, so
 * none starts unseen. In the payer's currency (an FX payment's sell side).
 */
export async function moneyInFlightToward(db: Executor, accountId: string): Promise<bigint> {
  const [paid] = await db
    .select({ total: sql<string | null>`SUM(${payments.amount})` })
    .from(payments)
    .where(and(eq(payments.payerAccountId, accountId), eq(payments.status, 'PROCESSING')));
  const [refunding] = await db
    .select({ total: sql<string | null>`SUM(${refunds.amount})` })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(and(eq(payments.payerAccountId, accountId), eq(refunds.status, 'PROCESSING')));
  return BigInt(paid?.total ?? 0) + BigInt(refunding?.total ?? 0);
}
