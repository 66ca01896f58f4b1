import { and, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import { inTransaction, type Executor, type Tx } from '@paygraph/shared/shards/transaction';
import type { Shard } from '@paygraph/shared/shards/pool';
import { heldHere, refuseFenced } from '@paygraph/shared/control/index';
import { shardOfAnyId } from '@paygraph/shared/ids';
import { packReport, unpackReport } from './report-bodies';
import {
  merchantFeeRates,
  reconciliationReports,
  settlementParts,
  settlements,
  statementLines,
  statements,
  type ReportRow,
  type SettlementPartRow,
  type SettlementRow,
  type StatementLineRow,
} from './schema/settlement';

/**
 * Inserts the settlement unless (merchant, date) has one; answers the one that holds the pair. Under the fence where
 * the write happens: a settlement moves with its merchant's logical shard (its id's end), and a claim written on a
 * source after the mover's copy read the table would be lost at the target, where a second run would claim the pair
 * again under another id. So the INSERT IGNORE, then a share-mode read of that logical shard's fence row (the claim's
 * row first and the fence row after, as a key's claim takes them), then the holder's read, in one transaction; not
 * open, FencedWrite (SHARD_UNAVAILABLE, retryable) and nothing claimed.
 */
export async function claimSettlement(shard: Shard, row: typeof settlements.$inferInsert): Promise<SettlementRow> {
  return inTransaction(shard, async (tx) => {
    await tx.insert(settlements).ignore().values(row);
    await refuseFenced(tx, shard.name, [shardOfAnyId(row.id)]);
    const rows = await tx
      .select()
      .from(settlements)
      .where(
        and(eq(settlements.merchantAccountId, row.merchantAccountId), eq(settlements.businessDate, row.businessDate)),
      );
    return rows[0]!;
  });
}

/** A settlement's merchant, date and status, as the settlement worker plans a pass with them (services/worker.ts). */
export interface SettlementState {
  merchantId: string;
  businessDate: string;
  status: SettlementRow['status'];
}

const settlementState = {
  merchantId: settlements.merchantAccountId,
  businessDate: settlements.businessDate,
  status: settlements.status,
};

/** The settlements of these (merchant, date) pairs that exist: a point of settlements_merchant_date_uq each. */
export async function settlementStates(
  db: Executor,
  pairs: ReadonlyArray<{ merchantId: string; businessDate: string }>,
): Promise<SettlementState[]> {
  if (pairs.length === 0) return [];
  const unique = [...new Map(pairs.map((p) => [`${p.merchantId}|${p.businessDate}`, p])).values()];
  const tuples = sql.join(
    unique.map((p) => sql`(${p.merchantId}, ${p.businessDate})`),
    sql`, `,
  );
  return db
    .select(settlementState)
    .from(settlements)
    .where(sql`(${settlements.merchantAccountId}, ${settlements.businessDate}) IN (${tuples})`);
}

/**
 * Settlements here still PROCESSING, dated up to `through`, oldest first, at most `limit`: live rows only (control's
 * heldHere; a moved settlement's copy is not resumed where it no longer lives). A range of settlements_status_date_idx.
 */
export async function processingSettlements(db: Executor, through: string, limit: number): Promise<SettlementState[]> {
  return db
    .select(settlementState)
    .from(settlements)
    .where(
      and(
        eq(settlements.status, 'PROCESSING'),
        lte(settlements.businessDate, through),
        sql.raw(heldHere('`settlements`.`id`')),
      ),
    )
    .orderBy(settlements.businessDate)
    .limit(limit);
}

export async function settlementsByIds(db: Executor, ids: readonly string[]): Promise<SettlementRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(settlements)
    .where(inArray(settlements.id, [...ids]));
}

export async function settlementsOfMerchant(db: Executor, merchantId: string, limit: number): Promise<SettlementRow[]> {
  return db
    .select()
    .from(settlements)
    .where(eq(settlements.merchantAccountId, merchantId))
    .orderBy(desc(settlements.businessDate))
    .limit(limit);
}

/**
 * The date's SETTLED settlements here, live rows only (control's heldHere): reconciliation reads every database's,
 * and a moved settlement's copy would be checked twice.
 */
export async function settlementsOfDate(db: Executor, businessDate: string): Promise<SettlementRow[]> {
  return db
    .select()
    .from(settlements)
    .where(
      and(
        eq(settlements.businessDate, businessDate),
        eq(settlements.status, 'SETTLED'),
        sql.raw(heldHere('`settlements`.`id`')),
      ),
    );
}

/** What a settlement SETTLED records, summed over its parts. */
interface SettlementTotals {
  gross: bigint;
  refunded: bigint;
  advanced: bigint;
  fee: bigint;
  net: bigint;
  creditRepaid: bigint;
}

