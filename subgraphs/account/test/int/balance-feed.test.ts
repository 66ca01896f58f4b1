import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { startLedgerHintPublisher } from '@paygraph/shared/events/ledger-hints';
import { BalanceFeed, type FeedSettings, type FeedWatch } from '@paygraph/account/services/balance-feed';
import { accountsByIds } from '@paygraph/shared/ledger/index';
import { testRedisUrl, testShards, unique } from '../../../../test/support/env';
import { depositFromReserve } from '../../../../test/support/ledger';
import { inParallel, openAccountOn } from '../../../../test/support/balance-events';
import { balanceFeedCacheEntriesPerStripeMax } from '../../src/limits';

/**
 * The balance feed against real MySQL (and Redis): the work one event costs must not grow with
 * the number of watched accounts. A read woken by a hint asks for the hinted stripes only, in
 * one statement per shard; the timer's read asks for every watched stripe of a shard in one
 * statement; and whatever wakes a read, nothing is lost.
 */
let shards: ShardSet;
const feeds: BalanceFeed[] = [];
/** Long enough that no timer read happens during a test that counts hint reads. */
const quietPollMs = 600_000;
const waitMs = 10_000;

beforeAll(() => {
  shards = testShards(4);
});

afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.stop()));
});

afterAll(async () => {
  await shards.close();
});

/** A feed with its own pools, so that its statements are the only ones its shards count. */
function startFeed(settings: Partial<FeedSettings>): { feed: BalanceFeed; own: ShardSet } {
  const own = testShards(2);
  const feed = new BalanceFeed(own, {
    pollIntervalMs: quietPollMs,
    discoveryIntervalMs: quietPollMs,
    redisUrl: null,
    ...settings,
  });
  feed.start();
  feeds.push(feed);
  const stop = feed.stop.bind(feed);
  feed.stop = async () => {
    await stop();
    await own.close();
  };
  return { feed, own };
}

/** Opens `count` accounts on one physical shard and watches each; answers their ids and watches. */
async function watchMany(
  feed: BalanceFeed,
  physical: number,
  count: number,
): Promise<Array<{ id: string; watch: FeedWatch }>> {
  const ids = await inParallel(count, 8, () => openAccountOn(shards, physical, unique('watched')));
  const rows = await accountsByIds(shards.all[physical]!.db, ids);
  return ids.map((id) => ({
    id,
    watch: feed.watch(
      id,
      rows.filter((r) => r.id === id),
    ),
  }));
}

