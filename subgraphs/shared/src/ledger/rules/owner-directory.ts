import { createHash } from 'node:crypto';
import { toLogicalShard, type LogicalShard } from '../../ids';
import { logicalShardCount } from '../../limits';

/**
 * The owner directory. An owner's accounts open on random logical shards (so accounts spread
 * evenly), so without a directory a read of "every account of this owner" asks every shard. The
 * directory is one row per owner (`owner_shards`) on the owner's **home shard**, a hash of the
 * owner id, naming as a bitmask (the stripe directory's bits, rules/stripe-directory.ts) the
 * logical shards of the owner's account ids:
 *
 * - bit n set: the owner may have an account whose id names logical shard n. The bit is written
 *   and committed *before* that account is opened (reserveOwnerAccount), so a reader that asks
 *   the home shard, then only the shards named there, misses no account; a bit without an
 *   account (the opening failed) only costs a read that finds nothing;
 * - bits are never cleared (an account is closed, never deleted), and they name logical shards,
 *   so they survive a SHARD_MAP change as ids do;
 * - a merchant's stripes are found from its home row's stripe directory, not from here;
 * - routing, not money: no MAC covers it. A bit lost would hide an account from the portfolio
 *   view, never its money from `npm run verify`; the migration's data step re-derives the bits
 *   from the accounts that exist (accounts opened before the directory, or by a process that did
 *   not write it yet);
 * - the row also counts the accounts the owner opened, at most accountsPerOwnerMax (limits.ts):
 *   every opening passes it, on one database, so its lock keeps two openings at the bound from
 *   both passing (store/schema.ts ownerShards).
 *
 * The home shard is the hash an owner's linked external accounts already live by (the
 * transaction part's ownerLinkShard), so an owner's directory and links share one database.
 */
export function ownerHomeShard(ownerId: string): LogicalShard {
  return toLogicalShard(createHash('sha256').update(`owner:${ownerId}`).digest()[0]! % logicalShardCount);
}
