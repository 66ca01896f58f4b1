import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { newId, parseId } from '@paygraph/shared/ids';
import { accountsAndStripes, insertStripeIfMissing, stripeOf, type Executor } from '@paygraph/shared/db/ledger-store';
import type { AccountRow } from '@paygraph/shared/db/schema/ledger';
import { assert } from '@paygraph/shared/result';

/** Unlocked reads of accounts for routing and authorization; postings re-check under lock. */
export async function readAccounts(shards: ShardSet, ids: readonly string[]): Promise<Map<string, AccountRow>> {
  const byShard = new Map<Shard, string[]>();
  for (const id of ids) {
    const parsed = parseId('account', id);
    if (!parsed) continue;
    const shard = shards.byLogical(parsed.shard);
    const list = byShard.get(shard);
    if (list) list.push(id);
    else byShard.set(shard, [id]);
  }
  const rows = await Promise.all([...byShard].map(([shard, local]) => accountsAndStripes(shard.db, local, [])));
  return new Map(rows.flat().map((r) => [r.id, r]));
}

export function shardOfAccount(shards: ShardSet, id: string): Shard {
  const parsed = parseId('account', id);
  assert(parsed, `account id ${id} is malformed`);
  return shards.byLogical(parsed.shard);
}

const stripeIds = new Map<string, string>();

/**
 * The merchant's stripe on a shard: the merchant's own row on its home shard, elsewhere a row
 * with parent_id = merchant, opened on first use with the merchant's owner, currency and status.
 */
export async function stripeFor(shards: ShardSet, merchant: AccountRow, shard: Shard): Promise<string> {
  if (shardOfAccount(shards, merchant.id) === shard) return merchant.id;
  const key = `${merchant.id}@${shards.topology.urls[shard.index]}`;
  const cached = stripeIds.get(key);
  if (cached) return cached;
  let stripe = await stripeOf(shard.db as Executor, merchant.id);
  if (!stripe) {
    const logical = shards.logicalOn(shard)[0];
    assert(logical !== undefined, `shard ${shard.name} holds no logical shard`);
    await insertStripeIfMissing(shard.db, {
      id: newId('account', logical), ownerId: merchant.ownerId, type: 'MERCHANT', parentId: merchant.id,
      currency: merchant.currency, status: merchant.status,
    });
    stripe = await stripeOf(shard.db, merchant.id);
  }
  assert(stripe, `stripe of ${merchant.id} missing on ${shard.name}`);
  stripeIds.set(key, stripe.id);
  return stripe.id;
}
