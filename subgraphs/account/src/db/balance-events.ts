import { and, asc, eq, getTableColumns, gt, gte, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import { accountOfRow, type Executor } from '@paygraph/shared/db/ledger-store';
import { accounts, ledgerEntries, type EntryRow } from '@paygraph/shared/db/schema/ledger';
import type { Account } from '@paygraph/shared/ledger/account';
import type { Buckets } from '../domain/balance-snapshot';

/**
 * The reads behind balance streams. Each takes the shard's handle first; entries are read by
 * the primary key (account_id, sequence), so every read is an index range on one shard.
 */

/** A stripe's entries from a sequence on (that one included), oldest first. */
export async function entriesFrom(db: Executor, stripeId: string, from: bigint, limit: number): Promise<EntryRow[]> {
  return db
    .select().from(ledgerEntries)
    .where(and(eq(ledgerEntries.accountId, stripeId), gte(ledgerEntries.sequence, from)))
    .orderBy(asc(ledgerEntries.sequence))
    .limit(limit);
}

/** A stripe's entries with after < sequence ≤ upTo, oldest first. */
export async function entriesBetween(db: Executor, stripeId: string, after: bigint, upTo: bigint): Promise<EntryRow[]> {
  return db
    .select().from(ledgerEntries)
    .where(and(eq(ledgerEntries.accountId, stripeId), gt(ledgerEntries.sequence, after), lte(ledgerEntries.sequence, upTo)))
    .orderBy(asc(ledgerEntries.sequence));
}

export async function entryById(db: Executor, id: string): Promise<EntryRow | undefined> {
  const rows = await db.select().from(ledgerEntries).where(eq(ledgerEntries.id, id));
  return rows[0];
}

/**
 * The feed's tick on one shard, in ONE statement however many stripes are watched there: for
 * each stripe, up to `perStripe` entries after the sequence the feed already knows.
 */
export async function tailEntries(
  db: Executor,
  tails: ReadonlyArray<{ stripeId: string; after: bigint }>,
  perStripe: number,
): Promise<EntryRow[]> {
  if (tails.length === 0) return [];
  // Built by hand: drizzle's unionAll takes one operand at a time and nests the rest.
  const parts = tails.map((t) => sql`(SELECT * FROM ${ledgerEntries}
    WHERE ${ledgerEntries.accountId} = ${t.stripeId} AND ${ledgerEntries.sequence} > ${t.after}
    ORDER BY ${ledgerEntries.sequence} LIMIT ${perStripe})`);
  const result = await db.execute(sql.join(parts, sql` UNION ALL `));
  return (result as unknown as [Array<Record<string, unknown>>])[0].map(toEntryRow);
}

const entryColumns = getTableColumns(ledgerEntries);

/** A raw row as the table's own columns map it (BIGINT to bigint, DATETIME to Date), whatever columns it has. */
function toEntryRow(raw: Record<string, unknown>): EntryRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(entryColumns)) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? value : column.mapFromDriverValue(value);
  }
  return row as EntryRow;
}

/**
 * A stripe's balance right after `sequence`: its balances now minus every later entry, in one
 * statement, so the balances and the entries come from one consistent read even while
 * postings commit. undefined when there is no such stripe; lastSequence says how far its
 * ledger went at that read, so a sequence beyond it can be refused.
 */
export async function bucketsAt(db: Executor, stripeId: string, sequence: bigint): Promise<{ buckets: Buckets; lastSequence: bigint } | undefined> {
  const later = (bucket: string) =>
    sql<string>`COALESCE(SUM(CASE WHEN ${ledgerEntries.bucket} = ${bucket} THEN ${ledgerEntries.amount} ELSE 0 END), 0)`;
  const rows = await db
    .select({
      available: sql<string>`${accounts.available} - ${later('AVAILABLE')}`,
      frozen: sql<string>`${accounts.frozen} - ${later('FROZEN')}`,
      pending: sql<string>`${accounts.pending} - ${later('PENDING')}`,
      lastSequence: accounts.lastSequence,
    })
    .from(accounts)
    .leftJoin(ledgerEntries, and(eq(ledgerEntries.accountId, accounts.id), gt(ledgerEntries.sequence, sequence)))
    .where(eq(accounts.id, stripeId))
    .groupBy(accounts.id, accounts.available, accounts.frozen, accounts.pending, accounts.lastSequence);
  const row = rows[0];
  if (!row) return undefined;
  return {
    buckets: { available: BigInt(row.available), frozen: BigInt(row.frozen), pending: BigInt(row.pending) },
    lastSequence: row.lastSequence,
  };
}

/** The stripes (rows with a parent) of these merchants on this shard. */
export async function stripesOfMerchants(db: Executor, merchantIds: readonly string[]): Promise<Account[]> {
  if (merchantIds.length === 0) return [];
  const rows = await db.select().from(accounts).where(and(isNotNull(accounts.parentId), inArray(accounts.parentId, [...merchantIds])));
  return rows.map(accountOfRow);
}

/** Accounts (homes or stripes) by id on this shard. */
export async function accountsByIds(db: Executor, ids: readonly string[]): Promise<Account[]> {
  if (ids.length === 0) return [];
  const rows = await db.select().from(accounts).where(inArray(accounts.id, [...ids]));
  return rows.map(accountOfRow);
}
