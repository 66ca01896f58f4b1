import { and, eq, inArray, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm';
import { shardOf } from '../../ids';
import type { Executor, Tx } from '../../shards/transaction';
import { accountSealIntact, sealAccount, TamperDetected } from '../rules/tamper';
import type { Account, AccountStatus, SystemKind } from '../rules/account';
import { accounts, type AccountRow } from './schema';
import { bigintOf, rawRows, rawWrite, type SqlTarget } from '../../db/raw';
import { accountColumns, accountOfRaw, accountOfRow, type RawAccount } from './rows';
import { placedClause } from '../../db/placed';

/**
 * The accounts table outside a posting: opening rows (clients', system accounts, stripes), the
 * stripe directory, status and credit limit, and reads. Balances are never written here: only a
 * posting moves them (postings.ts). Each function says what it locks; "no lock" is a plain read
 * under REPEATABLE READ (a snapshot, or the latest committed rows outside a transaction).
 */

/** A new account row, sealed: zero balances, no entries, version 0 unless given. */
function sealed(row: typeof accounts.$inferInsert): typeof accounts.$inferInsert {
  const full = {
    id: row.id,
    currency: row.currency,
    status: row.status ?? 'ACTIVE',
    available: row.available ?? 0n,
    frozen: row.frozen ?? 0n,
    pending: row.pending ?? 0n,
    lastSequence: row.lastSequence ?? 0n,
    lastEntryHash: row.lastEntryHash ?? '',
    version: row.version ?? 0n,
    creditLimit: row.creditLimit ?? null,
  };
  return { ...row, ...full, ...sealAccount(full) };
}

/**
 * Opens an account row, sealed. Locks: the new row (its primary key and unique index entries),
 * exclusively, until the caller's transaction ends (the statement, on a shard's db).
 */
export async function insertAccount(db: Executor, row: typeof accounts.$inferInsert): Promise<void> {
  await db.insert(accounts).values(sealed(row));
}

/**
 * The accounts with these ids on this shard, plus every stripe whose parent is one of them, in
 * one statement: a primary-key read, a parent_id read (accounts_parent_idx), or both. Locks: none.
 */
export async function accountsAndStripes(
  db: SqlTarget,
  localIds: readonly string[],
  parentIds: readonly string[],
): Promise<Account[]> {
  const where = [...(localIds.length > 0 ? ['id IN (?)'] : []), ...(parentIds.length > 0 ? ['parent_id IN (?)'] : [])];
  if (where.length === 0) return [];
  const values = [...(localIds.length > 0 ? [localIds] : []), ...(parentIds.length > 0 ? [parentIds] : [])];
  const rows = await rawRows<RawAccount>(
    db,
    `SELECT ${accountColumns} FROM accounts WHERE ${where.join(' OR ')}`,
    values,
  );
  return rows.map(accountOfRaw);
}

/**
 * One statement per shard for an owner's page: the owner's accounts after the cursor (stripes
 * excluded) in id order, at most `limit`, and all of the owner's stripes on this shard so that
 * merchant balances need no second query. Hand-written like accountsAndStripes: drizzle's
 * builder (a union of two selects, built per call) and its row mapping, with entriesPage's,
 * were 21% of the account subgraph's CPU on the read benchmark (docs/PERFORMANCE.md, "Reads").
 * Only the rows of the logical shards `placed` names (Placement.placedLogicals; null: all): a
 * shard move's copies, left on its source or arriving on its target, listed an account twice, one
 * of them stale, and took the page's places. Locks: none.
 */
export async function accountsByOwner(
  db: SqlTarget,
  ownerId: string,
  afterId: string | null,
  limit: number,
  placed: readonly number[] | null,
): Promise<Account[]> {
  const after = afterId === null ? '' : ' AND id > ?';
  const kept = placedClause('id', placed);
  const rows = await rawRows<RawAccount>(
    db,
    `(SELECT ${accountColumns} FROM accounts WHERE owner_id = ? AND parent_id IS NULL${after}${kept.sql} ` +
      `ORDER BY id LIMIT ?) UNION ALL ` +
      `(SELECT ${accountColumns} FROM accounts WHERE owner_id = ? AND parent_id IS NOT NULL${kept.sql})`,
    [ownerId, ...(afterId === null ? [] : [afterId]), ...kept.values, limit, ownerId, ...kept.values],
  );
  return rows.map(accountOfRaw);
}

/**
 * The shard's system account of an entity, kind and currency (and counterparty, for an
 * intercompany account), by accounts_system_entity_uq. Locks: none.
 */
export async function systemAccount(
  db: Executor,
  kind: SystemKind,
  currency: string,
  entity = 'PLATFORM',
  counterpartyEntity = '',
): Promise<Account | undefined> {
  const rows = await db
    .select()
    .from(accounts)
    .where(
      and(
        eq(accounts.entity, entity),
        eq(accounts.systemKind, kind),
        eq(accounts.currency, currency),
        eq(accounts.counterpartyEntity, counterpartyEntity),
      ),
    )
    .limit(1);
  return rows[0] && accountOfRow(rows[0]);
}

/**
 * Inserts the system account unless another process got there first (unique entity+kind+currency+counterparty).
 * Locks: the new row, or the one already there (a no-op update), exclusively, for the statement.
 */
export async function insertSystemAccountIfMissing(db: Executor, row: typeof accounts.$inferInsert): Promise<void> {
  await db
    .insert(accounts)
    .values(sealed(row))
    .onDuplicateKeyUpdate({ set: { id: sql`${sql.identifier('id')}` } });
}

/**
 * Opens a merchant's stripe unless a concurrent first payment did (its id is the same in every process:
 * rules/stripe-directory.ts stripeIdOf). Locks: the new row exclusively, or the existing row shared, for the statement.
 */
export async function insertStripeIfMissing(db: Executor, row: typeof accounts.$inferInsert): Promise<void> {
  await db.insert(accounts).ignore().values(sealed(row));
}

/**
 * Adds logical shards to a merchant's stripe directory (stripe_shards |= mask) on its home
 * row; idempotent, never lowers a bit. Autocommitted on its own: the bit must be visible before
 * the stripe it announces is opened. The MAC does not cover the directory (routing, not money),
 * so the row is neither re-sealed nor versioned. Locks: the home row, exclusively, for the statement
 * (it waits behind a posting that holds the row FOR UPDATE).
 */
export async function addStripeShards(db: SqlTarget, merchantId: string, mask: bigint): Promise<void> {
  await rawWrite(
    db,
    'UPDATE accounts SET stripe_shards = stripe_shards | CAST(? AS UNSIGNED) WHERE id = ? AND parent_id IS NULL',
    [mask.toString(), merchantId],
  );
}

/**
 * Stripes on this shard (id and parent) with a parent after `afterParentId`, in parent order, from the parent_id index
 * alone. Locks: none.
 */
export async function stripeParentsPage(
  db: SqlTarget,
  afterParentId: string,
  limit: number,
): Promise<Array<{ id: string; parentId: string }>> {
  const rows = await rawRows<{ id: string; parent_id: string }>(
    db,
    'SELECT id, parent_id FROM accounts WHERE parent_id > ? ORDER BY parent_id LIMIT ?',
    [afterParentId, limit],
  );
  return rows.map((r) => ({ id: r.id, parentId: r.parent_id }));
}

/** The stripe directories of these home rows on this shard. Locks: none. */
export async function stripeDirectories(db: SqlTarget, ids: readonly string[]): Promise<Map<string, bigint>> {
  if (ids.length === 0) return new Map();
  const rows = await rawRows<{ id: string; stripe_shards: string }>(
    db,
    'SELECT id, stripe_shards FROM accounts WHERE id IN (?) AND parent_id IS NULL',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, bigintOf(r.stripe_shards)]));
}

