import { eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/db/ledger-store';
import { ledgerEntries, postings } from '@paygraph/shared/db/schema/ledger';

/**
 * Reconciliation's reads of one shard, each one statement (a consistent view of the shard).
 * Rows come back as raw records; BIGINT and SUM arrive as strings and become bigint here.
 */
type Rows<T> = [T[], unknown];

/**
 * Postings of the date whose entries do not sum to zero in some currency (an FX posting moves
 * two, each netting to zero on its own), or that have no entries at all.
 */
export async function unbalancedPostings(db: Executor, businessDate: string): Promise<Array<{ postingId: string; currency: string; sum: bigint }>> {
  const [rows] = (await db.execute(sql`
    SELECT p.id AS posting_id, COALESCE(e.currency, p.currency) AS currency, COALESCE(SUM(e.amount), 0) AS total, COUNT(e.account_id) AS n
    FROM postings p LEFT JOIN ledger_entries e ON e.posting_id = p.id
    WHERE p.business_date = ${businessDate}
    GROUP BY p.id, COALESCE(e.currency, p.currency)
    HAVING total <> 0 OR n = 0`)) as unknown as Rows<{ posting_id: string; currency: string; total: string }>;
  return rows.map((r) => ({ postingId: r.posting_id, currency: r.currency, sum: BigInt(r.total) }));
}

/** Accounts with entries on the date whose stored balances differ from Σ of their entries. */
export async function balanceMismatchesOfDate(db: Executor, businessDate: string): Promise<Array<{ accountId: string; currency: string; stored: bigint; entries: bigint }>> {
  const [rows] = (await db.execute(sql`
    SELECT a.id AS account_id, a.currency, a.available + a.frozen + a.pending AS stored, e.total AS entries
    FROM accounts a
    JOIN (SELECT account_id, SUM(amount) AS total,
                 SUM(CASE WHEN bucket = 'AVAILABLE' THEN amount ELSE 0 END) AS available,
                 SUM(CASE WHEN bucket = 'FROZEN' THEN amount ELSE 0 END) AS frozen,
                 SUM(CASE WHEN bucket = 'PENDING' THEN amount ELSE 0 END) AS pending
          FROM ledger_entries
          WHERE account_id IN (SELECT DISTINCT e2.account_id FROM ledger_entries e2
                               JOIN postings p ON p.id = e2.posting_id WHERE p.business_date = ${businessDate})
          GROUP BY account_id) e ON e.account_id = a.id
    WHERE a.available <> e.available OR a.frozen <> e.frozen OR a.pending <> e.pending`)) as unknown as Rows<{
    account_id: string; currency: string; stored: string; entries: string;
  }>;
  return rows.map((r) => ({ accountId: r.account_id, currency: r.currency, stored: BigInt(r.stored), entries: BigInt(r.entries) }));
}

/** Which of these dedupe keys have a posting on this shard. */
export async function postedKeys(db: Executor, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db.select({ key: postings.dedupeKey }).from(postings).where(inArray(postings.dedupeKey, [...keys]));
  return new Set(rows.flatMap((r) => (r.key ? [r.key] : [])));
}

/** The entries of the postings with these dedupe keys, by key. */
export async function entriesOfKeys(db: Executor, keys: readonly string[]) {
  if (keys.length === 0) return [];
  return db.select({ key: postings.dedupeKey, accountId: ledgerEntries.accountId, bucket: ledgerEntries.bucket, amount: ledgerEntries.amount })
    .from(ledgerEntries).innerJoin(postings, eq(postings.id, ledgerEntries.postingId))
    .where(inArray(postings.dedupeKey, [...keys]));
}

/** Accounts with entries in postings of the date. */
export async function accountsTouchedOn(db: Executor, businessDate: string): Promise<string[]> {
  const rows = await db.selectDistinct({ id: ledgerEntries.accountId }).from(ledgerEntries)
    .innerJoin(postings, eq(postings.id, ledgerEntries.postingId)).where(eq(postings.businessDate, businessDate));
  return rows.map((r) => r.id);
}

/**
 * What the postings naming these movements (ref_id) hold in this shard's clearing, per currency:
 * a movement of many legs in flight has paid into clearing what it has not yet delivered.
 */
export async function clearingOfRefs(db: Executor, refIds: readonly string[]): Promise<Array<{ currency: string; amount: bigint }>> {
  if (refIds.length === 0) return [];
  const [rows] = (await db.execute(sql`
    SELECT a.currency, COALESCE(SUM(e.amount), 0) AS total
    FROM ledger_entries e JOIN postings p ON p.id = e.posting_id JOIN accounts a ON a.id = e.account_id
    WHERE p.ref_id IN (${sql.join(refIds.map((id) => sql`${id}`), sql`, `)}) AND a.system_kind = 'CLEARING'
    GROUP BY a.currency`)) as unknown as Rows<{ currency: string; total: string }>;
  return rows.map((r) => ({ currency: r.currency, amount: BigInt(r.total) }));
}
