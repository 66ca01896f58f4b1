import { and, asc, desc, eq, gt, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import { onLogicalShards, onPlacedShards } from '@paygraph/shared/db/placed';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import type { PostingTx, Statement } from '@paygraph/shared/shards/posting-transaction';
import { bigintOf, rawHold, rawRowSets } from '@paygraph/shared/db/raw';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { holds, type HoldRow } from './schema/transactions';

/** Written with the batch's other business rows at the end of the posting transaction. */
export function deferHold(deferred: DeferredInserts, row: typeof holds.$inferInsert): void {
  deferred.add(holds, row);
}

/**
 * Every ending of a hold reads it under this lock: that is what lets exactly one ending win.
 * The holds of a whole merged batch are locked by one statement, in id order, as the ledger
 * locks its accounts, so two batches locking the same holds never deadlock on them. Hand-written
 * (db/raw.ts) so that it goes out with the transaction's BEGIN in one round trip: drizzle's
 * builder would send what the transaction holds first, in a round trip of its own. `also` go
 * out in the same round trip, after the lock, and their answers come back in order.
 */
export async function lockHolds(
  tx: PostingTx,
  ids: readonly string[],
  also: readonly Statement[] = [],
): Promise<{ holds: HoldRow[]; answers: unknown[][] }> {
  const lock = { sql: `SELECT ${holdColumns} FROM holds WHERE id IN (?) ORDER BY id FOR UPDATE`, values: [[...ids]] };
  const [rows, ...answers] = await rawRowSets(tx, [lock, ...also]);
  return { holds: (rows as HoldSqlRow[]).map(fromHoldSqlRow), answers };
}

interface HoldSqlRow {
  id: string;
  payer_account_id: string;
  payee_account_id: string;
  amount: string;
  captured_amount: string;
  currency: string;
  status: HoldRow['status'];
  ended_by: string | null;
  description: string | null;
  created_by: string;
  expires_at: Date;
  created_at: Date;
  ended_at: Date | null;
}

const holdColumns =
  'id, payer_account_id, payee_account_id, amount, captured_amount, currency, status, ended_by, description, created_by, expires_at, created_at, ended_at';

function fromHoldSqlRow(r: HoldSqlRow): HoldRow {
  return {
    id: r.id,
    payerAccountId: r.payer_account_id,
    payeeAccountId: r.payee_account_id,
    amount: bigintOf(r.amount),
    capturedAmount: bigintOf(r.captured_amount),
    currency: r.currency,
    status: r.status,
    endedBy: r.ended_by,
    description: r.description,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    endedAt: r.ended_at,
  };
}

export async function holdsByIds(db: Executor, ids: readonly string[]): Promise<HoldRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(holds)
    .where(inArray(holds.id, [...ids]));
}

/** The holds captured by these payments (a payment and its hold share the payer's shard). */
export async function holdsOfPayments(db: Executor, paymentIds: readonly string[]): Promise<HoldRow[]> {
  if (paymentIds.length === 0) return [];
  return db
    .select()
    .from(holds)
    .where(and(inArray(holds.endedBy, [...paymentIds]), eq(holds.status, 'CAPTURED')));
}

export interface HoldEnding {
  status: 'CAPTURED' | 'VOIDED' | 'EXPIRED';
  endedBy: string;
  capturedAmount: bigint;
  endedAt: Date;
}

/**
 * Ends a HELD hold; the caller holds its lock and has decided that it may. Nobody waits for its
 * answer, so in the posting transaction it goes out with the batch's next statement (rawHold).
 */
export async function endHold(tx: PostingTx, id: string, ending: HoldEnding): Promise<void> {
  await rawHold(
    tx,
    "UPDATE holds SET status = ?, ended_by = ?, captured_amount = ?, ended_at = ? WHERE id = ? AND status = 'HELD'",
    [ending.status, ending.endedBy, ending.capturedAmount.toString(), ending.endedAt, id],
  );
}

/** Undoes endHold in the same transaction, when the ending's posting was refused. */
export async function reopenHold(tx: Tx, id: string): Promise<void> {
  await tx
    .update(holds)
    .set({ status: 'HELD', endedBy: null, capturedAmount: 0n, endedAt: null })
    .where(eq(holds.id, id));
}

/**
 * HELD holds past their deadline. SKIP LOCKED passes over holds that a capture, a void or
 * another replica's expiry holds right now: whoever holds the lock decides that hold.
 */
export async function dueHolds(tx: Tx, now: Date, limit: number, placed: readonly number[]): Promise<HoldRow[]> {
  if (placed.length === 0) return [];
  return tx
    .select()
    .from(holds)
    .where(and(eq(holds.status, 'HELD'), lte(holds.expiresAt, now), onLogicalShards(holds.id, placed)))
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

/**
 * Holds the account placed or is the payee of on this shard, newest first, before a hold id. Only those of the logical
 * shards the map places here (`placed`, db/placed.ts onPlacedShards): every database's are merged, and a shard move's
 * copies would list a hold twice, the copy's status stale.
 */
export async function holdsOfAccount(
  db: Executor,
  accountId: string,
  status: HoldFilter,
  now: Date,
  beforeId: string | null,
  limit: number,
  placed: readonly number[] | null,
): Promise<HoldRow[]> {
  const either = or(eq(holds.payerAccountId, accountId), eq(holds.payeeAccountId, accountId));
  return db
    .select()
    .from(holds)
    .where(
      and(
        either,
        statusCondition(status, now),
        onPlacedShards(holds.id, placed),
        beforeId ? lt(holds.id, beforeId) : undefined,
      ),
    )
    .orderBy(desc(holds.id))
    .limit(limit);
}
