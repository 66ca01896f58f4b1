import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { errnoOf, inTransaction, LockTimeout, mysqlErrno, type Tx } from '@paygraph/shared/shards/transaction';
import { parseId, shardOf, type LogicalShard } from '@paygraph/shared/ids';
import { refuseFenced } from '@paygraph/shared/control/index';
import {
  insertStripeIfMissing,
  lockAccount,
  lockStripesNoWait,
  setHomeStatus,
  setStripesStatus,
  stripeIdOf,
  type Account,
} from '@paygraph/shared/ledger/index';
import type { Result } from '@paygraph/shared/result';
import { sleep } from '@paygraph/shared/streams/abortable';
import {
  fundedMoneyInFlight,
  gaveBackAmong,
  givenBackInFlight,
  moneyInFlightToward,
  sweepsInFlightTouching,
} from '@paygraph/transaction/read-model/account';
import { buildViews, type AccountView } from '../domain/account-view';
import { closeStripeLockTriesMax, closeStripeRetryWaitMs } from '../limits';
import { stripesByShard, type StatusDecision } from './account-writes';

/** MySQL's answer to a NOWAIT lock it cannot take (MariaDB answers the lock-wait error, 1205, instead). */
const lockNoWaitErrno = 3572;

/** A stripe another transaction holds: the close lets go of every row and tries again (closeAccountRows). */
class StripeBusy extends Error {
  override name = 'StripeBusy';
  constructor(readonly shard: string) {
    super(`a stripe on shard ${shard} is held by a transaction under way`);
  }
}

/** What a close has weighed so far: the rows it holds (home row first) and the money in flight toward them. */
interface Weighed {
  rows: Account[];
  inFlight: bigint;
  /** Whether a row of them has given a leg's share back to a refund (read under its lock): givenBackInFlight then. */
  gaveBack: boolean;
}

/**
 * Closes an account with every row of it locked when it decides, so that no money reaches a row after the decision
 * judged it empty. The home row's lock first (waited for, as a payment from the account waits), then, on the home
 * database in the same transaction and on every other database its stripe directory names in a transaction of its own
 * (in database order), the stripes, each taken without waiting (NOWAIT): of the account rows a posting locks, the close
 * waits for one only, the first, while it holds none, so no cycle of waits through postings can pass through it — a
 * posting holding a stripe (it locks rows of one database only, in id order) is never kept waiting by a close that
 * waits for it in turn, here or across databases; a stripe held makes it let go of everything and try again
 * (closeStripeLockTriesMax, then LOCK_TIMEOUT, nothing changed). Beyond its home row it waits only for fence rows, read
 * shared, which only a shard move's fence write holds exclusively. Each stripe is read under its fence row
 * (refuseFenced, before its lock, a posting's order; on the home database after the home row's, so a wait there for a
 * mover's fence write is one InnoDB sees whole, and a cycle it breaks runs the close again: inTransaction). The
 * decision sees each row's buckets and what may still come back: payments and refunds in flight toward the account, a
 * funder's campaign legs in flight, sweeps in flight between its rows, refunds of legs in flight that a row gave back
 * to (the transaction subgraph's read model, each read after the locks of the rows it concerns). The stripes' databases
 * then commit, innermost first, and the home row's last: a database failing in between leaves the account ACTIVE (its
 * home row) with some stripes CLOSED, which refuse payments (a stripe is never reopened: setStripesStatus) and hold
 * nothing, and a retried close completes it. Null when there is no such account (or the id is a stripe's).
 */
export async function closeAccountRows<E>(
  shards: ShardSet,
  accountId: string,
  decide: StatusDecision<E>,
  now: Date,
): Promise<Result<AccountView, E> | null> {
  const parsed = parseId('account', accountId);
  if (!parsed) return null;
  const home = shards.byLogical(parsed.shard);
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(home, (tx) => closeFromHome(shards, home, tx, accountId, decide, now));
    } catch (error) {
      if (!(error instanceof StripeBusy)) throw error;
      if (attempt >= closeStripeLockTriesMax) throw new LockTimeout(error.shard);
      await sleep(Math.random() * closeStripeRetryWaitMs);
    }
  }
}

