import { and, asc, count, eq } from 'drizzle-orm';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { newId, parseId, type LogicalShard } from '@paygraph/shared/ids';
import {
  postOne,
  type PostingOutcome,
  type PostingSpec,
  systemAccountId,
  type EntryRow,
} from '@paygraph/shared/ledger/index';
import { accounts, ledgerEntries, type AccountRow } from '@paygraph/shared/ledger/store/schema';

/**
 * Ledger fixtures for integration tests. Money enters accounts the way it does in production,
 * through the posting engine from the shard's RESERVE account, so that every balance a test
 * reads has entries behind it.
 */
export async function depositFromReserve(
  shards: ShardSet,
  accountId: string,
  amount: bigint,
  currency = 'USD',
): Promise<PostingOutcome> {
  const home = homeOf(accountId);
  const shard = shards.byLogical(home);
  const reserve = await systemAccountId(shards, shard, 'RESERVE', currency);
  return postOne(shard, {
    kind: 'spec',
    spec: {
      id: newId('posting', home),
      kind: 'TEST_DEPOSIT',
      refId: null,
      dedupeKey: null,
      currency,
      legs: [
        { accountId: reserve, bucket: 'AVAILABLE', amount: -amount },
        { accountId, bucket: 'AVAILABLE', amount },
      ],
    },
    finish: async (_tx, outcome) => outcome,
  });
}

/** Moves an account's available money back to the reserve, e.g. so that it may close. */
export async function withdrawToReserve(
  shards: ShardSet,
  accountId: string,
  amount: bigint,
  currency = 'USD',
): Promise<PostingOutcome> {
  const home = homeOf(accountId);
  const shard = shards.byLogical(home);
  const reserve = await systemAccountId(shards, shard, 'RESERVE', currency);
  return postOne(shard, {
    kind: 'spec',
    spec: {
      id: newId('posting', home),
      kind: 'TEST_WITHDRAWAL',
      refId: null,
      dedupeKey: null,
      currency,
      legs: [
        { accountId, bucket: 'AVAILABLE', amount: -amount },
        { accountId: reserve, bucket: 'AVAILABLE', amount },
      ],
    },
    finish: async (_tx, outcome) => outcome,
  });
}

/** How many accounts an owner has on all shards: a refused write must leave this unchanged. */
export async function ownerAccountCount(shards: ShardSet, ownerId: string): Promise<number> {
  const counts = await Promise.all(
    shards.all.map((s) => s.db.select({ n: count() }).from(accounts).where(eq(accounts.ownerId, ownerId))),
  );
  return counts.reduce((sum, rows) => sum + Number(rows[0]?.n ?? 0), 0);
}

/** The account row on the shard its id names, or undefined. */
export async function accountRow(shards: ShardSet, accountId: string): Promise<AccountRow | undefined> {
  const rows = await shards.byLogical(homeOf(accountId)).db.select().from(accounts).where(eq(accounts.id, accountId));
  return rows[0];
}

/** An account's entries in sequence order, read from its home shard. */
export async function entriesOf(shards: ShardSet, accountId: string): Promise<EntryRow[]> {
  return shards
    .byLogical(homeOf(accountId))
    .db.select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.accountId, accountId))
    .orderBy(asc(ledgerEntries.sequence));
}

function homeOf(accountId: string) {
  const parsed = parseId('account', accountId);
  if (!parsed) throw new Error(`${accountId} is not an account id`);
  return parsed.shard;
}

/** Σ of every shard's system account of one kind in one currency (fee income, FX positions…). */
export async function systemKindTotal(
  shards: ShardSet,
  kind: AccountRow['systemKind'] & string,
  currency: string,
): Promise<bigint> {
  let total = 0n;
  for (const shard of shards.all) {
    const rows = await shard.db
      .select({ available: accounts.available, frozen: accounts.frozen, pending: accounts.pending })
      .from(accounts)
      .where(and(eq(accounts.systemKind, kind), eq(accounts.currency, currency)));
    for (const r of rows) total += r.available + r.frozen + r.pending;
  }
  return total;
}

/** A TEST posting on `logical` that moves `amount` USD from `from`'s available balance to `to`'s. */
export function transferSpec(logical: LogicalShard, from: string, to: string, amount: bigint): PostingSpec {
  return {
    id: newId('posting', logical),
    kind: 'TEST',
    refId: null,
    dedupeKey: null,
    currency: 'USD',
    legs: [
      { accountId: from, bucket: 'AVAILABLE', amount: -amount },
      { accountId: to, bucket: 'AVAILABLE', amount },
    ],
  };
}
