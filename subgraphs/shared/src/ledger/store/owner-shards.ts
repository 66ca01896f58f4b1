import { and, eq, gt, sql } from 'drizzle-orm';
import { bigintOf, rawRows, rawWrite, type SqlTarget } from '../../db/raw';
import type { Executor, Tx } from '../../shards/transaction';
import type { Account } from '../rules/account';
import { accountColumns, accountOfRaw, type RawAccount } from './rows';
import { placedClause } from '../../db/placed';
import { ownerShards } from './schema';

/**
 * The owner directory's rows (rules/owner-directory.ts says what it is). Routing, not money:
 * written outside postings, with no seal.
 */

/**
 * Adds each mask's bits to its owner's row, making the rows there are none of: one statement.
 * Idempotent, so concurrent openings may both write a row. Locks: those owners' rows, until the
 * statement's transaction ends.
 */
export async function addOwnerShards(
  db: SqlTarget,
  masks: ReadonlyArray<{ ownerId: string; mask: bigint }>,
): Promise<void> {
  if (masks.length === 0) return;
  await rawWrite(
    db,
    `INSERT INTO owner_shards (owner_id, shards) VALUES ${masks.map(() => '(?, CAST(? AS UNSIGNED))').join(', ')} ` +
      'ON DUPLICATE KEY UPDATE shards = shards | VALUES(shards)',
    masks.flatMap((m) => [m.ownerId, m.mask.toString()]),
  );
}

/**
 * The owner's count of accounts opened: undefined without a row, null on a row from before the count
 * (schema.ts ownerShards). A primary-key read. Locks: none.
 */
export async function accountsOpenedOf(db: SqlTarget, ownerId: string): Promise<number | null | undefined> {
  const rows = await rawRows<{ accounts_opened: number | null }>(
    db,
    'SELECT accounts_opened FROM owner_shards WHERE owner_id = ?',
    [ownerId],
  );
  return rows.length === 0 ? undefined : rows[0]!.accounts_opened;
}

/**
 * The owner's row for an opening, made when missing (counting none: a new owner has no account) and
 * locked until the transaction ends: its count of accounts opened, null on a row from before the
 * count. ON DUPLICATE KEY UPDATE takes the row's exclusive lock at once, so two first openings of an
 * owner wait for each other instead of deadlocking on a shared lock's upgrade. Locks: the owner's row.
 */
export async function lockOwnerRow(tx: Tx, ownerId: string): Promise<number | null> {
  await tx
    .insert(ownerShards)
    .values({ ownerId, shards: 0n, accountsOpened: 0 })
    .onDuplicateKeyUpdate({ set: { shards: sql`${ownerShards.shards}` } });
  const [row] = await tx
    .select({ accountsOpened: ownerShards.accountsOpened })
    .from(ownerShards)
    .where(eq(ownerShards.ownerId, ownerId))
    .for('update');
  return row!.accountsOpened;
}

/** Adds `mask` to the owner's bits and sets its count, its row locked (lockOwnerRow). Locks: that row. */
export async function setOwnerAccounts(tx: Tx, ownerId: string, mask: bigint, accountsOpened: number): Promise<void> {
  await tx
    .update(ownerShards)
    .set({ shards: sql`${ownerShards.shards} | CAST(${mask.toString()} AS UNSIGNED)`, accountsOpened })
    .where(eq(ownerShards.ownerId, ownerId));
}

/** One account fewer in the owner's count (a counted row only). Locks: the owner's row, for the statement. */
export async function uncountOwnerAccount(db: Executor, ownerId: string): Promise<void> {
  await db
    .update(ownerShards)
    .set({ accountsOpened: sql`${ownerShards.accountsOpened} - 1` })
    .where(and(eq(ownerShards.ownerId, ownerId), gt(ownerShards.accountsOpened, 0)));
}

/**
 * The owner's client accounts on this shard (home rows: no stripe, no system account), of the logical shards `placed`
 * names (Placement.placedLogicals; null: all), so that a shard move's copies are not counted twice. The owner
 * index's range. Locks: none.
 */
export async function homeAccountCountOf(
  db: SqlTarget,
  ownerId: string,
  placed: readonly number[] | null,
): Promise<number> {
  const kept = placedClause('id', placed);
  const rows = await rawRows<{ n: number | string }>(
    db,
    `SELECT COUNT(*) AS n FROM accounts WHERE owner_id = ? AND parent_id IS NULL AND type <> 'SYSTEM'${kept.sql}`,
    [ownerId, ...kept.values],
  );
  return Number(rows[0]!.n);
}

/** The owner's directory bits (0 when it has no row: no account opened). A primary-key read. Locks: none. */
export async function ownerShardsOf(db: SqlTarget, ownerId: string): Promise<bigint> {
  const rows = await rawRows<{ shards: string | number | bigint }>(
    db,
    'SELECT shards FROM owner_shards WHERE owner_id = ?',
    [ownerId],
  );
  return rows.length === 0 ? 0n : bigintOf(rows[0]!.shards);
}

/**
 * Client accounts on this shard (home rows: no stripe, no system account) after `afterOwnerId`, as
 * (owner, logical shard of the id) pairs, for the directory's backfill: the owner index's
 * range. Locks: none.
 */
export async function ownerShardPairsPage(
  db: SqlTarget,
  afterOwnerId: string,
  limit: number,
): Promise<Array<{ ownerId: string; logicalHex: string }>> {
  const rows = await rawRows<{ owner_id: string; logical_hex: string }>(
    db,
    "SELECT DISTINCT owner_id, RIGHT(id, 2) AS logical_hex FROM accounts WHERE owner_id > ? AND parent_id IS NULL AND type <> 'SYSTEM' ORDER BY owner_id LIMIT ?",
    [afterOwnerId, limit],
  );
  return rows.map((r) => ({ ownerId: r.owner_id, logicalHex: r.logical_hex }));
}

/**
 * Every client account of the owner on this shard (home rows: stripes and system accounts
 * excluded), in id order, at most `limit`: the owner index's range. Only those of the logical
 * shards `held` names (Placement.placedLogicals; null: all): a shard move leaves a range's
 * rows on its source as copies until its clean (for good with --keep-source), and a target holds an
 * arriving range's before the switch; a copy read beside the live row showed a balance that was no
 * longer the account's, and took a place of `limit`. Locks: none.
 */
export async function homeAccountsOfOwner(
  db: SqlTarget,
  ownerId: string,
  limit: number,
  placed: readonly number[] | null,
): Promise<Account[]> {
  const kept = placedClause('id', placed);
  const rows = await rawRows<RawAccount>(
    db,
    `SELECT ${accountColumns} FROM accounts WHERE owner_id = ? AND parent_id IS NULL${kept.sql} ORDER BY id LIMIT ?`,
    [ownerId, ...kept.values, limit],
  );
  return rows.map(accountOfRaw);
}
