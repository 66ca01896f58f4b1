import { and, desc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import type { Shard } from '@paygraph/shared/shards/pool';
import { insertRows, rawRows } from '@paygraph/shared/db/raw';
import { inPostingTransaction, type PostingTx, type Statement } from '@paygraph/shared/shards/posting-transaction';
import {
  deleteUnderFences,
  fenceRead,
  refuseUnlessOpen,
  logicalShardsNamed,
  openHere,
} from '@paygraph/shared/control/index';
import { refunds } from './schema/transactions';
import {
  fxQuotes,
  fxRates,
  paymentFx,
  refundFx,
  type FxQuoteRow,
  type FxRateRow,
  type PaymentFxRow,
  type RefundFxRow,
} from './schema/fx';

/** The SQL of the FX tables (db/schema/fx.ts). */

export async function insertRate(db: Executor, row: typeof fxRates.$inferInsert): Promise<void> {
  await db.insert(fxRates).values(row);
}

/** The newest rate of a pair (either direction), or none: one backwards range of fx_rates_pair_idx. */
export async function latestRate(db: Executor, pairKey: string): Promise<FxRateRow | undefined> {
  const rows = await db
    .select()
    .from(fxRates)
    .where(eq(fxRates.pairKey, pairKey))
    .orderBy(desc(fxRates.createdAt), desc(fxRates.id))
    .limit(1);
  return rows[0];
}

/**
 * Many quotes in one multi-row INSERT (services/fx-quotes.ts joins concurrent requests' quotes on a shard), under the
 * fence where the write happens: a quote moves with its logical shard (its id's end), and a quote written on a source
 * after the mover's last catch-up would be left behind there while its client was told it exists. So the INSERT and a
 * share-mode read of the quotes' fence rows go in one transaction (BEGIN, the INSERT and the fence read in one round
 * trip, COMMIT in another), the rows first and the fence rows after, as a key's claim takes them. A logical shard
 * among them not open rolls it back with FencedWrite (SHARD_UNAVAILABLE, retryable), nothing written; a mover's fence
 * write waits for the COMMIT, and its fenced catch-up carries the quotes.
 */
export async function insertQuotes(shard: Shard, rows: readonly FxQuoteRow[]): Promise<void> {
  if (rows.length === 0) return;
  await inPostingTransaction(shard, async (tx) => {
    await insertRows(tx, fxQuotes, rows, { hold: true });
    await underQuoteFences(
      tx,
      rows.map((r) => r.id),
    );
  });
}

/**
 * Sends what the transaction holds, then a share-mode read of these quotes' fence rows (fenceRead), then `after`, in
 * one round trip; FencedWrite when one of those logical shards is not open, else `after`'s answers.
 */
async function underQuoteFences(
  tx: PostingTx,
  ids: readonly string[],
  after: readonly Statement[] = [],
): Promise<unknown[][]> {
  const logicalShards = logicalShardsNamed(ids);
  const fences = logicalShards.length > 0 ? [fenceRead(logicalShards)] : [];
  const answers = await tx.queryMany([...fences, ...after]);
  if (fences.length > 0) refuseUnlessOpen(tx.shardName, answers[0]!);
  return answers.slice(fences.length);
}

export async function quotesByIds(db: Executor, ids: readonly string[]): Promise<FxQuoteRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(fxQuotes)
    .where(inArray(fxQuotes.id, [...ids]));
}

/**
 * A payment's claim on a quote: its id, the payment's, and the moment of the claim (the quote's deadline is checked
 * against it).
 */
export interface QuoteClaim {
  quoteId: string;
  paymentId: string;
  at: Date;
}

/**
 * Which quotes a purge batch deletes (services/fx-quote-purge.ts): quotes no payment took whose
 * deadline passed before `expiredBefore`, or quotes a payment took whose deadline passed before
 * it. A taken quote's payment id was minted before the quote's deadline (the claim must come
 * first), so `paymentIdBelow` (idsMintedBefore the cut-off) bounds the index range read for
 * them to payments older than the cut-off instead of every taken quote the table keeps.
 */
export type QuotePurge =
  { kind: 'unused'; expiredBefore: Date } | { kind: 'used'; expiredBefore: Date; paymentIdBelow: string };

/**
 * Deletes at most `limit` quotes of one kind past their cut-off, and answers how many it
 * deleted. As the key purge (the idempotency module's store/keys.ts): found without locks along fx_quotes_purge_idx,
 * then deleted by primary key with the cut-off checked again, so replicas purging at once lock
 * rows in primary-key order and the second finds fewer. A payment claiming a quote deleted
 * meanwhile finds no holder (takeQuotes) and is answered FX_QUOTE_EXPIRED. Under the fence, as the key purge: a quote
 * moves with its logical shard, so the search leaves out the logical shards whose fence row here is not open
 * (openHere), and the delete reads its quotes' fence rows in share mode in its transaction (deleteUnderFences):
 * fenced since the search, nothing is deleted and 0 is answered.
 */
export async function purgeQuotes(shard: Shard, purge: QuotePurge, limit: number): Promise<number> {
  const found =
    purge.kind === 'unused'
      ? await rawRows<{ id: string }>(
          shard,
          `SELECT id FROM fx_quotes WHERE payment_id IS NULL AND expires_at < ? AND ${openHere('id')}
           ORDER BY expires_at LIMIT ?`,
          [purge.expiredBefore, limit],
        )
      : await rawRows<{ id: string }>(
          shard,
          `SELECT id FROM fx_quotes WHERE payment_id < ? AND expires_at < ? AND ${openHere('id')} LIMIT ?`,
          [purge.paymentIdBelow, purge.expiredBefore, limit],
        );
  if (found.length === 0) return 0;
  const ids = found.map((r) => r.id);
  const taken = purge.kind === 'unused' ? 'payment_id IS NULL' : 'payment_id IS NOT NULL';
  const deletion = {
    sql: `DELETE FROM fx_quotes WHERE id IN (?) AND ${taken} AND expires_at < ?`,
    values: [ids, purge.expiredBefore],
  };
  return (await deleteUnderFences(shard, deletion, logicalShardsNamed(ids))) ?? 0;
}

