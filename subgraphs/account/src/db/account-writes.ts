import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { newId, parseId, type LogicalShard } from '@paygraph/shared/ids';
import { accountsPerOwnerMax } from '@paygraph/shared/limits';
import { log } from '@paygraph/shared/log';
import { refuseFenced, refuseFencedNow } from '@paygraph/shared/control/index';
import {
  insertAccount,
  lockAccount,
  logicalShardsIn,
  setCreditLimitRow,
  setHomeStatus,
  setStripesStatus,
  readStripes,
  releaseOwnerAccount,
  reserveOwnerAccount,
} from '@paygraph/shared/ledger/index';
import { pushTo } from '@paygraph/shared/collections';
import type { Result } from '@paygraph/shared/result';
import { buildViews, type AccountView } from '../domain/account-view';
import type { AccountToOpen } from '../domain/open-account';

/**
 * Opens an account on a random logical shard, so accounts spread evenly over the databases, after
 * the owner directory names that shard and counts the account (ledger/rules/owner-directory.ts);
 * null, nothing opened, when the owner has opened accountsPerOwnerMax already. Never on a logical
 * shard a shard move fences (the map's, Placement.openLogical), and the row is written under the fence
 * where the write happens (refuseFenced), so a process on an old map cannot open an account a move's
 * copy would leave behind.
 */
export async function openAccountRow(shards: ShardSet, toOpen: AccountToOpen, now: Date): Promise<AccountView | null> {
  const logical = shards.placement.openLogical();
  const id = newId('account', logical);
  // The owner directory names the shard first, so a reader of the owner's accounts never misses this one.
  if (!(await reserveOwnerAccount(shards, toOpen.ownerId, logical, accountsPerOwnerMax))) return null;
  try {
    // Inside the try: the map may have fenced the shard since the draw (byLogical throws); its place goes back too.
    const shard = shards.byLogical(logical);
    await inTransaction(shard, async (tx) => {
      await refuseFenced(tx, shard.name, [logical]);
      await insertAccount(tx, { ...toOpen, id, status: 'ACTIVE', createdAt: now, updatedAt: now });
    });
  } catch (error) {
    // Its place back, so that an outage's failed openings and their retries do not use up the owner's bound (not when
    // the owner's home is fenced since: releaseOwnerAccount says why).
    await releaseOwnerAccount(shards, toOpen.ownerId).catch((e: unknown) =>
      log().warn({ err: e }, `opening for ${toOpen.ownerId} failed; its place in the bound was not given back`),
    );
    throw error;
  }
  return {
    id,
    ownerId: toOpen.ownerId,
    type: toOpen.type,
    status: 'ACTIVE',
    currency: toOpen.currency,
    entity: toOpen.entity,
    version: 0n,
    createdAt: now,
    available: 0n,
    frozen: 0n,
    pending: 0n,
    creditLimit: null,
    lastSequence: 0n,
    stripeIds: [],
  };
}

/** One row's buckets (the home row's or a stripe's): a close needs each of them zero, not only their sum. */
export type RowBalances = Pick<AccountView, 'available' | 'frozen' | 'pending'>;

/** A status change's decision: the account, each row's buckets (home row first), what may still come back to it. */
export type StatusDecision<E> = (
  view: AccountView,
  rows: readonly RowBalances[],
  inFlight: bigint,
) => Result<AccountView['status'], E>;

/**
 * Freezes or unfreezes an account under its home row's lock (a close is db/account-close.ts's: it must hold every
 * row). The decision sees the balances of every stripe, read from the shards the merchant's stripe directory names
 * (read under that lock: a stripe announced later waits for it, ledger/stripes.ts), and nothing in flight (0); those
 * stripes then take the new status in their own transactions (a payment racing with a freeze may still land on a
 * stripe in between: the freeze is for new operations, not a guarantee about ones already under way; nor does it
 * reopen a stripe a close left CLOSED). A PERSONAL account touches its own shard only. Each write is made under its
 * rows' fence where it happens (refuseFenced, before the row's lock, the order a posting takes them in): a process on
 * an old map, or a change that resolved its shard before a move's fence, would otherwise write a source's copy the move
 * leaves behind and answer success while the live row stays as it was. Refused at the home row, or at a stripe's fence
 * row as read (no lock) before the home row is written, nothing changes; a stripe fenced after that read and before its
 * own write keeps its old status beside the home row's new one, as a stripe whose database does not answer does.
 */
