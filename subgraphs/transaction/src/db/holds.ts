import { and, asc, desc, eq, gt, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/db/ledger-store';
import type { Tx } from '@paygraph/shared/shards/transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { holds, type HoldRow } from './schema/transactions';

/** Written with the batch's other business rows at the end of the posting transaction. */
export function deferHold(deferred: DeferredInserts, row: typeof holds.$inferInsert): void {
  deferred.add(holds, row);
}

/** Every ending of a hold reads it under this lock: that is what lets exactly one ending win. */
export async function lockHold(tx: Tx, id: string): Promise<HoldRow | undefined> {
  const rows = await tx.select().from(holds).where(eq(holds.id, id)).for('update');
  return rows[0];
}

export async function holdsByIds(db: Executor, ids: readonly string[]): Promise<HoldRow[]> {
  if (ids.length === 0) return [];
  return db.select().from(holds).where(inArray(holds.id, [...ids]));
}

/** The holds captured by these payments (a payment and its hold share the payer's shard). */
export async function holdsOfPayments(db: Executor, paymentIds: readonly string[]): Promise<HoldRow[]> {
  if (paymentIds.length === 0) return [];
  return db.select().from(holds).where(and(inArray(holds.endedBy, [...paymentIds]), eq(holds.status, 'CAPTURED')));
}

export interface HoldEnding {
  status: 'CAPTURED' | 'VOIDED' | 'EXPIRED';
  endedBy: string;
  capturedAmount: bigint;
  endedAt: Date;
}

/** Ends a HELD hold; the caller holds its lock and has decided that it may. */
export async function endHold(tx: Tx, id: string, ending: HoldEnding): Promise<void> {
  await tx.update(holds).set(ending).where(and(eq(holds.id, id), eq(holds.status, 'HELD')));
}

/** Undoes endHold in the same transaction, when the ending's posting was refused. */
export async function reopenHold(tx: Tx, id: string): Promise<void> {
  await tx.update(holds).set({ status: 'HELD', endedBy: null, capturedAmount: 0n, endedAt: null }).where(eq(holds.id, id));
}

/**
 * HELD holds past their deadline. SKIP LOCKED passes over holds that a capture, a void or
 * another replica's expiry holds right now: whoever holds the lock decides that hold.
 */
export async function dueHolds(tx: Tx, now: Date, limit: number): Promise<HoldRow[]> {
  return tx.select().from(holds)
    .where(and(eq(holds.status, 'HELD'), lte(holds.expiresAt, now)))
    .orderBy(asc(holds.expiresAt))
    .limit(limit)
    .for('update', { skipLocked: true });
}

export type HoldFilter = 'HELD' | 'CAPTURED' | 'VOIDED' | 'EXPIRED' | null;

/** The stored condition for the status a reader sees (domain/hold-rules.ts#holdStatusAt). */
function statusCondition(status: HoldFilter, now: Date): SQL | undefined {
  switch (status) {
    case null:
      return undefined;
    case 'HELD':
      return and(eq(holds.status, 'HELD'), gt(holds.expiresAt, now));
    case 'EXPIRED':
      return or(eq(holds.status, 'EXPIRED'), and(eq(holds.status, 'HELD'), lte(holds.expiresAt, now)));
    default:
      return eq(holds.status, status);
  }
}

/** Holds the account placed or is the payee of on this shard, newest first, before a hold id. */
export async function holdsOfAccount(db: Executor, accountId: string, status: HoldFilter, now: Date, beforeId: string | null, limit: number): Promise<HoldRow[]> {
  const either = or(eq(holds.payerAccountId, accountId), eq(holds.payeeAccountId, accountId));
  return db.select().from(holds)
    .where(and(either, statusCondition(status, now), beforeId ? lt(holds.id, beforeId) : undefined))
    .orderBy(desc(holds.id))
    .limit(limit);
}
