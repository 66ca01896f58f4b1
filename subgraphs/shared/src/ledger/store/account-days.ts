import type { PostingTx } from '../../shards/posting-transaction';
import type { DayIncrement } from '../rules/account-days';
import type { AccountBalances } from '../rules/account';
import { accountDays } from './schema';
import { bigintOf, insertRows, rawRows, rawRowSets, type SqlTarget } from '../../db/raw';

type Executor = SqlTarget;

/**
 * The daily summary's SQL. Rows are keyed (account_id, business_date), so every read here is
 * a range of the primary key on one shard: a year's statement reads at most 366 rows per
 * stripe, however many entries the account has.
 */

const addToDay = `ON DUPLICATE KEY UPDATE ${[
  ...['credits', 'debits', 'entry_count', 'available_net', 'frozen_net', 'pending_net'].map(
    (c) => `${c} = ${c} + VALUES(${c})`,
  ),
  'first_sequence = LEAST(first_sequence, VALUES(first_sequence))',
  'last_sequence = GREATEST(last_sequence, VALUES(last_sequence))',
].join(', ')}`;

/**
 * Posting only: adds the increments to their rows (creating the rows of a first entry on a
 * date), in the posting's transaction. Every account involved is locked FOR UPDATE by then, so
 * no other transaction writes these rows meanwhile. `hold` sends it with the next statement.
 * Locks: those (account_id, business_date) rows, exclusively, until the posting commits.
 */
export async function addDayIncrements(
  tx: PostingTx,
  increments: readonly DayIncrement[],
  options: { hold: boolean },
): Promise<void> {
  await insertRows(tx, accountDays, increments, { suffix: addToDay, hold: options.hold });
}

export interface DayTotalsRow {
  businessDate: string;
  credits: bigint;
  debits: bigint;
  entryCount: bigint;
}

/**
 * For the accounts (one account, or a merchant's stripes on this shard): Σ(credits − debits)
 * of every date before `from`, and each date's row from `from` to `to`. One round trip.
 * Locks: none.
 */
export async function statementDays(
  db: Executor,
  accountIds: readonly string[],
  from: string,
  to: string,
): Promise<{ opening: bigint; days: DayTotalsRow[] }> {
  const [before, range] = (await rawRowSets(db, [
    {
      sql: 'SELECT COALESCE(SUM(credits - debits), 0) AS opening FROM account_days WHERE account_id IN (?) AND business_date < ?',
      values: [accountIds, from],
    },
    {
      sql: `SELECT DATE_FORMAT(business_date, '%Y-%m-%d') AS d, credits, debits, entry_count AS n FROM account_days
            WHERE account_id IN (?) AND business_date BETWEEN ? AND ?`,
      values: [accountIds, from, to],
    },
  ])) as [Array<{ opening: string }>, Array<{ d: string; credits: string; debits: string; n: string }>];
  return {
    opening: bigintOf(before[0]!.opening),
    days: range.map((r) => ({
      businessDate: r.d,
      credits: bigintOf(r.credits),
      debits: bigintOf(r.debits),
      entryCount: bigintOf(r.n),
    })),
  };
}

/**
 * The accounts' balances per bucket as of `at`, whose business date is `date`: every earlier
 * date whole from the summary, then the date's own entries up to `at`. Those are found within
 * the date's sequence range (the summary's first and last sequence) and by their posting's
 * business date, so the read is bounded by one date's entries. Entries of an earlier date are
 * all older than `at` and those of a later date all newer, because a business date only grows
 * with the instant.
 * Locks: none.
 */
export async function bucketsAt(
  db: Executor,
  accountIds: readonly string[],
  date: string,
  at: Date,
): Promise<AccountBalances> {
  const [before, sameDay] = (await rawRowSets(db, [
    {
      sql: `SELECT COALESCE(SUM(available_net), 0) AS a, COALESCE(SUM(frozen_net), 0) AS f, COALESCE(SUM(pending_net), 0) AS p
            FROM account_days WHERE account_id IN (?) AND business_date < ?`,
      values: [accountIds, date],
    },
    {
      sql: `SELECT e.bucket AS b, SUM(e.amount) AS s FROM account_days d
            JOIN ledger_entries e ON e.account_id = d.account_id AND e.sequence BETWEEN d.first_sequence AND d.last_sequence
            JOIN postings p ON p.id = e.posting_id
            WHERE d.account_id IN (?) AND d.business_date = ? AND p.business_date = ? AND e.created_at <= ?
            GROUP BY e.bucket`,
      values: [accountIds, date, date, at],
    },
  ])) as [Array<{ a: string; f: string; p: string }>, Array<{ b: 'AVAILABLE' | 'FROZEN' | 'PENDING'; s: string }>];
  const totals = { available: bigintOf(before[0]!.a), frozen: bigintOf(before[0]!.f), pending: bigintOf(before[0]!.p) };
  for (const row of sameDay) {
    if (row.b === 'AVAILABLE') totals.available += bigintOf(row.s);
    else if (row.b === 'FROZEN') totals.frozen += bigintOf(row.s);
    else totals.pending += bigintOf(row.s);
  }
  return totals;
}

/**
 * Accounts whose summary rows differ from their entries (per date: credits, debits, count,
 * bucket nets, sequence range), or that have entries on a date without a row: the summary is
 * written with the entries, so any row here is a bug or a change made outside the ledger.
 * Locks: none.
 */
export async function daySummaryMismatches(
  db: Executor,
  accountIds: readonly string[] | null = null,
): Promise<Array<{ accountId: string; businessDate: string }>> {
  const scope = accountIds ? 'WHERE e.account_id IN (?)' : '';
  const rows = await rawRows<{ a: string; d: string }>(
    db,
    `
    SELECT COALESCE(x.account_id, s.account_id) AS a, DATE_FORMAT(COALESCE(x.business_date, s.business_date), '%Y-%m-%d') AS d FROM (
      SELECT e.account_id, p.business_date,
        SUM(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END) AS credits, -SUM(CASE WHEN e.amount < 0 THEN e.amount ELSE 0 END) AS debits,
        COUNT(*) AS n, SUM(CASE WHEN e.bucket = 'AVAILABLE' THEN e.amount ELSE 0 END) AS an,
        SUM(CASE WHEN e.bucket = 'FROZEN' THEN e.amount ELSE 0 END) AS fn, SUM(CASE WHEN e.bucket = 'PENDING' THEN e.amount ELSE 0 END) AS pn,
        MIN(e.sequence) AS lo, MAX(e.sequence) AS hi
      FROM ledger_entries e JOIN postings p ON p.id = e.posting_id ${scope}
      GROUP BY e.account_id, p.business_date) x
    LEFT JOIN account_days s ON s.account_id = x.account_id AND s.business_date = x.business_date
    WHERE s.account_id IS NULL OR s.credits <> x.credits OR s.debits <> x.debits OR s.entry_count <> x.n
       OR s.available_net <> x.an OR s.frozen_net <> x.fn OR s.pending_net <> x.pn
       OR s.first_sequence <> x.lo OR s.last_sequence <> x.hi`,
    accountIds ? [accountIds] : [],
  );
  return rows.map((r) => ({ accountId: r.a, businessDate: r.d }));
}
