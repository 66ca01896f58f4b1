import { and, eq, inArray, sql } from 'drizzle-orm';
import { heldHere } from '@paygraph/shared/control/index';
import type { Tx, Executor } from '@paygraph/shared/shards/transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { sweeps, type SweepRow } from './schema/transactions';

/** Written with its posting and its outbox row, at the end of the posting transaction. */
export function deferSweep(deferred: DeferredInserts, row: typeof sweeps.$inferInsert): void {
  deferred.add(sweeps, row);
}

export async function sweepsByIds(db: Executor, ids: readonly string[]): Promise<SweepRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(sweeps)
    .where(inArray(sweeps.id, [...ids]));
}

/** The sweep a withdrawal (or refund) made from a row, of one bucket: at most one (unique withdrawal, row, bucket). */
export async function sweepOf(
  db: Executor,
  withdrawalId: string,
  stripeAccountId: string,
  bucket: SweepRow['bucket'] = 'AVAILABLE',
): Promise<SweepRow | undefined> {
  const rows = await db
    .select()
    .from(sweeps)
    .where(
      and(
        eq(sweeps.withdrawalId, withdrawalId),
        eq(sweeps.stripeAccountId, stripeAccountId),
        eq(sweeps.bucket, bucket),
      ),
    );
  return rows[0];
}

export async function finishSweep(tx: Tx, id: string, now: Date): Promise<void> {
  await tx.update(sweeps).set({ status: 'SUCCEEDED', completedAt: now }).where(eq(sweeps.id, id));
}

/**
 * Sweeps debited on this shard and not yet completed: money in clearing until their credit lands. Only the live rows
 * here (control's heldHere): a moved sweep's copy would count it in flight twice (reconciliation's clearing check).
 */
export async function processingSweeps(db: Executor): Promise<SweepRow[]> {
  return db
    .select()
    .from(sweeps)
    .where(and(eq(sweeps.status, 'PROCESSING'), sql.raw(heldHere('`sweeps`.`id`'))));
}
