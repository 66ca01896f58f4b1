import { and, asc, eq, getTableColumns, gt, gte, lte, sql } from 'drizzle-orm';
import type { Executor } from '../../shards/transaction';
import type { Shard } from '../../shards/pool';
import type { Account, AccountBalances } from '../rules/account';
import { accounts, ledgerEntries, type EntryLine, type EntryRow } from './schema';
import { rawRows, rawRowSets, type SqlTarget } from '../../db/raw';
import { accountColumns, accountOfRaw, entryLineColumns, entryLineOf, type RawAccount, type RawEntry } from './rows';

/**
 * Reads of ledger_entries: an account's pages (newest first), a stripe's entries from a sequence
 * (balance streams) and a stripe's balance after one. Entries are append-only and written only by
 * a posting (postings.ts), so none of these reads locks: each is a range of the primary key
 * (account_id, sequence) on one shard, or a lookup by the entry's unique id.
 */

/** The newest `limit` entries of one account row, asked for beside the account's own read. */
export interface HeadPageRequest {
  accountId: string;
  limit: number;
}

/**
 * Accounts by id (as accountsAndStripes reads them) and, in the same round trip, the newest
 * entries of some of them (as entriesPage reads them): a PERSONAL account and its first page of
 * entries in one round trip instead of two, which was a quarter of the account subgraph's CPU
 * per GetAccount (docs/PERFORMANCE.md, "Reads").
 * Locks: none.
 */
export async function accountsWithHeadPages(
  db: SqlTarget,
  ids: readonly string[],
  pages: readonly HeadPageRequest[],
): Promise<{ accounts: Account[]; headPages: Map<string, EntryLine[]> }> {
  if (ids.length === 0) return { accounts: [], headPages: new Map() };
  const [accountRows, ...pageRows] = await rawRowSets(db, [
    { sql: `SELECT ${accountColumns} FROM accounts WHERE id IN (?)`, values: [ids] },
    ...pages.map((p) => ({ sql: newestEntriesSql, values: [p.accountId, p.limit] })),
  ]);
  const headPages = new Map(pages.map((p, i) => [p.accountId, (pageRows[i] as RawEntry[]).map(entryLineOf)]));
  return { accounts: (accountRows as RawAccount[]).map(accountOfRaw), headPages };
}

const newestEntriesSql = `SELECT ${entryLineColumns} FROM ledger_entries WHERE account_id = ? ORDER BY sequence DESC LIMIT ?`;

/**
 * Newest first: an account's entries below `beforeSequence` (all when null), newest first, at most `limit`:
 * a range read of the primary key. Hand-written (see accountsByOwner): a GetAccount page of
 * 100 entries spent more CPU in drizzle's query building and row mapping than in mysql2.
 * Locks: none.
 */
export async function entriesPage(
  db: SqlTarget,
  accountId: string,
  beforeSequence: bigint | null,
  limit: number,
): Promise<EntryLine[]> {
  const rows =
    beforeSequence === null
      ? await rawRows<RawEntry>(db, newestEntriesSql, [accountId, limit])
      : await rawRows<RawEntry>(
          db,
          `SELECT ${entryLineColumns} FROM ledger_entries WHERE account_id = ? AND sequence < ? ORDER BY sequence DESC LIMIT ?`,
          [accountId, beforeSequence.toString(), limit],
        );
  return rows.map(entryLineOf);
}

/** A stripe's entries from a sequence on (that one included), oldest first. Locks: none. */
export async function entriesFrom(db: Executor, stripeId: string, from: bigint, limit: number): Promise<EntryRow[]> {
  return db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.accountId, stripeId), gte(ledgerEntries.sequence, from)))
    .orderBy(asc(ledgerEntries.sequence))
    .limit(limit);
}

/** A stripe's entries with after < sequence ≤ upTo, oldest first. Locks: none. */
export async function entriesBetween(db: Executor, stripeId: string, after: bigint, upTo: bigint): Promise<EntryRow[]> {
  return db
    .select()
    .from(ledgerEntries)
    .where(
      and(eq(ledgerEntries.accountId, stripeId), gt(ledgerEntries.sequence, after), lte(ledgerEntries.sequence, upTo)),
    )
    .orderBy(asc(ledgerEntries.sequence));
}

/** An entry by its id (ledger_entries_id_uq). Locks: none. */
export async function entryById(db: Executor, id: string): Promise<EntryRow | undefined> {
  const rows = await db.select().from(ledgerEntries).where(eq(ledgerEntries.id, id));
  return rows[0];
}

/**
 * The feed's read on one shard, in ONE statement however many stripes it asks for: for each
 * stripe, up to `perStripe` entries after the sequence the feed already knows, oldest first per
 * stripe. A stripe's sequences are consecutive (1, 2, 3…), so "the next perStripe entries" is
 * the key range after < sequence ≤ after + perStripe: the statement is one range read of the
 * primary key with a range per stripe (ordered by the key itself, no sort), where a UNION ALL of
 * a LIMITed subquery per stripe cost MySQL about twice as long at 250 stripes (measured on this
 * machine, 200 statements each, under load: 15–18 ms against 35–50 ms a statement).
 *
 * Written by hand (db/raw.ts) rather than with drizzle's builder, whose per-chunk checks cost
 * more than the statement is worth when it names hundreds of stripes several times a second.
 * Locks: none.
 */
export async function tailEntries(
  shard: Shard,
  tails: ReadonlyArray<{ stripeId: string; after: bigint }>,
  perStripe: number,
): Promise<EntryRow[]> {
  if (tails.length === 0) return [];
  const ranges = tails.map(() => '(account_id = ? AND sequence > ? AND sequence <= ?)').join(' OR ');
  const values = tails.flatMap((t) => [t.stripeId, t.after, t.after + BigInt(perStripe)]);
  const rows = await rawRows<Record<string, unknown>>(
    shard,
    `SELECT * FROM ledger_entries WHERE ${ranges} ORDER BY account_id, sequence`,
    values,
  );
  return rows.map(toEntryRow);
}

const entryTableColumns = getTableColumns(ledgerEntries);

/** A raw row as the table's own columns map it (BIGINT to bigint, DATETIME to Date), whatever columns it has. */
function toEntryRow(raw: Record<string, unknown>): EntryRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(entryTableColumns)) {
    const value = raw[column.name];
    // mysql2 hands DATETIME over as a Date already (the pools' timezone is UTC); drizzle's own
    // reads get a string, which is what mapFromDriverValue parses.
    row[key] =
      value === null || value === undefined || value instanceof Date ? value : column.mapFromDriverValue(value);
  }
  return row as EntryRow;
}

/**
 * A stripe's balance right after `sequence`: its balances now minus every later entry, in one
 * statement, so the balances and the entries come from one consistent read even while
 * postings commit. undefined when there is no such stripe; lastSequence says how far its
 * ledger went at that read, so a sequence beyond it can be refused.
 * Locks: none.
 */
export async function bucketsAfterSequence(
  db: Executor,
  stripeId: string,
  sequence: bigint,
): Promise<{ buckets: AccountBalances; lastSequence: bigint } | undefined> {
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