/**
 * A settlement SETTLED with its totals, under the fence where the write happens as its claim is (the row, then its
 * logical shard's fence row in share mode, in one transaction): a finish written on a source after a move's last
 * catch-up would be lost at the target, its row left PROCESSING there. Not open, FencedWrite (retryable) and nothing
 * written; the next run finds its parts and finishes it where the map then places it.
 */
export async function finishSettlement(
  shard: Shard,
  id: string,
  totals: SettlementTotals,
  now: Date,
): Promise<boolean> {
  return inTransaction(shard, async (tx) => {
    const finished = await setSettled(tx, id, totals, now);
    await refuseFenced(tx, shard.name, [shardOfAnyId(id)]);
    return finished;
  });
}

/**
 * Only a settlement still PROCESSING: two runs of one (replicas, the worker resuming one the operator is finishing)
 * may both reach the finish, and the second's creditRepaidAmount, read after the first's parts posted, would be 0.
 * Answers whether this run finished it.
 */
async function setSettled(tx: Tx, id: string, totals: SettlementTotals, now: Date): Promise<boolean> {
  const [result] = await tx
    .update(settlements)
    .set({
      status: 'SETTLED',
      grossAmount: totals.gross,
      refundedAmount: totals.refunded,
      advancedAmount: totals.advanced,
      feeAmount: totals.fee,
      netAmount: totals.net,
      creditRepaidAmount: totals.creditRepaid,
      completedAt: now,
    })
    .where(and(eq(settlements.id, id), eq(settlements.status, 'PROCESSING')));
  return (result as { affectedRows: number }).affectedRows === 1;
}

export async function lockPart(tx: Tx, settlementId: string, stripeId: string): Promise<SettlementPartRow | undefined> {
  const rows = await tx
    .select()
    .from(settlementParts)
    .where(and(eq(settlementParts.settlementId, settlementId), eq(settlementParts.stripeAccountId, stripeId)))
    .for('update');
  return rows[0];
}

export async function insertPart(tx: Tx, row: typeof settlementParts.$inferInsert): Promise<void> {
  await tx.insert(settlementParts).values(row);
}

/**
 * A settlement's parts here, live rows only (control's heldHere on the stripe, the part's placement): reconciliation
 * sums every database's, and a moved stripe's copy would count its part twice.
 */
export async function partsOf(db: Executor, settlementId: string): Promise<SettlementPartRow[]> {
  return db
    .select()
    .from(settlementParts)
    .where(
      and(eq(settlementParts.settlementId, settlementId), sql.raw(heldHere('`settlement_parts`.`stripe_account_id`'))),
    );
}

export async function feeRateOf(db: Executor, merchantId: string): Promise<number | undefined> {
  const rows = await db.select().from(merchantFeeRates).where(eq(merchantFeeRates.merchantAccountId, merchantId));
  return rows[0]?.feeBps;
}

export async function setFeeRate(db: Executor, merchantId: string, feeBps: number, now: Date): Promise<void> {
  await db
    .insert(merchantFeeRates)
    .values({ merchantAccountId: merchantId, feeBps, updatedAt: now })
    .onDuplicateKeyUpdate({ set: { feeBps, updatedAt: now } });
}

/** A statement replaces an earlier one of the same channel and date, in one transaction. */
export async function replaceStatement(
  tx: Tx,
  statement: typeof statements.$inferInsert,
  lines: ReadonlyArray<Omit<StatementLineRow, 'statementId'>>,
  linesPerStatementMax: number,
): Promise<void> {
  await tx.delete(statementLines).where(eq(statementLines.statementId, statement.id));
  await tx.delete(statements).where(eq(statements.id, statement.id));
  await tx.insert(statements).values(statement);
  for (let i = 0; i < lines.length; i += linesPerStatementMax) {
    await tx
      .insert(statementLines)
      .values(lines.slice(i, i + linesPerStatementMax).map((l) => ({ ...l, statementId: statement.id })));
  }
}

/** Stores a date's report, its discrepancies' JSON gzipped (report-bodies.ts). */
export async function insertReport(
  db: Executor,
  row: Omit<typeof reconciliationReports.$inferInsert, 'discrepancies'> & { discrepancies: string },
): Promise<void> {
  await db.insert(reconciliationReports).values({ ...row, discrepancies: await packReport(row.discrepancies) });
}

export async function reportsOfDate(db: Executor, businessDate: string, limit: number): Promise<ReportRow[]> {
  const rows = await db
    .select()
    .from(reconciliationReports)
    .where(eq(reconciliationReports.businessDate, businessDate))
    .orderBy(desc(reconciliationReports.createdAt))
    .limit(limit);
  return Promise.all(rows.map(async (r) => ({ ...r, discrepancies: await unpackReport(r.discrepancies) })));
}
