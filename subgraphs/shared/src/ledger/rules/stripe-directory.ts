import type { Shard, ShardSet } from '../../shards/pool';
import { idSuffix, type LogicalShard } from '../../ids';
import { logicalShardCount } from '../../limits';
import type { Account } from './account';

/**
 * The stripe directory. A merchant keeps one stripe per logical shard it is paid from (its home row
 * on its home row's logical shard, elsewhere a row with parent_id = merchant, opened by the first
 * payment from that logical shard: stripeIdOf). Its home row's `stripe_shards` names, as a bitmask over the 64 logical shards,
 * the logical shards of its stripes' ids, so a read asks the home shard and then only the
 * shards named there, never every shard:
 *
 * - bit n set: the merchant may have a stripe whose id names logical shard n. The bit is written
 *   on the home row, and committed, *before* that stripe is opened (announceStripe), so a reader
 *   never misses a stripe; a bit without a stripe yet (the opening failed or is under way) only
 *   costs a read that finds nothing.
 * - bits are never cleared, so a directory read earlier is a subset of the directory now: a
 *   bit seen once can be trusted, and only a missing one needs another look.
 * - the bits name logical shards, like ids do, so they survive a SHARD_MAP change: a stripe
 *   moves with its id's logical shard, and its bit follows it to its new database.
 * - routing, not money: the MAC over account rows (rules/tamper.ts) does not cover it, so
 *   setting a bit needs neither the row's seal nor its version. A bit cleared by direct SQL would
 *   hide a stripe from reads (a balance too low, a stripe left out of settlement) but not its
 *   money from `npm run verify`, which checks every row of every shard, directories included.
 */
/**
 * The id of a merchant's stripe on a logical shard: the merchant's own id with that logical shard's suffix (the home
 * row's id on its own logical shard). A payment's local posting credits the stripe on its payer's logical shard, so
 * the stripe, the payment and the payer share a logical shard and a shard move (which moves logical shards) never
 * parts them: the payment's settlement and refunds stay one local transaction wherever the range goes. Being the
 * same for every process, the id also makes concurrent first payments open one stripe (the primary key), not two.
 * Stripes opened before this rule (one per database, random ids) keep settling the payments that name them.
 */
export function stripeIdOf(merchantId: string, logical: LogicalShard): string {
  return `${merchantId.slice(0, -2)}${idSuffix(logical)}`;
}

export function stripeShardBit(logical: LogicalShard): bigint {
  return 1n << BigInt(logical);
}

export function hasStripeShard(directory: bigint, logical: LogicalShard): boolean {
  return (directory & stripeShardBit(logical)) !== 0n;
}

/** The logical shards a directory names, in order. */
export function logicalShardsIn(directory: bigint): LogicalShard[] {
  const found: LogicalShard[] = [];
  for (let l = 0; l < logicalShardCount; l++) if ((directory >> BigInt(l)) & 1n) found.push(l as LogicalShard);
  return found;
}

/**
 * The databases where the account's directory says it has stripes (none for an account without
 * stripes). Its home shard is among them only if a stripe there names another logical shard than
 * the home row, which only a change of SHARD_MAP can bring about.
 */
export function stripeShardsOf(shards: ShardSet, home: Pick<Account, 'stripeShards'>): Shard[] {
  if (home.stripeShards === 0n) return [];
  return [...new Set(logicalShardsIn(home.stripeShards).map((l) => shards.byLogical(l)))];
}
