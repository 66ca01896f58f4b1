import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { newId } from '@paygraph/shared/ids';
import { ownerLinkShard } from '@paygraph/transaction/domain/external-accounts';
import { LinkEventFeed } from '@paygraph/transaction/services/link-event-feed';
import { linkEventHead, recordLinkChange } from '@paygraph/transaction/services/link-events';
import { eventsAfter } from '@paygraph/transaction/db/link-events';
import { linkEventOwnersWatchedMax, linkEventStreamsPerOwnerMax } from '@paygraph/transaction/limits';
import { testShards, unique } from '../../../../test/support/env';

/**
 * The link event feed of one process (services/link-event-feed.ts) against real shards: it wakes a stream once its
 * owner's head row moves past the stream's position, lets an aborted wait go, and follows at most
 * linkEventStreamsPerOwnerMax streams of one owner and linkEventOwnersWatchedMax owners, the stream past either
 * refused (the resolver answers SUBSCRIPTION_LIMIT_REACHED). And events written concurrently for one owner are
 * numbered 1…n without a gap or a repeat.
 */
let shards: ShardSet;
let feed: LinkEventFeed;
beforeAll(() => {
  shards = testShards(2);
  feed = new LinkEventFeed(shards, { pollIntervalMs: 20 });
  feed.start();
});

afterAll(async () => {
  await feed.stop();
  await shards.close();
});

/** One event of the owner's, as a link's change writes it (the link need not exist for the record). */
async function oneEvent(ownerId: string): Promise<void> {
  const link = { id: newId('externalAccount', ownerLinkShard(ownerId)), ownerId };
  await inTransaction(shards.byLogical(ownerLinkShard(ownerId)), (tx) =>
    recordLinkChange(tx, link, 'PENDING', new Date()),
  );
}

describe('the link event feed', () => {
  it("wakes a stream when its owner's head moves past its position, and lets an aborted wait go", async () => {
    const ownerId = unique('feed-owner');
    const watch = feed.watch(ownerId, 0n)!;
    const woken = watch.wait(0n, new AbortController().signal);
    const abort = new AbortController();
    const abandoned = watch.wait(5n, abort.signal);
    await oneEvent(ownerId);
    await woken;
    expect(watch.head()).toBe(1n);
    abort.abort();
    await expect(abandoned).rejects.toMatchObject({ name: 'AbortError' });
    watch.release();
  });

  it('follows at most linkEventStreamsPerOwnerMax streams of one owner and linkEventOwnersWatchedMax owners', () => {
    const ownerId = unique('feed-busy');
    const watches = Array.from({ length: linkEventStreamsPerOwnerMax }, () => feed.watch(ownerId, 0n));
    expect(watches.every((w) => w !== null)).toBe(true);
    expect(feed.watch(ownerId, 0n)).toBeNull();
    watches[0]!.release();
    const again = feed.watch(ownerId, 0n);
    expect(again).not.toBeNull();
    for (const w of [again, ...watches.slice(1)]) w!.release();

    const prefix = unique('feed-many');
    const many = Array.from({ length: linkEventOwnersWatchedMax }, (_, i) => feed.watch(`${prefix}-${i}`, 0n));
    expect(many.every((w) => w !== null)).toBe(true);
    expect(feed.watch(`${prefix}-one-more`, 0n)).toBeNull();
    for (const w of many) w!.release();
    const freed = feed.watch(`${prefix}-one-more`, 0n);
    expect(freed).not.toBeNull();
    freed!.release();
  });

  it("numbers one owner's concurrent events 1…n without a gap or a repeat", async () => {
    const ownerId = unique('feed-race');
    await Promise.all(Array.from({ length: 40 }, () => oneEvent(ownerId)));
    expect(await linkEventHead(shards, ownerId)).toBe(40n);
    const db = shards.byLogical(ownerLinkShard(ownerId)).db;
    expect((await eventsAfter(db, ownerId, 0n, 100)).map((e) => Number(e.sequence))).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });
});