/** One account row. Locks: it, FOR UPDATE, until the caller's transaction ends. */
export async function lockAccount(tx: Tx, id: string): Promise<Account | undefined> {
  const rows = await tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
  return rows[0] && accountOfRow(rows[0]);
}

/**
 * The status of each of these accounts found on this shard, by id, for a decision that a status change must not
 * overtake (a refund's credit to its payer). Locks: those rows, shared (LOCK IN SHARE MODE: MariaDB 10.11 has no FOR
 * SHARE, which drizzle writes), until the caller's transaction ends: a status change, which takes its row FOR UPDATE
 * (changeAccountStatus), waits for the transaction, and one committed before it is read.
 */
export async function shareAccountStatuses(tx: Tx, ids: readonly string[]): Promise<Map<string, AccountStatus>> {
  if (ids.length === 0) return new Map();
  const list = sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );
  const answer = await tx.execute(sql`SELECT id, status FROM accounts WHERE id IN (${list}) LOCK IN SHARE MODE`);
  const [rows] = answer as unknown as [Array<{ id: string; status: AccountStatus }>];
  return new Map(rows.map((row) => [row.id, row.status]));
}

/**
 * The account's stripes on this shard (by parent_id, in id order), a row whose seal is broken refused (TamperDetected).
 * Locks: them, FOR UPDATE NOWAIT, until the caller's transaction ends: one another transaction holds fails the
 * statement at once (MariaDB's lock-wait error, 1205) instead of waiting, so the caller, which holds rows on another
 * database, never waits here (a close: account/src/db/account-close.ts).
 */
