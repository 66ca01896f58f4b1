import { eq, sql } from 'drizzle-orm';
import type { Executor } from '../../shards/transaction';
import type { SystemKind } from '../rules/account';
import { accounts, ledgerEntries } from './schema';

/**
 * The figures the ledger's health (../health.ts) and reconciliation check: per-shard totals and
 * the accounts whose balances disagree with their entries. None locks: each is one statement, so
 * it reads one consistent snapshot of its shard while postings commit.
 */

/** Per currency: Σ of this shard's clearing balances (credit-positive: owed to other shards). Locks: none. */
export function clearingTotals(db: Executor): Promise<Array<{ currency: string; amount: bigint }>> {
  return systemTotals(db, 'CLEARING');
}

/** Per currency: Σ of this shard's system accounts of one kind (clearing, FX positions…), credit-positive. Locks: none. */
export async function systemTotals(
  db: Executor,
  kind: SystemKind,
): Promise<Array<{ currency: string; amount: bigint }>> {
  const rows = await db
    .select({
      currency: accounts.currency,
      amount: sql<string>`COALESCE(SUM(${accounts.available} + ${accounts.frozen} + ${accounts.pending}), 0)`,
    })
    .from(accounts)
    .where(eq(accounts.systemKind, kind))
    .groupBy(accounts.currency);
  return rows.map((r) => ({ currency: r.currency, amount: BigInt(r.amount) }));
}

/** Per currency on this shard: Σ debits, Σ credits of every entry (they must cancel). Locks: none. */
export async function entryTotals(db: Executor): Promise<Array<{ currency: string; debits: bigint; credits: bigint }>> {
  const rows = await db
    .select({
      currency: ledgerEntries.currency,
      debits: sql<string>`COALESCE(SUM(CASE WHEN ${ledgerEntries.amount} < 0 THEN -${ledgerEntries.amount} ELSE 0 END), 0)`,
      credits: sql<string>`COALESCE(SUM(CASE WHEN ${ledgerEntries.amount} > 0 THEN ${ledgerEntries.amount} ELSE 0 END), 0)`,
    })
    .from(ledgerEntries)
    .groupBy(ledgerEntries.currency);
  return rows.map((r) => ({ currency: r.currency, debits: BigInt(r.debits), credits: BigInt(r.credits) }));
}

/**
 * Accounts whose stored balances differ from Σ of their entries (per bucket), or whose
 * entry sequence has a gap or disagrees with last_sequence.
 * Locks: none.
 */
export async function balanceMismatches(
  db: Executor,
): Promise<Array<{ accountId: string; stored: bigint; entries: bigint }>> {
  const rows = await db.execute(sql`
    SELECT a.id AS account_id, a.available + a.frozen + a.pending AS stored, COALESCE(e.total, 0) AS entries
    FROM accounts a
    LEFT JOIN (SELECT account_id, SUM(amount) AS total, COUNT(*) AS n, MAX(sequence) AS top,
                      SUM(CASE WHEN bucket = 'AVAILABLE' THEN amount ELSE 0 END) AS available,
                      SUM(CASE WHEN bucket = 'FROZEN' THEN amount ELSE 0 END) AS frozen,
                      SUM(CASE WHEN bucket = 'PENDING' THEN amount ELSE 0 END) AS pending
               FROM ledger_entries GROUP BY account_id) e ON e.account_id = a.id
    WHERE a.available <> COALESCE(e.available, 0) OR a.frozen <> COALESCE(e.frozen, 0)
       OR a.pending <> COALESCE(e.pending, 0)
       OR a.last_sequence <> COALESCE(e.top, 0) OR COALESCE(e.n, 0) <> COALESCE(e.top, 0)`);
  const list = (rows as unknown as [Array<{ account_id: string; stored: string; entries: string }>])[0];
  return list.map((r) => ({ accountId: r.account_id, stored: BigInt(r.stored), entries: BigInt(r.entries) }));
}
