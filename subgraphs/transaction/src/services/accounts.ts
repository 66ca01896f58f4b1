import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { newId, parseId, shardOf } from '@paygraph/shared/ids';
import {
  accountsAndStripes,
  insertStripeIfMissing,
  stripeOf,
  type Account,
  announceStripe,
} from '@paygraph/shared/ledger/index';
import { type Executor } from '@paygraph/shared/shards/transaction';
import { assert } from '@paygraph/shared/result';

/**
 * Unlocked reads of accounts for routing and authorization; postings re-check under lock.
 * Concurrent requests' reads for a shard share one statement (shards/coalescer.ts).
 */
export async function readAccounts(shards: ShardSet, ids: readonly string[]): Promise<Map<string, Account>> {
  const rows = await Promise.all(
    [...new Set(ids)].map((id) => {
      const parsed = parseId('account', id);
      return parsed ? accountReads.load(shards.byLogical(parsed.shard), id) : undefined;
    }),
  );
  const found = new Map<string, Account>();
  for (const row of rows) if (row) found.set(row.id, row);
  return found;
}

const accountReads = new Coalescer<string, Account | undefined>('account reads', async (shard, ids) => {
  const rows = await accountsAndStripes(shard.db, [...new Set(ids)], []);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id));
});

const stripeIds = new Map<string, string>();

/**
 * The merchant's stripe on a shard: the merchant's own row on its home shard, elsewhere a row
 * with parent_id = merchant, opened on first use with the merchant's owner, currency and status.
 * Its logical shard is in the merchant's stripe directory (ledger/stripes.ts) before the stripe
 * is opened or posted to: `merchant` is the home row read for this payment, so once the bit is
 * there (it is never cleared) nothing more is written, and once the stripe is known to this
 * process nothing is read either.
 */
export async function stripeFor(shards: ShardSet, merchant: Account, shard: Shard): Promise<string> {
  if (shards.of('account', merchant.id) === shard) return merchant.id;
  const key = `${merchant.id}@${shards.topology.urls[shard.index]}`;
  const cached = stripeIds.get(key);
  if (cached) return cached;
  let stripe = await stripeOf(shard.db as Executor, merchant.id);
  if (!stripe) {
    const logical = shards.logicalOn(shard)[0];
    assert(logical !== undefined, `shard ${shard.name} holds no logical shard`);
    await announceStripe(shards, merchant, logical);
    await insertStripeIfMissing(shard.db, {
      id: newId('account', logical),
      ownerId: merchant.ownerId,
      type: 'MERCHANT',
      parentId: merchant.id,
      currency: merchant.currency,
      entity: merchant.entity,
      status: merchant.status,
    });
    stripe = await stripeOf(shard.db, merchant.id);
  }
  assert(stripe, `stripe of ${merchant.id} missing on ${shard.name}`);
  // A stripe found rather than opened here may predate the directory (opened before migration
  // 0004, or during a rollout by a process without it): make sure it is named before posting.
  await announceStripe(shards, merchant, shardOf('account', stripe.id));
  stripeIds.set(key, stripe.id);
  return stripe.id;
}