export async function changeAccountStatus<E>(
  shards: ShardSet,
  accountId: string,
  decide: StatusDecision<E>,
  now: Date,
): Promise<Result<AccountView, E> | null> {
  const parsed = parseId('account', accountId);
  if (!parsed) return null;
  const home = shards.byLogical(parsed.shard);
  let directory = 0n;
  const outcome = await inTransaction(home, async (tx) => {
    await refuseFenced(tx, home.name, [parsed.shard]);
    const row = await lockAccount(tx, accountId);
    if (!row || row.parentId !== null) return null;
    const stripes = await readStripes(shards, [row]);
    directory = row.stripeShards;
    const rows = [row, ...stripes.map((s) => s.account)];
    const view = buildViews(rows).get(accountId)!;
    const decision = decide(view, rows, 0n);
    if (!decision.ok) return decision;
    // A stripe whose range is not open where the map places it refuses the change before the home row is written.
    await Promise.all([...stripesByShard(shards, directory)].map(([s, logicals]) => refuseFencedNow(s, logicals)));
    await setHomeStatus(tx, accountId, decision.value, now);
    return { ok: true as const, value: { ...view, status: decision.value, version: view.version + 1n } };
  });
  if (outcome?.ok) await setStripesStatusEverywhere(shards, accountId, directory, outcome.value.status, now);
  return outcome;
}

/**
 * The stripes' part of a status change: on each database the directory names, the stripes of the logical shards the
 * map places there, under their fence rows (refuseFenced first, then their locks).
 */
async function setStripesStatusEverywhere(
  shards: ShardSet,
  accountId: string,
  directory: bigint,
  status: AccountView['status'],
  now: Date,
): Promise<void> {
  await Promise.all(
    [...stripesByShard(shards, directory)].map(([shard, logicals]) =>
      inTransaction(shard, async (tx) => {
        await refuseFenced(tx, shard.name, logicals);
        await setStripesStatus(tx, accountId, logicals, status, now);
      }),
    ),
  );
}

/** The logical shards a stripe directory names, by the database the map places each on. */
export function stripesByShard(shards: ShardSet, directory: bigint): Map<Shard, LogicalShard[]> {
  const byShard = new Map<Shard, LogicalShard[]>();
  for (const logical of logicalShardsIn(directory)) pushTo(byShard, shards.byLogical(logical), logical);
  return byShard;
}

/**
 * Sets an account's credit limit under its home row's lock: the decision sees the account with
 * every stripe (its view), the write touches the home row only (stripes have no limit). Null
 * when there is no such account (or the id is a stripe's). A posting that locks the row after
 * this commits sees the new limit; one before it, the old. Written under the row's fence (refuseFenced, before its
 * lock), so no limit is set on a copy a shard move leaves behind.
 */
export async function setAccountCreditLimit<E>(
  shards: ShardSet,
  accountId: string,
  decide: (view: AccountView) => Result<bigint, E>,
  now: Date,
): Promise<Result<AccountView, E> | null> {
  const parsed = parseId('account', accountId);
  if (!parsed) return null;
  const home = shards.byLogical(parsed.shard);
  return inTransaction(home, async (tx) => {
    await refuseFenced(tx, home.name, [parsed.shard]);
    const row = await lockAccount(tx, accountId);
    if (!row || row.parentId !== null) return null;
    const stripes = await readStripes(shards, [row]);
    const view = buildViews([row, ...stripes.map((s) => s.account)]).get(accountId)!;
    const decision = decide(view);
    if (!decision.ok) return decision;
    const written = await setCreditLimitRow(tx, accountId, decision.value, now);
    return { ok: true as const, value: { ...view, creditLimit: decision.value, version: written!.version } };
  });
}
