import type { ShardSet } from '@paygraph/shared/shards/pool';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { parseId, type LogicalShard } from '@paygraph/shared/ids';
import {
  accountsAndStripes,
  insertStripeIfMissing,
  stripeIdOf,
  type Account,
  announceStripe,
  hasStripeShard,
} from '@paygraph/shared/ledger/index';
import { refuseFencedAfterWrite } from '@paygraph/shared/control/index';
import { knownStripesMax } from '../limits';

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
  // Loops, not callbacks: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const byId = new Map<string, Account>();
  for (const row of rows) byId.set(row.id, row);
  const accounts: Array<Account | undefined> = [];
  for (const id of ids) accounts.push(byId.get(id));
  return accounts;
});

/** Stripes this process has opened or found (by id), oldest first: a payment to one of them reads and writes nothing. */
const knownStripes = new Set<string>();

/**
 * The merchant's stripe on a logical shard (a payment's, which is its payer's: rules/stripe-directory.ts stripeIdOf):
 * the merchant's own row on its home row's logical shard, elsewhere a row with parent_id = merchant, opened on first
 * use with the merchant's owner, currency and status. Its logical shard is in the merchant's stripe directory
 * (ledger/stripes.ts) before the stripe is opened or posted to: `merchant` is the home row read for this payment, so
 * once the bit is there (it is never cleared) nothing more is written, and once the stripe is known to this process
 * nothing is read either.
 */
export async function stripeFor(shards: ShardSet, merchant: Account, logical: LogicalShard): Promise<string> {
  const id = stripeIdOf(merchant.id, logical);
  if (id === merchant.id || knownStripes.has(id)) return id;
  const announcing = !hasStripeShard(merchant.stripeShards, logical);
  await announceStripe(shards, merchant, logical);
  const shard = shards.byLogical(logical);
  await insertStripeIfMissing(shard.db, {
    id,
    ownerId: merchant.ownerId,
    type: 'MERCHANT',
    parentId: merchant.id,
    currency: merchant.currency,
    entity: merchant.entity,
    status: announcing ? await statusAfterAnnounce(shards, merchant) : merchant.status,
  });
  // Open after the write: it committed before any fence of its logical shard, so a move's copy carries it. Not open:
  // refused (retryable) before this process trusts a row the move may have left behind.
  await refuseFencedAfterWrite(shard, [logical]);
  // Bounded: the oldest is forgotten first (it is only read again, and found, by its next payment).
  if (knownStripes.size >= knownStripesMax) knownStripes.delete(knownStripes.values().next().value!);
  knownStripes.add(id);
  return id;
}

/**
 * The merchant's status as its home row holds it once this payment's bit is written there. A close that held the row
 * before the bit did not see it, so it opened and closed no stripe on that logical shard: the stripe opened now takes
 * the status that close left (CLOSED), not the one this payment read before it, so no payment lands on an ACTIVE stripe
 * of a CLOSED merchant. A close after the bit opens and closes the stripe itself (account/src/db/account-close.ts).
 */
async function statusAfterAnnounce(shards: ShardSet, merchant: Account): Promise<Account['status']> {
  const [home] = await accountsAndStripes(shards.of('account', merchant.id).db, [merchant.id], []);
  return home?.status ?? merchant.status;
}
