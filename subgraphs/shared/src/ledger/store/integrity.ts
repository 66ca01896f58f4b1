import { asc, gt, inArray } from 'drizzle-orm';
import type { Executor } from '../../shards/transaction';
import { accounts, ledgerEntries } from './schema';
import { accountSealIntact, entryHash } from '../rules/tamper';
import { pushTo } from '../../collections';
import { verifyAccountPageSize } from '../../limits';

export type IntegrityFinding =
  | { kind: 'ACCOUNT_MAC_INVALID'; accountId: string }
  | { kind: 'ENTRY_HASH_INVALID'; accountId: string; sequence: bigint }
  | { kind: 'ENTRY_CHAIN_BROKEN'; accountId: string; sequence: bigint }
  | { kind: 'CHAIN_HEAD_MISMATCH'; accountId: string };

/**
 * Checks accounts' MACs and their entries' hash chains. An edited entry fails its hash; an
 * inserted or deleted one breaks the chain (each entry names its predecessor's hash, and the
 * account row, under its MAC, names the newest); an edited account row fails its MAC.
 * Locks: none.
 */
export async function verifyAccounts(db: Executor, accountIds: readonly string[]): Promise<IntegrityFinding[]> {
  if (accountIds.length === 0) return [];
  const rows = await db
    .select()
    .from(accounts)
    .where(inArray(accounts.id, [...accountIds]));
  const entries = await db
    .select()
    .from(ledgerEntries)
    .where(inArray(ledgerEntries.accountId, [...accountIds]))
    .orderBy(asc(ledgerEntries.accountId), asc(ledgerEntries.sequence));
  const byAccount = new Map<string, typeof entries>();
  for (const e of entries) pushTo(byAccount, e.accountId, e);
  const findings: IntegrityFinding[] = [];
  for (const row of rows) {
    if (!accountSealIntact(row, row)) findings.push({ kind: 'ACCOUNT_MAC_INVALID', accountId: row.id });
    let previous = '';
    let expected = 1n;
    for (const entry of byAccount.get(row.id) ?? []) {
      if (entry.sequence !== expected || entry.prevHash !== previous)
        findings.push({ kind: 'ENTRY_CHAIN_BROKEN', accountId: row.id, sequence: entry.sequence });
      if (entryHash(entry) !== entry.hash)
        findings.push({ kind: 'ENTRY_HASH_INVALID', accountId: row.id, sequence: entry.sequence });
      previous = entry.hash;
      expected = entry.sequence + 1n;
    }
    if (previous !== row.lastEntryHash || expected - 1n !== row.lastSequence)
      findings.push({ kind: 'CHAIN_HEAD_MISMATCH', accountId: row.id });
  }
  return findings;
}

/** Every account of a shard, a page at a time. Locks: none. */
export async function verifyShard(
  db: Executor,
): Promise<{ accounts: number; entries: number; findings: IntegrityFinding[] }> {
  const findings: IntegrityFinding[] = [];
  let after = '';
  let accountCount = 0;
  let entryCount = 0;
  for (;;) {
    const page = await db
      .select({ id: accounts.id, n: accounts.lastSequence })
      .from(accounts)
      .where(after ? gt(accounts.id, after) : undefined)
      .orderBy(asc(accounts.id))
      .limit(verifyAccountPageSize);
    if (page.length === 0) break;
    findings.push(
      ...(await verifyAccounts(
        db,
        page.map((p) => p.id),
      )),
    );
    accountCount += page.length;
    entryCount += page.reduce((n, p) => n + Number(p.n), 0);
    after = page.at(-1)!.id;
  }
  return { accounts: accountCount, entries: entryCount, findings };
}