/** The home database's part: the home row, its stripes there, the money in flight read there, then the rest. */
async function closeFromHome<E>(
  shards: ShardSet,
  home: Shard,
  tx: Tx,
  accountId: string,
  decide: StatusDecision<E>,
  now: Date,
): Promise<Result<AccountView, E> | null> {
  await refuseFenced(tx, home.name, [shardOf('account', accountId)]);
  const row = await lockAccount(tx, accountId);
  if (!row || row.parentId !== null) return null;
  const groups = stripesByShard(shards, row.stripeShards);
  const here = groups.get(home) ?? [];
  const local = await lockStripesOn(tx, home, row, here);
  // After the locks: a plain read's snapshot starts here, so every movement that debited these rows is seen.
  const rowIds = [accountId, ...local.map((s) => s.id)];
  const inFlight =
    (await moneyInFlightToward(tx, accountId)) +
    (await sweepsInFlightTouching(tx, rowIds)) +
    (await fundedMoneyInFlight(shards, home, tx, accountId));
  const elsewhere = [...groups].filter(([shard]) => shard !== home).sort(([a], [b]) => a.index - b.index);
  const weighed: Weighed = { rows: [row, ...local], inFlight, gaveBack: await gaveBackAmong(tx, rowIds) };
  let view: AccountView | undefined;
  const decision = await underStripeLocks(row, elsewhere, weighed, now, async (all) => {
    // Every row locked: a refund of legs that one of them gave back to may still credit it back.
    const givenBack = all.gaveBack ? await givenBackInFlight(shards, accountId) : 0n;
    view = buildViews(all.rows).get(accountId)!;
    return decide(view, all.rows, all.inFlight + givenBack);
  });
  if (!decision.ok) return decision;
  if (here.length > 0) await setStripesStatus(tx, accountId, here, decision.value, now);
  await setHomeStatus(tx, accountId, decision.value, now);
  return { ok: true as const, value: { ...view!, status: decision.value, version: view!.version + 1n } };
}

/**
 * The stripes of the next database (a transaction of its own, held while the later ones are locked and the decision is
 * made), its sweeps in flight read after their locks; the decision's status written to them before it commits.
 */
async function underStripeLocks<E>(
  merchant: Account,
  groups: ReadonlyArray<readonly [Shard, readonly LogicalShard[]]>,
  weighed: Weighed,
  now: Date,
  decide: (weighed: Weighed) => Promise<Result<AccountView['status'], E>>,
): Promise<Result<AccountView['status'], E>> {
  const [next, ...rest] = groups;
  if (!next) return decide(weighed);
  const [shard, logicals] = next;
  return inTransaction(shard, async (tx) => {
    const stripes = await lockStripesOn(tx, shard, merchant, logicals);
    const ids = stripes.map((s) => s.id);
    const moving = await sweepsInFlightTouching(tx, ids);
    const more = {
      rows: [...weighed.rows, ...stripes],
      inFlight: weighed.inFlight + moving,
      gaveBack: weighed.gaveBack || (await gaveBackAmong(tx, ids)),
    };
    const decision = await underStripeLocks(merchant, rest, more, now, decide);
    if (decision.ok) await setStripesStatus(tx, merchant.id, logicals, decision.value, now);
    return decision;
  });
}

/**
 * The merchant's stripes of these logical shards on this database, locked without waiting (StripeBusy when one is
 * held), under their fence rows (refuseFenced first). A logical shard the directory names with no stripe yet (a first
 * payment between its bit and its row, or one that failed in between) gets its stripe now, with the merchant's status:
 * that payment's own opening (INSERT IGNORE) then finds it, with the status this close gives it, rather than opening
 * one ACTIVE beside a CLOSED home row. No payment opens another meanwhile: the locking read holds the parent index's
 * range of this merchant.
 */
async function lockStripesOn(
  tx: Tx,
  shard: Shard,
  merchant: Account,
  logicals: readonly LogicalShard[],
): Promise<Account[]> {
  if (logicals.length === 0) return [];
  await refuseFenced(tx, shard.name, logicals);
  const named = (rows: Account[]) => rows.filter((s) => logicals.includes(shardOf('account', s.id)));
  const stripes = named(await noWait(shard, () => lockStripesNoWait(tx, merchant.id)));
  const missing = logicals.filter((l) => !stripes.some((s) => shardOf('account', s.id) === l));
  if (missing.length === 0) return stripes;
  for (const logical of missing)
    await insertStripeIfMissing(tx, {
      id: stripeIdOf(merchant.id, logical),
      ownerId: merchant.ownerId,
      type: 'MERCHANT',
      parentId: merchant.id,
      currency: merchant.currency,
      entity: merchant.entity,
      status: merchant.status,
    });
  return named(await noWait(shard, () => lockStripesNoWait(tx, merchant.id)));
}

/** A NOWAIT lock refused is StripeBusy (no cause: inTransaction would read its errno as a lock timeout's). */
async function noWait<T>(shard: Shard, lock: () => Promise<T>): Promise<T> {
  try {
    return await lock();
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === mysqlErrno.lockWaitTimeout || errno === lockNoWaitErrno) throw new StripeBusy(shard.name);
    throw error;
  }
}
