import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type Tx } from '@paygraph/shared/shards/transaction';
import { ShardUnavailable } from '@paygraph/shared/shards/unavailable';
import { shardAcquireTimeoutMs } from '@paygraph/shared/limits';
import { lockTerms } from '../db/advance-store';
import { advanceLockWaitersPerMerchantMax } from '../limits';
import type { AdvanceTermsRow } from '../db/schema/settlement';

/**
 * A merchant's advance lock, taken in this order: the merchant's turn in this process, a slot of
 * its home shard, then its terms row (`SELECT … FOR UPDATE`) in a transaction there, held until
 * `work` ends. An advance holds it from its offer to its last piece; a settlement of the merchant
 * and the advance worker take it too, so none runs beside an advance (docs/SETTLEMENT.md,
 * "Settlement advances (T+0)"). A merchant without terms has no row: the row lock is then no lock.
 */
export async function underAdvanceLock<T>(
  shards: ShardSet,
  merchantId: string,
  work: (tx: Tx, terms: AdvanceTermsRow | undefined) => Promise<T>,
): Promise<T> {
  const home = shards.of('account', merchantId);
  return oneAtATime(home.name, merchantId, () =>
    inHomeSlot(home, () => inTransaction(home, async (tx) => work(tx, await lockTerms(tx, merchantId)))),
  );
}

/** Runs `work` while no advance of the merchant runs, here or in another process. */
export function whileNoAdvanceRuns<T>(shards: ShardSet, merchantId: string, work: () => Promise<T>): Promise<T> {
  return underAdvanceLock(shards, merchantId, () => work());
}

/**
 * One holder per merchant at a time in this process, before it takes a connection for the
 * merchant's row lock: twenty-four requests waiting on the row lock would otherwise hold the
 * home shard's whole pool while the holder needs one more connection there for its piece. Other
 * processes' requests are serialised by the row lock itself. At most
 * advanceLockWaitersPerMerchantMax wait behind the holder: one more is refused at once with
 * ShardUnavailable (SHARD_UNAVAILABLE, retryable) on the merchant's home shard, before it runs.
 */
const running = new Map<string, { last: Promise<unknown>; queued: number }>();

async function oneAtATime<T>(homeShard: string, merchantId: string, run: () => Promise<T>): Promise<T> {
  const turn = running.get(merchantId) ?? { last: Promise.resolve(), queued: 0 };
  // `queued` counts the holder and those behind it.
  if (turn.queued > advanceLockWaitersPerMerchantMax)
    throw new ShardUnavailable(homeShard, `${turn.queued - 1} requests of merchant ${merchantId} already wait`);
  const mine = turn.last.then(run, run);
  const settled = mine.catch(() => undefined);
  turn.last = settled;
  turn.queued += 1;
  running.set(merchantId, turn);
  try {
    return await mine;
  } finally {
    turn.queued -= 1;
    if (turn.queued === 0 && running.get(merchantId) === turn) running.delete(merchantId);
  }
}

/**
 * Holders of the lock per home shard in this process: at most the shard's pool size less one.
 * The lock's transaction keeps one connection of the home shard for as long as its work runs,
 * and the work needs another there (the key's claim, the advance's row, the home stripe's piece
 * or settlement part): two merchants' holders on a pool of two would each keep one and wait for
 * the other until the acquire timeout (the b-advance bench: every advance failed at 64
 * merchants). A holder past the slots waits, like a request for a connection, at most
 * shardAcquireTimeoutMs, then SHARD_UNAVAILABLE (retryable).
 */
const slots = new WeakMap<Shard['pool'], { free: number; waiting: Array<() => void> }>();

async function inHomeSlot<T>(home: Shard, run: () => Promise<T>): Promise<T> {
  // Per pool, not per database name: a process with two shard sets on one database (tests) has two pools.
  const slot = slots.get(home.pool) ?? {
    free: Math.max(1, (home.pool.options.pool.connectionLimit ?? 2) - 1),
    waiting: [],
  };
  slots.set(home.pool, slot);
  if (slot.free > 0) slot.free -= 1;
  else await waitForSlot(home.name, slot);
  try {
    return await run();
  } finally {
    const next = slot.waiting.shift();
    if (next) next();
    else slot.free += 1;
  }
}

function waitForSlot(shardName: string, slot: { waiting: Array<() => void> }): Promise<void> {
  return new Promise((resolve, reject) => {
    const handOver = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      slot.waiting.splice(slot.waiting.indexOf(handOver), 1);
      reject(new ShardUnavailable(shardName, `no free advance slot within ${shardAcquireTimeoutMs} ms`));
    }, shardAcquireTimeoutMs);
    slot.waiting.push(handOver);
  });
}
