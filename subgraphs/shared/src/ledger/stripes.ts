import type { Shard, ShardSet } from '../shards/pool';
import { asShardUnavailable } from '../shards/unavailable';
import { parseId, shardOf, type LogicalShard } from '../ids';
import { logicalShardCount } from '../limits';
import type { Account } from './account';
import { accountsAndStripes, addStripeShards, stripeDirectories, stripeParentsPage } from '../db/ledger-store';
import { pushTo } from '../collections';

/**
 * The stripe directory. A merchant keeps one stripe per shard it is paid on (its home row on
 * its home shard, elsewhere a row with parent_id = merchant, opened by the first payment from
 * that shard). Its home row's `stripe_shards` names, as a bitmask over the 64 logical shards,
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
 * - routing, not money: the MAC over account rows (ledger/tamper.ts) does not cover it, so
 *   setting a bit needs neither the row's seal nor its version. A bit cleared by direct SQL would
 *   hide a stripe from reads (a balance too low, a stripe left out of settlement) but not its
 *   money from `npm run verify`, which checks every row of every shard, directories included.
 */
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

/** Runs a read on one shard; an unreachable shard fails as ShardUnavailable, named by its database. */
export async function onShard<T>(shard: Shard, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw asShardUnavailable(shard.name, error);
  }
}

/**
 * Accounts by id, and for each merchant among them every stripe its directory names. One
 * statement per home shard (a primary-key read); then, for merchants with stripes, one per
 * shard their directories name. A PERSONAL account costs one statement on its own shard.
 */
export async function readAccountsWithStripes(shards: ShardSet, ids: readonly string[]): Promise<Account[]> {
  const byShard = new Map<Shard, string[]>();
  for (const id of new Set(ids)) {
    const parsed = parseId('account', id);
    if (!parsed) continue;
    const shard = shards.byLogical(parsed.shard);
    pushTo(byShard, shard, id);
  }
  const homes = (
    await Promise.all([...byShard].map(([shard, list]) => onShard(shard, () => accountsAndStripes(shard.db, list, []))))
  ).flat();
  const stripes = await readStripes(shards, homes);
  return [...homes, ...stripes.map((s) => s.account)];
}

/**
 * The stripes of these home rows (rows with a parent are ignored), read only from the shards
 * their directories name: one statement per such shard for all the homes that name it.
 */
export async function readStripes(
  shards: ShardSet,
  homes: ReadonlyArray<Pick<Account, 'id' | 'parentId' | 'stripeShards'>>,
): Promise<Array<{ shard: Shard; account: Account }>> {
  const byShard = new Map<Shard, string[]>();
  for (const home of homes) {
    if (home.parentId !== null) continue;
    for (const shard of stripeShardsOf(shards, home)) pushTo(byShard, shard, home.id);
  }
  const found = await Promise.all(
    [...byShard].map(async ([shard, parents]) =>
      (await onShard(shard, () => accountsAndStripes(shard.db, [], parents))).map((account) => ({ shard, account })),
    ),
  );
  return found.flat();
}

/**
 * Makes the merchant's directory name `logical` before a stripe whose id names it is opened or
 * posted to. `merchant` is its home row as read for this payment: when that already shows the
 * bit (the usual case: bits are never cleared) nothing is written, so the home row is written
 * once per (merchant, shard), by the first payment from that shard. The write is idempotent,
 * so concurrent first payments may both make it.
 */
export async function announceStripe(
  shards: ShardSet,
  merchant: Pick<Account, 'id' | 'stripeShards'>,
  logical: LogicalShard,
): Promise<void> {
  if (hasStripeShard(merchant.stripeShards, logical)) return;
  const home = shards.of('account', merchant.id);
  await onShard(home, () => addStripeShards(home.db, merchant.id, stripeShardBit(logical)));
}

/** Stripes read per statement by the backfill. */
const backfillPageSize = 5_000;
/** Home rows read or written per statement by the backfill. */
const backfillChunkSize = 500;

export interface DirectoryGap {
  merchantId: string;
  home: Shard;
  /** The logical shards of existing stripes that the merchant's directory does not name. */
  missing: bigint;
}

/**
 * Merchants whose directory misses a stripe that exists: every stripe is read from the
 * parent_id index of every shard, then the directories of those merchants from their home
 * rows, a chunk at a time. `npm run verify` reports them; the backfill fills them.
 */
export async function stripeDirectoryGaps(shards: ShardSet): Promise<DirectoryGap[]> {
  const wanted = new Map<string, bigint>();
  for (const shard of shards.all) {
    let after = '';
    for (;;) {
      const page = await stripeParentsPage(shard.db, after, backfillPageSize);
      for (const stripe of page) {
        const logical = shardOf('account', stripe.id);
        wanted.set(stripe.parentId, (wanted.get(stripe.parentId) ?? 0n) | stripeShardBit(logical));
      }
      if (page.length < backfillPageSize) break;
      after = page.at(-1)!.parentId;
    }
  }
  const byHome = new Map<Shard, string[]>();
  for (const merchantId of wanted.keys()) {
    if (!parseId('account', merchantId)) continue;
    const home = shards.of('account', merchantId);
    pushTo(byHome, home, merchantId);
  }
  const gaps: DirectoryGap[] = [];
  for (const [home, merchantIds] of byHome) {
    for (let i = 0; i < merchantIds.length; i += backfillChunkSize) {
      const chunk = merchantIds.slice(i, i + backfillChunkSize);
      const current = await stripeDirectories(home.db, chunk);
      for (const merchantId of chunk) {
        const have = current.get(merchantId);
        const missing = wanted.get(merchantId)! & ~(have ?? 0n);
        // A stripe whose parent has no home row here is an orphan: no directory to fill.
        if (have !== undefined && missing !== 0n) gaps.push({ merchantId, home, missing });
      }
    }
  }
  return gaps;
}

/**
 * Sets every merchant's directory from the stripes that exist: for stripes opened before the
 * directory was (migration 0004_stripe_directory), or by a process that did not write it yet
 * during a rollout. Run by migrateShards after the SQL migrations; idempotent and cheap to
 * repeat (it reads, and writes only the home rows that lack a bit). Returns how many it changed.
 */
export async function backfillStripeDirectories(shards: ShardSet): Promise<number> {
  const gaps = await stripeDirectoryGaps(shards);
  for (const gap of gaps) await addStripeShards(gap.home.db, gap.merchantId, gap.missing);
  return gaps.length;
}
