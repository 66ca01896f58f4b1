import { refuseFenced } from '../control/index';
import type { Shard, ShardSet } from '../shards/pool';
import { toLogicalShard, type LogicalShard } from '../ids';
import type { Account } from './rules/account';
import { ownerHomeShard } from './rules/owner-directory';
import { logicalShardsIn, stripeShardBit } from './rules/stripe-directory';
import {
  accountsOpenedOf,
  addOwnerShards,
  homeAccountCountOf,
  homeAccountsOfOwner,
  lockOwnerRow,
  ownerShardPairsPage,
  ownerShardsOf,
  setOwnerAccounts,
  uncountOwnerAccount,
} from './store/owner-shards';
import { onShard } from './stripes';
import { pushTo } from '../collections';
import { inTransaction } from '../shards/transaction';

/**
 * The owner directory's reads and writes across shards (rules/owner-directory.ts says what the
 * directory is and why a reader that asks only the shards it names misses no account).
 */

/**
 * Before an account is opened: names `logical` in the owner's directory and counts the account, unless
 * the owner has opened `accountsMax` already (false, nothing written). One transaction on the owner's
 * home shard under its row's lock, committed before the account's insert, so a reader never misses the
 * account (a failed opening leaves a bit that costs a read), and every opening of the owner passes that
 * row, so two at the bound cannot both pass. A row from
 * before the count (null) is counted first from the accounts there are, outside the lock; should one
 * appear uncounted meanwhile (the backfill's), the count is taken again. The home logical shard's fence
 * row is read first in that transaction (refuseFenced): a fenced home refuses it, nothing written.
 */
export async function reserveOwnerAccount(
  shards: ShardSet,
  ownerId: string,
  logical: LogicalShard,
  accountsMax: number,
): Promise<boolean> {
  const homeLogical = ownerHomeShard(ownerId);
  const home = shards.byLogical(homeLogical);
  for (;;) {
    const uncounted = (await onShard(home, () => accountsOpenedOf(home.db, ownerId))) === null;
    const counted = uncounted ? await countOwnerAccounts(shards, ownerId) : null;
    const outcome = await onShard(home, () =>
      inTransaction(home, async (tx) => {
        // The count's +1 is not idempotent: one a process on an old map wrote after the fence would make the row
        // differ from the move's copy, and the move refuse. Read before the owner's lock, the order a posting locks in.
        await refuseFenced(tx, home.name, [homeLogical]);
        const opened = (await lockOwnerRow(tx, ownerId)) ?? counted;
        if (opened === null) return 'uncounted' as const;
        if (opened >= accountsMax) return 'full' as const;
        await setOwnerAccounts(tx, ownerId, stripeShardBit(logical), opened + 1);
        return 'reserved' as const;
      }),
    );
    if (outcome === 'uncounted') continue;
    return outcome === 'reserved';
  }
}

/**
 * Gives back the place reserveOwnerAccount counted for an opening whose insert failed (its shard away,
 * or fenced), so that failures and their retries do not use up the owner's bound. Its bit stays (a
 * bit without an account costs a read). An insert that committed unseen is then not counted: the
 * owner may hold one account more than the bound per such loss. Under the home logical shard's fence
 * as the reservation: the -1 is no more idempotent than the +1, so a home fenced since refuses it
 * (FencedWrite) and the place stays taken, one place of the bound lost rather than a move refused.
 */
export async function releaseOwnerAccount(shards: ShardSet, ownerId: string): Promise<void> {
  const homeLogical = ownerHomeShard(ownerId);
  const home = shards.byLogical(homeLogical);
  await onShard(home, () =>
    inTransaction(home, async (tx) => {
      await refuseFenced(tx, home.name, [homeLogical]);
      await uncountOwnerAccount(tx, ownerId);
    }),
  );
}

/** The owner's client accounts on the databases its directory names (an owner from before the count). */
async function countOwnerAccounts(shards: ShardSet, ownerId: string): Promise<number> {
  const named = await ownerShardSet(shards, ownerId);
  const counts = await Promise.all(
    named.map((shard) =>
      onShard(shard, () => homeAccountCountOf(shard.db, ownerId, shards.placement.placedLogicals(shard))),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
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
 * database, of the accounts the map places there (homeAccountsOfOwner, Placement.placedLogicals: a shard
 * move's copies are not the account's money). An unreachable database fails the read as ShardUnavailable.
 */
export async function readOwnerAccounts(shards: ShardSet, ownerId: string, limit: number): Promise<Account[]> {
  const named = await ownerShardSet(shards, ownerId);
  const found = await Promise.all(
    named.map((shard) =>
      onShard(shard, () => homeAccountsOfOwner(shard.db, ownerId, limit, shards.placement.placedLogicals(shard))),
    ),
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
