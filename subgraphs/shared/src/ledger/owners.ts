import { refuseFencedAfterWrite } from '../control/index';
import type { Shard, ShardSet } from '../shards/pool';
import { toLogicalShard, type LogicalShard } from '../ids';
import type { Account } from './rules/account';
import { ownerHomeShard } from './rules/owner-directory';
import { logicalShardsIn, stripeShardBit } from './rules/stripe-directory';
import { addOwnerShards, homeAccountsOfOwner, ownerShardPairsPage, ownerShardsOf } from './store/owner-shards';
import { onShard } from './stripes';
import { pushTo } from '../collections';

/**
 * The owner directory's reads and writes across shards (rules/owner-directory.ts says what the
 * directory is and why a reader that asks only the shards it names misses no account).
 */

/**
 * Makes the owner's directory name `logical` before an account whose id names it is opened: one
 * idempotent upsert on the owner's home shard, committed before the account's insert, so a
 * reader never misses the account (a failed opening leaves a bit that costs a read).
 */
export async function announceOwnerShard(shards: ShardSet, ownerId: string, logical: LogicalShard): Promise<void> {
  const homeLogical = ownerHomeShard(ownerId);
  const home = shards.byLogical(homeLogical);
  await onShard(home, () => addOwnerShards(home.db, [{ ownerId, mask: stripeShardBit(logical) }]));
  // A process on an old map may have written it where a shard move already copied the owner's home from.
  await refuseFencedAfterWrite(home, [homeLogical]);
}

/** The databases the owner's directory names (from its home shard: one primary-key read). */
export async function ownerShardSet(shards: ShardSet, ownerId: string): Promise<Shard[]> {
  const home = shards.byLogical(ownerHomeShard(ownerId));
  const bits = await onShard(home, () => ownerShardsOf(home.db, ownerId));
  return [...new Set(logicalShardsIn(bits).map((l) => shards.byLogical(l)))];
}

/**
 * Every client account of the owner (home rows; a merchant's stripes are read from its stripe
 * directory, ledger/stripes.ts readStripes), asking the owner's home shard and then only the
 * databases its directory names, one statement each: never every shard. At most `limit` per
 * database. An unreachable database fails the read as ShardUnavailable.
 */
export async function readOwnerAccounts(shards: ShardSet, ownerId: string, limit: number): Promise<Account[]> {
  const named = await ownerShardSet(shards, ownerId);
  const found = await Promise.all(
    named.map((shard) => onShard(shard, () => homeAccountsOfOwner(shard.db, ownerId, limit))),
  );
  return found.flat().filter((a) => a.type !== 'SYSTEM');
}

/** Owners read per statement by the directory's backfill. */
const backfillPageSize = 5_000;

/**
 * Sets every owner's directory bits from the client accounts that exist (accounts opened before
 * the directory, or by a process that did not write it yet): each shard's owner index read a page
 * at a time, the bits of each owner added on its home shard. Idempotent (bits are only added);
 * run by the ledger's migration set on every migrate. Answers how many owners it wrote.
 */
export async function backfillOwnerDirectories(shards: ShardSet): Promise<number> {
  let written = 0;
  for (const shard of shards.all) {
    let after = '';
    for (;;) {
      const page = await ownerShardPairsPage(shard.db, after, backfillPageSize);
      const full = page.length === backfillPageSize;
      // A full page may end inside an owner's pairs: that owner is read again with the next page.
      const last = page.at(-1)?.ownerId;
      const kept = full ? page.filter((p) => p.ownerId !== last) : page;
      const masks = new Map<string, bigint>();
      for (const pair of kept) {
        const logical = toLogicalShard(Number.parseInt(pair.logicalHex, 16));
        masks.set(pair.ownerId, (masks.get(pair.ownerId) ?? 0n) | stripeShardBit(logical));
      }
      const byHome = new Map<Shard, Array<{ ownerId: string; mask: bigint }>>();
      for (const [ownerId, mask] of masks) pushTo(byHome, shards.byLogical(ownerHomeShard(ownerId)), { ownerId, mask });
      await Promise.all([...byHome].map(([home, list]) => addOwnerShards(home.db, list)));
      written += masks.size;
      if (!full) break;
      after = kept.at(-1)?.ownerId ?? after;
    }
  }
  return written;
}