export async function lockStripesNoWait(tx: Tx, parentId: string): Promise<Account[]> {
  const rows = await tx
    .select()
    .from(accounts)
    .where(eq(accounts.parentId, parentId))
    .orderBy(accounts.parentId, accounts.id)
    .for('update', { noWait: true });
  for (const row of rows) if (!accountSealIntact(row, row)) throw new TamperDetected(row.id);
  return rows.map(accountOfRow);
}

/**
 * Sets the status of an account and of its stripe on this shard, if it has one, resealing each row.
 * Locks: both rows (by primary key and parent_id), FOR UPDATE, until the caller's transaction ends;
 * a row whose seal is broken is refused (TamperDetected).
 */
export async function setAccountStatus(tx: Tx, id: string, status: AccountStatus, now: Date): Promise<void> {
  await resealStatus(tx, or(eq(accounts.id, id), eq(accounts.parentId, id))!, () => true, status, now);
}

/**
 * Sets the status of a home row alone, resealing it. Locks: the row, FOR UPDATE, until the caller's transaction ends;
 * a broken seal is refused (TamperDetected).
 */
export async function setHomeStatus(tx: Tx, id: string, status: AccountStatus, now: Date): Promise<void> {
  await resealStatus(tx, and(eq(accounts.id, id), isNull(accounts.parentId))!, () => true, status, now);
}

/**
 * Sets the status of the account's stripes on this shard whose ids name one of `logicalShards` (those whose fence rows
 * the caller read: a move's copy of another range here is left alone), resealing each; a CLOSED stripe stays CLOSED
 * (closing is final: a freeze written after a close, or beside a close whose home row did not commit, reopens none).
 * Locks: the account's stripes here (by parent_id), FOR UPDATE, until the caller's transaction ends; a broken seal is
 * refused (TamperDetected).
 */
export async function setStripesStatus(
  tx: Tx,
  parentId: string,
  logicalShards: readonly number[],
  status: AccountStatus,
  now: Date,
): Promise<void> {
  const named = new Set(logicalShards);
  const kept = (row: AccountRow) => named.has(shardOf('account', row.id)) && row.status !== 'CLOSED';
  await resealStatus(tx, eq(accounts.parentId, parentId), kept, status, now);
}

async function resealStatus(
  tx: Tx,
  where: SQL,
  keep: (row: AccountRow) => boolean,
  status: AccountStatus,
  now: Date,
): Promise<void> {
  const rows = await tx.select().from(accounts).where(where).for('update');
  for (const row of rows.filter(keep)) {
    if (!accountSealIntact(row, row)) throw new TamperDetected(row.id);
    const next = { ...row, status, version: row.version + 1n };
    await tx
      .update(accounts)
      .set({ status, version: next.version, ...sealAccount(next), updatedAt: now })
      .where(eq(accounts.id, row.id));
  }
}

/**
 * Sets a home row's credit limit under its lock, resealing it (the MAC covers the limit) and
 * bumping its version. The balances are not touched: a limit below the debt leaves the debt.
 * Locks: the home row, FOR UPDATE, until the caller's transaction ends.
 */
export async function setCreditLimitRow(tx: Tx, id: string, limit: bigint, now: Date): Promise<Account | undefined> {
  const [row] = await tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
  if (!row) return undefined;
  if (!accountSealIntact(row, row)) throw new TamperDetected(row.id);
  const next = { ...row, creditLimit: limit, version: row.version + 1n };
  await tx
    .update(accounts)
    .set({ creditLimit: limit, version: next.version, ...sealAccount(next), updatedAt: now })
    .where(eq(accounts.id, row.id));
  return accountOfRow({ ...next, updatedAt: now });
}

/**
 * The home rows on this shard that have, or once had, a credit line (credit_limit not NULL),
 * through accounts_credit_idx: only they can be below zero. The exposure read. Locks: none.
 */
export async function creditLineRows(db: SqlTarget): Promise<Account[]> {
  const rows = await rawRows<RawAccount>(
    db,
    `SELECT ${accountColumns} FROM accounts WHERE credit_limit IS NOT NULL`,
    [],
  );
  return rows.map(accountOfRaw);
}

/** The stripes (rows with a parent) of these merchants on this shard. Locks: none. */
export async function stripesOfMerchants(db: Executor, merchantIds: readonly string[]): Promise<Account[]> {
  if (merchantIds.length === 0) return [];
  const rows = await db
    .select()
    .from(accounts)
    .where(and(isNotNull(accounts.parentId), inArray(accounts.parentId, [...merchantIds])));
  return rows.map(accountOfRow);
}

/** Accounts (homes or stripes) by id on this shard. Locks: none. */
export async function accountsByIds(db: Executor, ids: readonly string[]): Promise<Account[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select()
    .from(accounts)
    .where(inArray(accounts.id, [...ids]));
  return rows.map(accountOfRow);
}
