import { and, asc, eq, inArray, isNotNull, isNull, lt, or } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import type { Shard } from '@paygraph/shared/shards/pool';
import { inPostingTransaction } from '@paygraph/shared/shards/posting-transaction';
import { fenceRead, refuseUnlessOpen } from '@paygraph/shared/control/index';
import { externalAccounts, type ExternalAccountRow, type ExternalAccountStatus } from './schema/external-accounts';

/**
 * The SQL of external_accounts (on the owner's link shard) and external_account_claims (on a
 * card fingerprint's shard). Writes that must see the owner's links as they stand take the
 * owner's rows FOR UPDATE in one transaction (a link's count bound, its identity's uniqueness).
 */

export async function linksByIds(db: Executor, ids: readonly string[]): Promise<ExternalAccountRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(externalAccounts)
    .where(inArray(externalAccounts.id, [...ids]));
}

/** An owner's links in id (creation) order; bounded by externalAccountsPerOwnerMax. */
export async function linksOfOwner(db: Executor, ownerId: string): Promise<ExternalAccountRow[]> {
  return db
    .select()
    .from(externalAccounts)
    .where(eq(externalAccounts.ownerId, ownerId))
    .orderBy(asc(externalAccounts.id));
}

/**
 * Whether any link of the owner's was ever VERIFIED (verified_at set; an unlink keeps it), in any currency: what an
 * owner's own withdrawal naming no link is held to (services/external-accounts.ts `unnamedPayoutRefusal`). One
 * statement, LIMIT 1, on the owner index (owner_id, id): at most externalAccountsPerOwnerMax rows (the bound counts
 * unlinked links too), none for an owner without links; no index of its own, which every link write would pay for.
 */
export async function hasEverVerifiedLink(db: Executor, ownerId: string): Promise<boolean> {
  const rows = await db
    .select({ id: externalAccounts.id })
    .from(externalAccounts)
    .where(and(eq(externalAccounts.ownerId, ownerId), isNotNull(externalAccounts.verifiedAt)))
    .limit(1);
  return rows.length > 0;
}

/** The owner's links, locked (FOR UPDATE on the owner index range) until the transaction ends. */
export async function lockedLinksOfOwner(tx: Executor, ownerId: string): Promise<ExternalAccountRow[]> {
  return tx
    .select()
    .from(externalAccounts)
    .where(eq(externalAccounts.ownerId, ownerId))
    .orderBy(asc(externalAccounts.id))
    .for('update');
}

export async function insertLink(tx: Executor, row: typeof externalAccounts.$inferInsert): Promise<void> {
  await tx.insert(externalAccounts).values(row);
}

/** A link linked again after it was rejected or unlinked: PENDING once more, under its first id. */
export async function relink(tx: Executor, id: string, holderName: string | null): Promise<void> {
  await tx
    .update(externalAccounts)
    .set({ status: 'PENDING', decidedBy: null, decidedAt: null, holderName })
    .where(eq(externalAccounts.id, id));
}

/**
 * Moves a link from one status to another; false when it was not in `from` any more (someone else decided). A move to
 * VERIFIED sets verified_at too, which nothing clears.
 */
export async function moveLinkStatus(
  db: Executor,
  id: string,
  from: readonly ExternalAccountStatus[],
  to: ExternalAccountStatus,
  decided: { by: string; at: Date } | null,
): Promise<boolean> {
  const verified = to === 'VERIFIED' && decided !== null ? { verifiedAt: decided.at } : {};
  const set =
    decided === null ? { status: to } : { status: to, decidedBy: decided.by, decidedAt: decided.at, ...verified };
  const [result] = await db
    .update(externalAccounts)
    .set(set)
    .where(and(eq(externalAccounts.id, id), inArray(externalAccounts.status, [...from])));
  return result.affectedRows === 1;
}

/** Keeps a channel's report unless a newer one (a later asOf) is already there: newest asOf wins. */
export async function recordReportedBalance(db: Executor, id: string, balance: bigint, asOf: Date): Promise<void> {
  await db
    .update(externalAccounts)
    .set({ reportedBalance: balance, reportedAsOf: asOf })
    .where(
      and(
        eq(externalAccounts.id, id),
        or(isNull(externalAccounts.reportedAsOf), lt(externalAccounts.reportedAsOf, asOf)),
      ),
    );
}

/**
 * Claims a card for an owner on its fingerprint's shard and answers the owner that holds it:
 * the first claim wins (INSERT IGNORE on the primary key), every later one reads it.
 *
 * Under the fence where the write happens: a claim moves with its fingerprint's logical shard (`logical`, a hash:
 * scripts/lib/move-tables.ts), and one written on a source after the mover's copy read the table would be lost at the
 * target, where after cutover another owner could claim the same card. So the INSERT IGNORE, a share-mode read of
 * that logical shard's fence row and the holder's SELECT go in one transaction (BEGIN and the three in one round trip,
 * COMMIT in another), the claim's row first and the fence row after, as a key's claim takes them. Not open: rolled
 * back with FencedWrite (SHARD_UNAVAILABLE, retryable), nothing claimed; a mover's fence write waits for the COMMIT.
 */
export async function claimIdentity(
  shard: Shard,
  logical: number,
  identityKey: string,
  ownerId: string,
): Promise<string> {
  const rows = await inPostingTransaction(shard, async (tx) => {
    tx.hold('INSERT IGNORE INTO external_account_claims (identity_key, owner_id) VALUES (?, ?)', [
      identityKey,
      ownerId,
    ]);
    const [fences, holders] = await tx.queryMany([
      fenceRead([logical]),
      { sql: 'SELECT owner_id FROM external_account_claims WHERE identity_key = ?', values: [identityKey] },
    ]);
    refuseUnlessOpen(shard.name, fences!);
    return holders as Array<{ owner_id: string }>;
  });
  return rows[0]!.owner_id;
}

/**
 * Deletes an owner's claim of a card, on its fingerprint's shard: the owner's claim only (another owner's stays),
 * none left when there is none, so running it again changes nothing. Under the fence as claimIdentity, in its order
 * (the claim's row, then the fence row): a delete on a source after the mover's copy read the table would be lost at
 * the target, the card held there still. Not open: rolled back with FencedWrite (retryable), the claim kept.
 */
export async function releaseIdentity(
  shard: Shard,
  logical: number,
  identityKey: string,
  ownerId: string,
): Promise<void> {
  await inPostingTransaction(shard, async (tx) => {
    tx.hold('DELETE FROM external_account_claims WHERE identity_key = ? AND owner_id = ?', [identityKey, ownerId]);
    const [fences] = await tx.queryMany([fenceRead([logical])]);
    refuseUnlessOpen(shard.name, fences!);
  });
}
