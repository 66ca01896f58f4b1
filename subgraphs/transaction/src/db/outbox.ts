import { and, asc, eq, gt, lte, sql } from 'drizzle-orm';
import { onLogicalShards } from '@paygraph/shared/db/placed';
import type { Tx, Executor } from '@paygraph/shared/shards/transaction';
import type { PostingTx, Statement } from '@paygraph/shared/shards/posting-transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { rawHold, rawRows, type SqlTarget } from '@paygraph/shared/db/raw';
import { transferOutbox, type OutboxRow } from './schema/transactions';
import { refuseFenced } from '@paygraph/shared/control/index';
import { shardOfAnyId } from '@paygraph/shared/ids';

/** The relay leaves the row alone until nextAttemptAt: the request that wrote it tries first. */
export async function insertOutbox(
  tx: Tx,
  id: string,
  step: OutboxRow['step'],
  now: Date,
  nextAttemptAt: Date,
): Promise<void> {
  await tx.insert(transferOutbox).values({ id, step, status: 'PENDING', createdAt: now, nextAttemptAt });
}

export function deferOutbox(
  deferred: DeferredInserts,
  id: string,
  step: OutboxRow['step'],
  now: Date,
  nextAttemptAt: Date,
): void {
  deferred.add(transferOutbox, { id, step, status: 'PENDING', createdAt: now, nextAttemptAt });
}

export async function outboxById(db: Executor, id: string): Promise<OutboxRow | undefined> {
  const rows = await db.select().from(transferOutbox).where(eq(transferOutbox.id, id));
  return rows[0];
}

/**
 * Due rows no other relay holds: SKIP LOCKED lets several relay replicas share the work
 * without waiting on each other or doing a row twice at the same time. Only rows of the logical
 * shards `placed` here now (their ids' last two characters, hex): a fenced range's rows wait for
 * the fence to lift, and a moved range's rows left on the source until cleanup are no longer its
 * own (its copy on the target is what the relay there runs).
 */
export async function claimDueOutbox(
  tx: Tx,
  now: Date,
  limit: number,
  placed: readonly number[],
): Promise<OutboxRow[]> {
  if (placed.length === 0) return [];
  return tx
    .select()
    .from(transferOutbox)
    .where(
      and(
        eq(transferOutbox.status, 'PENDING'),
        lte(transferOutbox.nextAttemptAt, now),
        onLogicalShards(transferOutbox.id, placed),
      ),
    )
    .orderBy(asc(transferOutbox.nextAttemptAt))
    .limit(limit)
    .for('update', { skipLocked: true });
}

/**
 * Takes the completion of an outbox row: PENDING → DONE in one statement, which also locks
 * the row until commit. True for exactly one of any number of concurrent completers (the
 * request, relay replicas); the others find it DONE and leave it alone.
 */
/**
 * How many rows are due and not done (counting stops at countMax, so a huge backlog costs no
 * more than a bounded index range) and when the oldest of them came due: both from the
 * (status, next_attempt_at) index.
 */
export async function outboxBacklog(
  db: SqlTarget,
  now: Date,
  countMax: number,
): Promise<{ due: number; oldestDueAt: Date | null }> {
  const [counted] = await rawRows<{ due: number | string }>(
    db,
    "SELECT COUNT(*) AS due FROM (SELECT 1 FROM transfer_outbox WHERE status = 'PENDING' AND next_attempt_at <= ? LIMIT ?) AS d",
    [now, countMax],
  );
  const [oldest] = await rawRows<{ at: Date | null }>(
    db,
    "SELECT MIN(next_attempt_at) AS at FROM transfer_outbox WHERE status = 'PENDING' AND next_attempt_at <= ?",
    [now],
  );
  return { due: Number(counted?.due ?? 0), oldestDueAt: oldest?.at ?? null };
}

/**
 * takeOutbox where nothing else in the transaction reads the row's fence (an ending that posts nothing: a refund of
 * legs, a sweep, a payout's event, a payment its campaign refused): the row taken (locked, DONE), then its logical
 * shard's fence row read in share mode, the order a posting's completion locks them in. A row of a range fenced on
 * this database throws FencedWrite (SHARD_UNAVAILABLE, retryable) and the caller's transaction rolls back: written
 * after a shard move's last catch-up, the row and what the ending writes beside it would leave the source unlike the
 * target's copy, and the move's verify would refuse with the range fenced.
 */
export async function takeOutboxHere(tx: Tx, shardName: string, id: string): Promise<boolean> {
  if (!(await takeOutbox(tx, id))) return false;
  await refuseFenced(tx, shardName, [shardOfAnyId(id)]);
  return true;
}

export async function takeOutbox(tx: Tx, id: string): Promise<boolean> {
  const [result] = await tx
    .update(transferOutbox)
    .set({ status: 'DONE' })
    .where(and(eq(transferOutbox.id, id), eq(transferOutbox.status, 'PENDING')));
  return result.affectedRows === 1;
}

/**
 * takeOutbox for many rows: locks the ones still PENDING (in id order, as every taker does)
 * and marks them DONE, in two statements. Answers the ids taken; the others were done already.
 */
export async function takeOutboxRows(tx: PostingTx, ids: readonly string[]): Promise<Set<string>> {
  const lock = outboxRowsLock(ids);
  return outboxRowsTaken(tx, await rawRows<{ id: string }>(tx, lock.sql, lock.values));
}

/** takeOutboxRows' first statement, for a posting batch to send in its first round trip (a LeadingRead). */
export function outboxRowsLock(ids: readonly string[]): Statement {
  return {
    sql: "SELECT id FROM transfer_outbox WHERE id IN (?) AND status = 'PENDING' ORDER BY id FOR UPDATE",
    values: [ids],
  };
}

/** The rest of takeOutboxRows, from its lock's rows: the rows it locked are marked DONE; answers their ids. */
export async function outboxRowsTaken(tx: PostingTx, pending: ReadonlyArray<{ id: string }>): Promise<Set<string>> {
  // A loop, not a callback: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const taken = new Set<string>();
  for (const row of pending) taken.add(row.id);
  // Held for the transaction's next round trip (db/raw.ts): the rows are locked already.
  if (taken.size > 0) await rawHold(tx, "UPDATE transfer_outbox SET status = 'DONE' WHERE id IN (?)", [[...taken]]);
  return taken;
}

/**
 * A shard move's switch, on the database the range arrived on, once its fence rows are open (a transaction of its own:
 * scripts/lib/shard-mover.ts): the range's PENDING rows come due now. A lease taken on the source names a relay whose
 * step then met the fence, and the fence refused the write that would have made the row due soon (services/relay.ts
 * retrySoon): left to run out, the movement's money would wait in clearing for relayLeaseMs. Running a step again is
 * safe (runOutboxStep). Locks: those rows, exclusively, until it commits.
 */
export async function outboxDueOnArrival(tx: Tx, logicalShards: readonly number[], now: Date): Promise<void> {
  await tx
    .update(transferOutbox)
    .set({ nextAttemptAt: now })
    .where(
      and(
        eq(transferOutbox.status, 'PENDING'),
        gt(transferOutbox.nextAttemptAt, now),
        onLogicalShards(transferOutbox.id, logicalShards),
      ),
    );
}

export async function postponeOutbox(tx: Tx, id: string, next: Date): Promise<void> {
  await tx
    .update(transferOutbox)
    .set({ attempts: sql`${transferOutbox.attempts} + 1`, nextAttemptAt: next })
    .where(eq(transferOutbox.id, id));
}
