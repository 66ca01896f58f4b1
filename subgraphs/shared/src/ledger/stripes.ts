import { refuseFencedAfterWrite } from '../control/index';
import type { Shard, ShardSet } from '../shards/pool';
import { asShardUnavailable } from '../shards/unavailable';
import { parseId, shardOf, type LogicalShard } from '../ids';
import type { Account } from './rules/account';
import { hasStripeShard, stripeShardBit, stripeShardsOf } from './rules/stripe-directory';
import { accountsAndStripes, addStripeShards, stripeDirectories, stripeParentsPage } from './store/accounts';
import { pushTo } from '../collections';

/**
 * The stripe directory's reads and writes across shards (rules/stripe-directory.ts says what the
 * directory is and why a reader that asks only the shards it names misses no stripe).
 */

/** Runs a read on one shard; an unreachable shard fails as ShardUnavailable, named by its database. */
export async function onShard<T>(shard: Shard, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw asShardUnavailable(shard.name, error);
  }
}

/**
 * Whether `shard` holds the live row of the account `id` (a home row or a stripe): the database the map places its
 * logical shard on, fenced or not (Placement.placedOn). A reader that asks several databases and merges their rows
 * keeps only these: a shard move leaves a range's rows on its source as copies until its clean (for good with
 * --keep-source), and a target holds an arriving range's rows before the switch, neither of them the account's money
 * now (docs/SCALING.md, "Readers across every database").
 */
export function placedHere(shards: ShardSet, shard: Shard, id: string): boolean {
  return shards.placement.placedOn(shardOf('account', id)).index === shard.index;
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
  // A stripe a shard move took elsewhere leaves a copy here until the move's clean: only those the map places here.
  const found = await Promise.all(
    [...byShard].map(async ([shard, parents]) =>
      (await onShard(shard, () => accountsAndStripes(shard.db, [], parents)))
        .filter((account) => placedHere(shards, shard, account.id))
        .map((account) => ({ shard, account })),
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
  // A process on an old map may have written it where a shard move already copied the merchant's home row from.
  await refuseFencedAfterWrite(home, [shardOf('account', merchant.id)]);
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