function statementsOn(shard: Shard): number {
  return shard.queryCount;
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const hint = (accountId: string, sequence: bigint) => JSON.stringify([[accountId, sequence.toString()]]);

describe('balance feed', () => {
  it('reads only the stripe a Redis hint names, in one statement, however many are watched', async () => {
    const redisUrl = testRedisUrl();
    const { feed, own } = startFeed({ redisUrl });
    const stopHints = startLedgerHintPublisher(redisUrl);
    try {
      const watched = await watchMany(feed, 0, 60);
      // Subscribing to Redis reads every watched stripe once (hints sent before are lost): let
      // that happen before counting; and the publisher drops hints until it is connected.
      await Promise.all([feed.subscribed, stopHints.ready()]);
      const before = {
        statements: statementsOn(own.all[0]!),
        hint: feed.stripesRead.hint,
        poll: feed.stripesRead.poll,
      };

      const target = watched[17]!;
      const controller = new AbortController();
      const woke = target.watch.wait(target.watch.tails(), controller.signal);
      await depositFromReserve(shards, target.id, 5n);
      await woke;

      expect(target.watch.tails().get(target.id)).toBe(1n);
      expect(feed.stripesRead.hint - before.hint).toBe(1);
      expect(feed.stripesRead.poll).toBe(before.poll);
      expect(statementsOn(own.all[0]!) - before.statements).toBe(1);
      expect(feed.cached(target.id, 1n, 10)?.map((e) => e.amount)).toEqual([5n]);
    } finally {
      await stopHints();
    }
  });

  it('serves hints that arrive together with one read per shard, of just those stripes', async () => {
    const { feed, own } = startFeed({});
    const watched = await watchMany(feed, 1, 30);
    const moved = [watched[2]!, watched[11]!, watched[29]!];
    for (const w of moved) await depositFromReserve(shards, w.id, 7n);
    const before = statementsOn(own.all[1]!);

    for (const w of moved) feed.onHints(hint(w.id, 1n));
    await until('every hinted stripe to be read', () => moved.every((w) => w.watch.tails().get(w.id) === 1n));

    expect(statementsOn(own.all[1]!) - before).toBe(1);
    expect(feed.stripesRead.hint).toBe(3);
    // The stripes nobody hinted were not read, and learned nothing.
    expect(watched.filter((w) => !moved.includes(w)).every((w) => w.watch.tails().get(w.id) === 0n)).toBe(true);
  });

  it('reads on at once when a stripe has more new entries than one read takes', async () => {
    const { feed, own } = startFeed({});
    const [target] = await watchMany(feed, 2, 1);
    const total = balanceFeedCacheEntriesPerStripeMax + 40;
    await inParallel(total, 16, () => depositFromReserve(shards, target!.id, 1n));
    const before = statementsOn(own.all[2]!);

    feed.onHints(hint(target!.id, BigInt(total)));
    await until('the whole ledger to be read', () => target!.watch.tails().get(target!.id) === BigInt(total));

    expect(statementsOn(own.all[2]!) - before).toBe(2);
    expect(feed.stripesRead.poll).toBe(0);
    // The cache keeps the newest entries, consecutive up to the tail.
    const cached = feed.cached(target!.id, BigInt(total - balanceFeedCacheEntriesPerStripeMax + 1), total)!;
    expect(cached.map((e) => e.sequence)).toEqual(
      Array.from({ length: balanceFeedCacheEntriesPerStripeMax }, (_, i) =>
        BigInt(total - balanceFeedCacheEntriesPerStripeMax + 1 + i),
      ),
    );
  });

  it('spends one read on a hint beyond the ledger and does not loop on it', async () => {
    const { feed, own } = startFeed({});
    const [target] = await watchMany(feed, 3, 1);
    const before = statementsOn(own.all[3]!);

    feed.onHints(hint(target!.id, 999_999n));
    await until('the hinted read', () => feed.stripesRead.hint === 1);
    // The read has ended and nothing more is due: a loop would show as a second statement here.
    await feed.idle();

    expect(statementsOn(own.all[3]!) - before).toBe(1);
    expect(target!.watch.tails().get(target!.id)).toBe(0n);
  });

  it('reads every watched stripe of a shard in one statement per timer read, and misses nothing without hints', async () => {
    const { feed, own } = startFeed({ pollIntervalMs: 50 });
    const watched = await watchMany(feed, 0, 40);
    const moved = watched.filter((_, i) => i % 5 === 0);
    const before = { statements: statementsOn(own.all[0]!), reads: feed.ticks, stripes: feed.stripesRead.poll };
    await Promise.all(moved.map((w) => depositFromReserve(shards, w.id, 3n)));

    await until('every moved stripe to be read', () => moved.every((w) => w.watch.tails().get(w.id) === 1n));

    const reads = feed.ticks - before.reads;
    expect(reads).toBeGreaterThan(0);
    expect(statementsOn(own.all[0]!) - before.statements).toBe(reads);
    expect(feed.stripesRead.poll - before.stripes).toBe(reads * watched.length);
  });

  it('forgets an account once its last watcher is gone: its hints cost nothing', async () => {
    const { feed, own } = startFeed({});
    const [target] = await watchMany(feed, 1, 1);
    const second = feed.watch(target!.id, await accountsByIds(shards.all[1]!.db, [target!.id]));
    target!.watch.release();
    expect(feed.stripesOf(target!.id)).toEqual([target!.id]);
    second.release();
    expect(feed.stripesOf(target!.id)).toEqual([]);

    await depositFromReserve(shards, target!.id, 1n);
    const before = statementsOn(own.all[1]!);
    feed.onHints(hint(target!.id, 1n));
    await feed.idle();
    expect(statementsOn(own.all[1]!) - before).toBe(0);
    expect(feed.ticks).toBe(0);
  });

  it('stop() returns once a running read has ended, and starts none after', async () => {
    const { feed, own } = startFeed({});
    const [target] = await watchMany(feed, 2, 1);
    await depositFromReserve(shards, target!.id, 4n);

    feed.onHints(hint(target!.id, 1n));
    // The hints' read starts on the turn of the event loop they were scheduled for; its statement is then in flight.
    await new Promise((resolve) => setImmediate(resolve));
    expect(feed.ticks).toBe(1);
    // The feed's own stop, not startFeed's, which also closes the pools (afterEach does that).
    await BalanceFeed.prototype.stop.call(feed);

    // Had stop() returned mid-read, the entry would not be known yet.
    expect(target!.watch.tails().get(target!.id)).toBe(1n);
    const after = statementsOn(own.all[2]!);
    feed.onHints(hint(target!.id, 2n));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statementsOn(own.all[2]!)).toBe(after);
    expect(feed.ticks).toBe(1);
  });
});
