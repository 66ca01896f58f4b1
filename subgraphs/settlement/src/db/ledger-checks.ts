import { eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { ledgerEntries, postings } from '@paygraph/shared/ledger/read-model/tables';
import { heldHere } from '@paygraph/shared/control/index';
import { sweepOffsetIds } from './advance-store';
import { postingIdsPerStatementMax } from '../limits';

/**
 * Reconciliation's reads of one shard, each one statement (a consistent view of the shard).
 * Rows come back as raw records; BIGINT and SUM arrive as strings and become bigint here.
 */
type Rows<T> = [T[], unknown];

/**
 * Postings of the date whose entries here do not sum to zero in some currency (an FX posting moves
 * two, each netting to zero on its own), or whose live row has none here (a move's copy of a row
 * with its entries left out is not read back): Σ and count of the entries of
 * accounts this database holds (control's heldHere: a shard move's copies left out), and whether
 * the posting's own row is this database's (`live`). A posting is written on one database, but a
 * shard move takes its client accounts' entries and its row with their range and leaves the
 * entries of the database's system accounts (clearing, reserve) where they were: its parts are
 * then on two databases, each off by the other's, and reconciliation adds them up over every
 * database (domain/posting-sums.ts) before it calls a posting unbalanced.
 */
export async function postingSumsOff(
  db: Executor,
  businessDate: string,
): Promise<Array<{ postingId: string; currency: string; sum: bigint; entries: number; live: boolean }>> {
  const [rows] = (await db.execute(sql`
    SELECT p.id AS posting_id, COALESCE(e.currency, p.currency) AS currency, COALESCE(SUM(e.amount), 0) AS total,
      COUNT(e.account_id) AS n, (${sql.raw(heldHere('p.id'))}) AS live
    FROM postings p LEFT JOIN ledger_entries e ON e.posting_id = p.id AND ${sql.raw(heldHere('e.account_id'))}
    WHERE p.business_date = ${businessDate}
    GROUP BY p.id, COALESCE(e.currency, p.currency)
    HAVING total <> 0 OR (n = 0 AND live)`)) as unknown as Rows<PartRow & { live: string | number }>;
  return rows.map((r) => ({ ...partOf(r), live: Number(r.live) === 1 }));
}

/** A posting's part as the statements below answer it: Σ (a string) and count of its entries here, per currency. */
interface PartRow {
  posting_id: string;
  currency: string;
  total: string;
  n: string | number;
}

function partOf(r: PartRow): { postingId: string; currency: string; sum: bigint; entries: number } {
  return { postingId: r.posting_id, currency: r.currency, sum: BigInt(r.total), entries: Number(r.n) };
}

/**
 * The parts of these postings that are entries here with no posting row here (a shard move took an account of the
 * posting and left the posting's row on its database), of accounts this database holds (heldHere): what
 * postingSumsOff, which starts from the date's posting rows, does not see. By ledger_entries_posting_idx. Locks: none.
 */
export async function entrySumsWithoutPosting(
  db: Executor,
  postingIds: readonly string[],
): Promise<Array<{ postingId: string; currency: string; sum: bigint; entries: number }>> {
  const found: Array<{ postingId: string; currency: string; sum: bigint; entries: number }> = [];
  for (let i = 0; i < postingIds.length; i += postingIdsPerStatementMax)
    found.push(...(await entrySumsOf(db, postingIds.slice(i, i + postingIdsPerStatementMax))));
  return found;
}

async function entrySumsOf(
  db: Executor,
  postingIds: readonly string[],
): Promise<Array<{ postingId: string; currency: string; sum: bigint; entries: number }>> {
  const [rows] = (await db.execute(sql`
    SELECT e.posting_id, e.currency, SUM(e.amount) AS total, COUNT(*) AS n
    FROM ledger_entries e
    WHERE e.posting_id IN (${sql.join(
      postingIds.map((id) => sql`${id}`),
      sql`, `,
    )}) AND ${sql.raw(heldHere('e.account_id'))}
      AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.id = e.posting_id)
    GROUP BY e.posting_id, e.currency`)) as unknown as Rows<PartRow>;
  return rows.map(partOf);
}

/**
 * Accounts with entries on the date whose stored balances differ from Σ of their entries.
 *
 * The join order is fixed (STRAIGHT_JOIN) so the statement costs the date's entries plus the
 * lifetime entries of the accounts they touch, read by primary key, whatever the optimizer's
 * statistics say: the date's accounts are found once through postings' business_date index,
 * then each account's entries are one range of ledger_entries' primary key. The earlier form,
 * `account_id IN (SELECT DISTINCT …)` inside a grouped derived table, was planned on the test
 * databases into a statement that ran for minutes, server-side, after the client gave up.
 */
export async function balanceMismatchesOfDate(
  db: Executor,
  businessDate: string,
): Promise<Array<{ accountId: string; currency: string; stored: bigint; entries: bigint }>> {
  const [rows] = (await db.execute(sql`
    SELECT STRAIGHT_JOIN a.id AS account_id, a.currency, a.available + a.frozen + a.pending AS stored, SUM(e.amount) AS entries
    FROM (SELECT DISTINCT d.account_id FROM postings p JOIN ledger_entries d ON d.posting_id = p.id
          WHERE p.business_date = ${businessDate}) touched
    JOIN accounts a ON a.id = touched.account_id
    JOIN ledger_entries e ON e.account_id = touched.account_id
    GROUP BY a.id, a.currency, a.available, a.frozen, a.pending
    HAVING a.available <> SUM(CASE WHEN e.bucket = 'AVAILABLE' THEN e.amount ELSE 0 END)
        OR a.frozen <> SUM(CASE WHEN e.bucket = 'FROZEN' THEN e.amount ELSE 0 END)
        OR a.pending <> SUM(CASE WHEN e.bucket = 'PENDING' THEN e.amount ELSE 0 END)`)) as unknown as Rows<{
    account_id: string;
    currency: string;
    stored: string;
    entries: string;
  }>;
  return rows.map((r) => ({
    accountId: r.account_id,
    currency: r.currency,
    stored: BigInt(r.stored),
    entries: BigInt(r.entries),
  }));
}

/** Which of these dedupe keys have a posting on this shard. */
export async function postedKeys(db: Executor, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .select({ key: postings.dedupeKey })
    .from(postings)
    .where(inArray(postings.dedupeKey, [...keys]));
  return new Set(rows.flatMap((r) => (r.key ? [r.key] : [])));
}

/** The entries of the postings with these dedupe keys, by key. */
export async function entriesOfKeys(db: Executor, keys: readonly string[]) {
  if (keys.length === 0) return [];
  return db
    .select({
      key: postings.dedupeKey,
      accountId: ledgerEntries.accountId,
      bucket: ledgerEntries.bucket,
      amount: ledgerEntries.amount,
    })
    .from(ledgerEntries)
    .innerJoin(postings, eq(postings.id, ledgerEntries.postingId))
    .where(inArray(postings.dedupeKey, [...keys]));
}

/** Accounts with entries in postings of the date. */
export async function accountsTouchedOn(db: Executor, businessDate: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: ledgerEntries.accountId })
    .from(ledgerEntries)
    .innerJoin(postings, eq(postings.id, ledgerEntries.postingId))
    .where(eq(postings.businessDate, businessDate));
  return rows.map((r) => r.id);
}

