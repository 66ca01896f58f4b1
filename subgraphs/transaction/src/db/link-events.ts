import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import {
  externalAccountEventHeads as heads,
  externalAccountEvents as events,
  type LinkEventRow,
} from './schema/link-events';

/**
 * The SQL of external_account_events and external_account_event_heads, on an owner's link shard.
 * A writer takes the owner's head row first (lockedHead) and holds it to commit: that lock is
 * what numbers an owner's events without a gap and commits them in their numbers' order.
 */

/**
 * The number of the owner's last event (0 before the first), its head row made when missing and
 * locked until the transaction ends. ON DUPLICATE KEY UPDATE takes the row's exclusive lock at
 * once, so two first events of one owner wait for each other instead of both holding a shared
 * lock and deadlocking on the upgrade, as INSERT IGNORE then FOR UPDATE would.
 */
export async function lockedHead(tx: Executor, ownerId: string): Promise<bigint> {
  await tx
    .insert(heads)
    .values({ ownerId, lastSequence: 0n })
    .onDuplicateKeyUpdate({ set: { lastSequence: sql`${heads.lastSequence}` } });
  const [row] = await tx
    .select({ last: heads.lastSequence })
    .from(heads)
    .where(eq(heads.ownerId, ownerId))
    .for('update');
  return row!.last;
}

/** Writes the owner's next event under its head (lockedHead, same transaction), and moves the head to it. */
export async function appendEvent(
  tx: Executor,
  head: bigint,
  event: Omit<LinkEventRow, 'sequence'>,
): Promise<LinkEventRow> {
  const row = { ...event, sequence: head + 1n };
  await tx.insert(events).values(row);
  await tx.update(heads).set({ lastSequence: row.sequence }).where(eq(heads.ownerId, event.ownerId));
  return row;
}

/**
 * Deletes the owner's oldest events numbered below `firstKept`, at most `rowsMax` of them, oldest
 * first (so what is left never has a hole): a range of the primary key, under the owner's head lock
 * (lockedHead, same transaction).
 */
export async function dropEventsBefore(
  tx: Executor,
  ownerId: string,
  firstKept: bigint,
  rowsMax: number,
): Promise<void> {
  await tx
    .delete(events)
    .where(and(eq(events.ownerId, ownerId), lt(events.sequence, firstKept)))
    .orderBy(asc(events.sequence))
    .limit(rowsMax);
}

/** Whether a payout's event was written (read under the owner's head lock: nothing writes one meanwhile). */
export async function payoutEventWritten(tx: Executor, withdrawalId: string): Promise<boolean> {
  const rows = await tx.select({ sequence: events.sequence }).from(events).where(eq(events.withdrawalId, withdrawalId));
  return rows.length > 0;
}

/** The owner's events after `sequence`, in order, at most `limit`: a range of the primary key. */
export async function eventsAfter(
  db: Executor,
  ownerId: string,
  sequence: bigint,
  limit: number,
): Promise<LinkEventRow[]> {
  return db
    .select()
    .from(events)
    .where(and(eq(events.ownerId, ownerId), gt(events.sequence, sequence)))
    .orderBy(asc(events.sequence))
    .limit(limit);
}

/** The last event number of each owner that has events (one statement; owners without are absent). */
export async function headsOf(db: Executor, ownerIds: readonly string[]): Promise<Map<string, bigint>> {
  if (ownerIds.length === 0) return new Map();
  const rows = await db
    .select({ ownerId: heads.ownerId, last: heads.lastSequence })
    .from(heads)
    .where(inArray(heads.ownerId, [...ownerIds]));
  return new Map(rows.map((r) => [r.ownerId, r.last]));
}
