import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { ShardUnavailable } from '@paygraph/shared/shards/unavailable';
import { underAdvanceLock } from '../../src/services/advance-lock';
import { advanceLockWaitersPerMerchantMax } from '../../src/limits';
import { testShards } from '../../../../test/support/env';

/**
 * A merchant's requests for its advance lock wait in this process one behind the other, at most
 * advanceLockWaitersPerMerchantMax of them: one more is refused at once, SHARD_UNAVAILABLE
 * (retryable), before its work runs; the others run in turn once the holder ends.
 */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(4);
});
afterAll(async () => shards.close());

describe("a merchant's advance lock", () => {
  it('holds at most its bound of waiting requests, refuses one more at once, and runs the rest in order', async () => {
    const merchantId = newId('account', toLogicalShard(7));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holder = underAdvanceLock(shards, merchantId, async () => {
      holding();
      await released;
      return -1;
    });
    await held;
    const ran: number[] = [];
    const waiting = Array.from({ length: advanceLockWaitersPerMerchantMax }, (_, i) =>
      underAdvanceLock(shards, merchantId, async () => (ran.push(i), i)),
    );
    const refused = underAdvanceLock(shards, merchantId, async () => {
      throw new Error('a refused request must not run');
    });
    await expect(refused).rejects.toBeInstanceOf(ShardUnavailable);
    await expect(refused).rejects.toMatchObject({
      shard: shards.of('account', merchantId).name,
      detail: `${advanceLockWaitersPerMerchantMax} requests of merchant ${merchantId} already wait`,
    });
    // Another merchant is not held up by this one's queue.
    expect(await underAdvanceLock(shards, newId('account', toLogicalShard(7)), async () => 'other')).toBe('other');
    expect(ran).toEqual([]);
    release();
    expect(await holder).toBe(-1);
    expect(await Promise.all(waiting)).toEqual(waiting.map((_, i) => i));
    expect(ran).toEqual(waiting.map((_, i) => i));
    // Drained: the next request takes the lock at once.
    expect(await underAdvanceLock(shards, merchantId, async () => 'again')).toBe('again');
  });
});