/**
 * What the postings naming these movements (ref_id) hold in this shard's clearing, per currency:
 * a movement of many legs in flight has paid into clearing what it has not yet delivered.
 */
export async function clearingOfRefs(
  db: Executor,
  refIds: readonly string[],
): Promise<Array<{ currency: string; amount: bigint }>> {
  if (refIds.length === 0) return [];
  const [rows] = (await db.execute(sql`
    SELECT a.currency, COALESCE(SUM(e.amount), 0) AS total
    FROM ledger_entries e JOIN postings p ON p.id = e.posting_id JOIN accounts a ON a.id = e.account_id
    WHERE p.ref_id IN (${sql.join(
      refIds.map((id) => sql`${id}`),
      sql`, `,
    )}) AND a.system_kind = 'CLEARING'
    GROUP BY a.currency`)) as unknown as Rows<{ currency: string; total: string }>;
  return rows.map((r) => ({ currency: r.currency, amount: BigInt(r.total) }));
}

/**
 * Stripes whose outstanding advance is not what their pieces, settlement parts and refund offsets
 * say: Σ pieces not taken back − Σ what settlements covered − Σ what refunds repaid of them (a
 * reversal's negative offset takes out what they repaid of its piece). Each is
 * written in the local transaction that changes outstanding, so they always agree unless a row
 * was changed outside them.
 */
