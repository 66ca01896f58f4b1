import { and, eq, inArray, sql } from 'drizzle-orm';
import { idKinds } from '@paygraph/shared/ids';
import { openHere } from '@paygraph/shared/control/index';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import {
  advanceOutstanding,
  advancePieces,
  advanceRefundOffsets,
  advances,
  advanceTerms,
  settlementParts,
  type AdvancePieceRow,
  type AdvanceRow,
  type AdvanceTermsRow,
} from './schema/settlement';

/**
 * The advance tables. advance_terms and advances live on the merchant's home shard;
 * advance_pieces, advance_outstanding and advance_refund_offsets on each stripe's shard, written
 * only in the local transaction of the posting they describe (a piece, its reversal, or a
 * settlement's part).
 */

export async function termsOf(db: Executor, merchantId: string): Promise<AdvanceTermsRow | undefined> {
  return (await db.select().from(advanceTerms).where(eq(advanceTerms.merchantAccountId, merchantId)))[0];
}

/** Locks the merchant's terms row: every advance of the merchant holds it while it runs, so they run one at a time. */
export async function lockTerms(tx: Tx, merchantId: string): Promise<AdvanceTermsRow | undefined> {
  return (await tx.select().from(advanceTerms).where(eq(advanceTerms.merchantAccountId, merchantId)).for('update'))[0];
}

export async function upsertTerms(db: Executor, row: typeof advanceTerms.$inferInsert): Promise<void> {
  const { merchantAccountId: _, ...set } = row;
  await db.insert(advanceTerms).values(row).onDuplicateKeyUpdate({ set });
}

export async function advanceById(db: Executor, id: string): Promise<AdvanceRow | undefined> {
  return (await db.select().from(advances).where(eq(advances.id, id)))[0];
}

export async function pendingAdvancesOf(db: Executor, merchantId: string): Promise<AdvanceRow[]> {
  return db
    .select()
    .from(advances)
    .where(and(eq(advances.merchantAccountId, merchantId), eq(advances.status, 'PENDING')));
}

/**
 * Merchants on this shard with an advance left PENDING (a crash between its pieces, or its mark refused by a move's
 * fence), oldest advance first, at most `limit` of them: the advance worker's scan (advances_status_created_idx). Only
 * of ranges open here (control's openHere): a range moved away leaves its PENDING rows here as copies, for good with
 * --keep-source, which no completion here finishes (the live rows are at the target); kept in the scan, they would
 * fill its oldest-first `limit` pass after pass and starve the advances it could finish. A fenced or arriving range's
 * are finished once it is open, where it then is.
 */
export async function merchantsWithAdvancesLeft(db: Executor, limit: number): Promise<string[]> {
  const rows = await db
    .select({ merchantAccountId: advances.merchantAccountId })
    .from(advances)
    .where(and(eq(advances.status, 'PENDING'), sql.raw(openHere('`advances`.`id`'))))
    .orderBy(advances.createdAt)
    .limit(limit);
  return [...new Set(rows.map((r) => r.merchantAccountId))];
}

export async function insertAdvance(db: Executor, row: typeof advances.$inferInsert): Promise<void> {
  await db.insert(advances).values(row);
}

export async function finishAdvance(db: Executor, id: string, status: 'PAID' | 'REVERSED', now: Date): Promise<void> {
  await db.update(advances).set({ status, completedAt: now }).where(eq(advances.id, id));
}

/**
 * What stands advanced and not yet settled on each of the merchant's stripes on this shard (a stripe without a row: 0).
 */
export async function outstandingOf(db: Executor, merchantId: string): Promise<Map<string, bigint>> {
  const rows = await db.select().from(advanceOutstanding).where(eq(advanceOutstanding.merchantAccountId, merchantId));
  return new Map(rows.map((r) => [r.stripeAccountId, r.outstanding]));
}

export async function lockOutstanding(tx: Tx, stripeId: string): Promise<bigint> {
  return (await lockOutstandingRow(tx, stripeId)).outstanding;
}

/**
 * advance_refund_offsets' rows of moves of pending are keyed by the sweep's id (write-model/advances.ts): a LIKE
 * pattern for them (`_` escaped), apart from refunds' and reversals' rows.
 */
export const sweepOffsetIds = `${idKinds.sweep}\\_%`;

/** A stripe's advance counters (advance_outstanding; no row yet: all 0). */
export interface OutstandingCounters {
  outstanding: bigint;
  /** Σ what its settlement parts covered. */
  covered: bigint;
  /** Σ what moves of pending changed outstanding by (+ out of the stripe, − what a move in repaid). */
  moved: bigint;
}

/** The stripe's counters, locked; no row yet: all 0. */
export async function lockOutstandingRow(tx: Tx, stripeId: string): Promise<OutstandingCounters> {
  const rows = await tx
    .select()
    .from(advanceOutstanding)
    .where(eq(advanceOutstanding.stripeAccountId, stripeId))
    .for('update');
  const row = rows[0];
  return { outstanding: row?.outstanding ?? 0n, covered: row?.covered ?? 0n, moved: row?.moved ?? 0n };
}

/**
 * A settlement part's cover of `amount` of the stripe's outstanding advance: outstanding down, covered (Σ the stripe's
 * parts' advancedAmount) up by as much, in the part's transaction.
 */