/** Who holds a quote after the claims: the payment it pays (null: none), and its deadline. */
export interface QuoteHolder {
  paymentId: string | null;
  expiresAt: Date;
}

/**
 * Takes quotes for payments: one conditional UPDATE, so of any number of payments racing for a
 * quote exactly one sets it (the update reads `payment_id IS NULL` under the row's lock, and a
 * quote's first claim in the statement wins over the others for it), then the holders as they
 * are now. A payment_id once set never changes, so the read after the
 * update tells each claim whether its own payment holds the quote. Answers the holder per claim,
 * in order; null for a quote the purge deleted since the payment read its terms.
 *
 * Under the fence where the write happens: a take moves with its quote's logical shard, and one written on a source
 * after the mover's copy read the row would be lost at the target, where a second payment could take the quote again.
 * So the UPDATE, a share-mode read of the quotes' fence rows and the holders' SELECT go in one transaction, sent with
 * its BEGIN in one round trip, its COMMIT in another (one round trip and three statements more than the autocommit
 * UPDATE and SELECT of before): the quote rows first and the fence rows after, the order a key's claim and the quote
 * purge (deleteUnderFences) take them in. A logical shard among them not open rolls the take back with FencedWrite
 * (SHARD_UNAVAILABLE, retryable): no quote taken, and the payment, which takes its quote before any money moves,
 * posts nothing; its retry with the same key takes it where the map then places it.
 */
export async function takeQuotes(shard: Shard, claims: readonly QuoteClaim[]): Promise<Array<QuoteHolder | null>> {
  const ids = [...new Set(claims.map((c) => c.quoteId))];
  const cases = claims.map(() => 'WHEN id = ? AND expires_at > ? THEN ?').join(' ');
  const rows = await inPostingTransaction(shard, async (tx) => {
    tx.hold(
      `UPDATE fx_quotes SET payment_id = CASE ${cases} ELSE payment_id END WHERE id IN (?) AND payment_id IS NULL`,
      [...claims.flatMap((c) => [c.quoteId, c.at, c.paymentId]), ids],
    );
    const [held] = await underQuoteFences(tx, ids, [
      { sql: 'SELECT id, payment_id, expires_at FROM fx_quotes WHERE id IN (?)', values: [ids] },
    ]);
    return held as Array<{ id: string; payment_id: string | null; expires_at: Date }>;
  });
  const holders = new Map(rows.map((r) => [r.id, { paymentId: r.payment_id, expiresAt: r.expires_at }]));
  return claims.map((c) => holders.get(c.quoteId) ?? null);
}

/** Written with the payment's debit, in its posting transaction. */
export function deferPaymentFx(deferred: DeferredInserts, row: PaymentFxRow): void {
  deferred.add(paymentFx, row);
}

export async function paymentFxByIds(db: Executor, paymentIds: readonly string[]): Promise<PaymentFxRow[]> {
  if (paymentIds.length === 0) return [];
  return db
    .select()
    .from(paymentFx)
    .where(inArray(paymentFx.paymentId, [...paymentIds]));
}

export async function insertRefundFx(tx: Tx, row: RefundFxRow): Promise<void> {
  await tx.insert(refundFx).values(row);
}

export async function refundFxById(db: Executor, refundId: string): Promise<RefundFxRow | undefined> {
  return (await refundFxByIds(db, [refundId]))[0];
}

/** Only for a refund row written earlier in the same transaction whose posting was then refused. */
export async function deleteRefundFx(tx: Tx, refundId: string): Promise<void> {
  await tx.delete(refundFx).where(eq(refundFx.refundId, refundId));
}

export async function refundFxByIds(db: Executor, refundIds: readonly string[]): Promise<RefundFxRow[]> {
  if (refundIds.length === 0) return [];
  return db
    .select()
    .from(refundFx)
    .where(inArray(refundFx.refundId, [...refundIds]));
}

/**
 * What the payee has given back of an FX payment so far, or is giving back: Σ the shares of its
 * refunds that have not FAILED (a failed refund gave nothing back). Read under the payment's lock.
 */
export async function buyReturnedOf(tx: Tx, paymentId: string): Promise<bigint> {
  return (await buyReturnedOfPayments(tx, [paymentId])).get(paymentId) ?? 0n;
}

/** The same for many payments (Payment.legs): payments none of whose refunds took a share are absent. */
export async function buyReturnedOfPayments(db: Executor, paymentIds: readonly string[]): Promise<Map<string, bigint>> {
  if (paymentIds.length === 0) return new Map();
  const rows = await db
    .select({ paymentId: refundFx.paymentId, returned: sql<string>`SUM(${refundFx.buyAmount})` })
    .from(refundFx)
    .innerJoin(refunds, eq(refunds.id, refundFx.refundId))
    .where(and(inArray(refundFx.paymentId, [...paymentIds]), ne(refunds.status, 'FAILED')))
    .groupBy(refundFx.paymentId);
  return new Map(rows.map((r) => [r.paymentId, BigInt(r.returned)]));
}