export async function outstandingMismatches(
  db: Executor,
): Promise<Array<{ stripeId: string; stored: bigint; expected: bigint }>> {
  const [rows] = (await db.execute(sql`
    SELECT o.stripe_account_id AS stripe_id, o.outstanding AS stored,
      COALESCE(p.total, 0) - COALESCE(s.total, 0) - COALESCE(r.total, 0) AS expected
    FROM advance_outstanding o
    LEFT JOIN (SELECT stripe_account_id, SUM(amount) AS total FROM advance_pieces WHERE reversed = FALSE GROUP BY stripe_account_id) p
      ON p.stripe_account_id = o.stripe_account_id
    LEFT JOIN (SELECT stripe_account_id, SUM(advanced_amount) AS total FROM settlement_parts GROUP BY stripe_account_id) s
      ON s.stripe_account_id = o.stripe_account_id
    LEFT JOIN (SELECT stripe_account_id, SUM(amount) AS total FROM advance_refund_offsets GROUP BY stripe_account_id) r
      ON r.stripe_account_id = o.stripe_account_id
    WHERE o.outstanding <> COALESCE(p.total, 0) - COALESCE(s.total, 0) - COALESCE(r.total, 0)`)) as unknown as Rows<{
    stripe_id: string;
    stored: string;
    expected: string;
  }>;
  return rows.map((r) => ({ stripeId: r.stripe_id, stored: BigInt(r.stored), expected: BigInt(r.expected) }));
}

/** One of a stripe's advance counters that is not what its records say. */
export interface CounterMismatch {
  stripeId: string;
  counter: 'covered' | 'moved';
  stored: bigint;
  expected: bigint;
}

/**
 * Stripes whose counters a piece records when it posts, and its reversal reads what they rose by since
 * (services/advance-pieces.ts), are not their records: covered (raised by each settlement part in its transaction) not
 * Σ their settlement parts' advancedAmount, or moved (changed by each move of pending beside its offset under the
 * sweep's id) not −Σ their sweeps' offsets. A counter changed outside its records would keep, or give back, a fee for
 * money no settlement covered, or take back too little or too much of a piece.
 */
export async function counterMismatches(db: Executor): Promise<CounterMismatch[]> {
  const [rows] = (await db.execute(sql`
    SELECT o.stripe_account_id AS stripe_id, 'covered' AS counter, o.covered AS stored, COALESCE(s.total, 0) AS expected
    FROM advance_outstanding o
    LEFT JOIN (SELECT stripe_account_id, SUM(advanced_amount) AS total FROM settlement_parts GROUP BY stripe_account_id) s
      ON s.stripe_account_id = o.stripe_account_id
    WHERE o.covered <> COALESCE(s.total, 0)
    UNION ALL
    SELECT o.stripe_account_id, 'moved', o.moved, COALESCE(-m.total, 0)
    FROM advance_outstanding o
    LEFT JOIN (SELECT stripe_account_id, SUM(amount) AS total FROM advance_refund_offsets
      WHERE refund_id LIKE ${sweepOffsetIds} GROUP BY stripe_account_id) m
      ON m.stripe_account_id = o.stripe_account_id
    WHERE o.moved <> COALESCE(-m.total, 0)
    ORDER BY stripe_id, counter`)) as unknown as Rows<{
    stripe_id: string;
    counter: CounterMismatch['counter'];
    stored: string;
    expected: string;
  }>;
  return rows.map((r) => ({
    stripeId: r.stripe_id,
    counter: r.counter,
    stored: BigInt(r.stored),
    expected: BigInt(r.expected),
  }));
}

/**
 * The date's ADVANCE postings that disagree with their piece: none recorded, or the stripe's
 * pending not lowered by exactly the piece's amount.
 */
export async function advancePostingMismatches(
  db: Executor,
  businessDate: string,
): Promise<Array<{ postingId: string; stripeId: string | null; recorded: bigint; moved: bigint }>> {
  const [rows] = (await db.execute(sql`
    SELECT p.id AS posting_id, pc.stripe_account_id AS stripe_id, COALESCE(pc.amount, 0) AS recorded,
      -COALESCE(SUM(CASE WHEN e.bucket = 'PENDING' AND e.account_id = pc.stripe_account_id THEN e.amount ELSE 0 END), 0) AS moved
    FROM postings p
    LEFT JOIN advance_pieces pc ON pc.posting_id = p.id
    LEFT JOIN ledger_entries e ON e.posting_id = p.id
    WHERE p.business_date = ${businessDate} AND p.kind = 'ADVANCE'
    GROUP BY p.id, pc.stripe_account_id, pc.amount
    HAVING pc.stripe_account_id IS NULL OR moved <> recorded`)) as unknown as Rows<{
    posting_id: string;
    stripe_id: string | null;
    recorded: string;
    moved: string;
  }>;
  return rows.map((r) => ({
    postingId: r.posting_id,
    stripeId: r.stripe_id,
    recorded: BigInt(r.recorded),
    moved: BigInt(r.moved),
  }));
}