export async function coverOutstanding(tx: Tx, stripeId: string, merchantId: string, amount: bigint): Promise<void> {
  await tx
    .insert(advanceOutstanding)
    .values({ stripeAccountId: stripeId, merchantAccountId: merchantId, outstanding: -amount, covered: amount })
    .onDuplicateKeyUpdate({
      set: {
        outstanding: sql`${advanceOutstanding.outstanding} - ${amount}`,
        covered: sql`${advanceOutstanding.covered} + ${amount}`,
      },
    });
}

/**
 * A move of pending's change of the stripe's outstanding (signed: + out of the stripe, − what a move in repaid): both
 * outstanding and moved (Σ such changes) by `delta`, in the move's transaction, creating the row on the first.
 */
export async function moveOutstanding(tx: Tx, stripeId: string, merchantId: string, delta: bigint): Promise<void> {
  await tx
    .insert(advanceOutstanding)
    .values({ stripeAccountId: stripeId, merchantAccountId: merchantId, outstanding: delta, moved: delta })
    .onDuplicateKeyUpdate({
      set: {
        outstanding: sql`${advanceOutstanding.outstanding} + ${delta}`,
        moved: sql`${advanceOutstanding.moved} + ${delta}`,
      },
    });
}

/** Adds `delta` (signed) to the stripe's outstanding advance, creating its row on the first advance. */
export async function addOutstanding(tx: Tx, stripeId: string, merchantId: string, delta: bigint): Promise<void> {
  await tx
    .insert(advanceOutstanding)
    .values({ stripeAccountId: stripeId, merchantAccountId: merchantId, outstanding: delta })
    .onDuplicateKeyUpdate({ set: { outstanding: sql`${advanceOutstanding.outstanding} + ${delta}` } });
}

/**
 * What the stripe's outstanding advance is made of (verify's sum, db/ledger-checks.ts outstandingMismatches, for one
 * stripe): its pieces not taken back, what its settlement parts covered of them, and its offsets (what refunds repaid,
 * pending moved in or out, reversals' parts the refunds gave back). Read in the caller's transaction with the
 * outstanding row locked, so that no writer of them (each changes the counter in the same transaction) is half seen.
 */
export async function outstandingRecordsOf(
  tx: Tx,
  stripeId: string,
): Promise<{ pieces: bigint; covered: bigint; offsets: bigint; moved: bigint }> {
  const [pieces] = await tx
    .select({ total: sql<string>`COALESCE(SUM(${advancePieces.amount}), 0)` })
    .from(advancePieces)
    .where(and(eq(advancePieces.stripeAccountId, stripeId), eq(advancePieces.reversed, false)));
  const [covered] = await tx
    .select({ total: sql<string>`COALESCE(SUM(${settlementParts.advancedAmount}), 0)` })
    .from(settlementParts)
    .where(eq(settlementParts.stripeAccountId, stripeId));
  // Every offset, and the moves' among them (keyed by their sweeps' ids), in one read of the stripe's offsets.
  const { refundId, amount } = advanceRefundOffsets;
  const [offsets] = await tx
    .select({
      total: sql<string>`COALESCE(SUM(${amount}), 0)`,
      moves: sql<string>`COALESCE(SUM(CASE WHEN ${refundId} LIKE ${sweepOffsetIds} THEN ${amount} END), 0)`,
    })
    .from(advanceRefundOffsets)
    .where(eq(advanceRefundOffsets.stripeAccountId, stripeId));
  return {
    pieces: BigInt(pieces!.total),
    covered: BigInt(covered!.total),
    offsets: BigInt(offsets!.total),
    moved: -BigInt(offsets!.moves),
  };
}

/** Which of these refunds already lowered the stripe's outstanding advance. */
export async function offsetRefunds(tx: Tx, stripeId: string, refundIds: readonly string[]): Promise<Set<string>> {
  if (refundIds.length === 0) return new Set();
  const rows = await tx
    .select({ refundId: advanceRefundOffsets.refundId })
    .from(advanceRefundOffsets)
    .where(
      and(eq(advanceRefundOffsets.stripeAccountId, stripeId), inArray(advanceRefundOffsets.refundId, [...refundIds])),
    );
  return new Set(rows.map((r) => r.refundId));
}

export async function insertRefundOffsets(
  tx: Tx,
  rows: ReadonlyArray<typeof advanceRefundOffsets.$inferInsert>,
): Promise<void> {
  if (rows.length > 0) await tx.insert(advanceRefundOffsets).values([...rows]);
}

export async function lockPiece(tx: Tx, advanceId: string, stripeId: string): Promise<AdvancePieceRow | undefined> {
  const rows = await tx
    .select()
    .from(advancePieces)
    .where(and(eq(advancePieces.advanceId, advanceId), eq(advancePieces.stripeAccountId, stripeId)))
    .for('update');
  return rows[0];
}

export async function insertPiece(tx: Tx, row: typeof advancePieces.$inferInsert): Promise<void> {
  await tx.insert(advancePieces).values(row);
}

export async function markPieceReversed(tx: Tx, advanceId: string, stripeId: string): Promise<void> {
  await tx
    .update(advancePieces)
    .set({ reversed: true })
    .where(and(eq(advancePieces.advanceId, advanceId), eq(advancePieces.stripeAccountId, stripeId)));
}
