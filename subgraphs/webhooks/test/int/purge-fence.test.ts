import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { webhookDeliveries } from '../../src/db/schema/webhooks';
import { purgeFinishedHere } from '../../src/services/writable-here';

/**
 * The delivery purge deletes rows a shard move carries (a delivery moves with its logical shard) on every database: a
 * delete on a fenced source after the mover's last catch-up, or of a target's arriving copy, leaves the two sides
 * unlike (the move's verify refuses, the range stays fenced). So a purge batch reads every fence row in share mode
 * first in its transaction and deletes only deliveries of logical shards open there. On a database of this file's own:
 * a fence here would refuse other files' writes.
 */
let scratch: ScratchShard;
let shard: Shard;
const fencedShard = toLogicalShard(25);
const openShard = toLogicalShard(26);

beforeAll(async () => {
  scratch = await scratchShard('deliverypurgefence');
  ({ shard } = scratch);
});

afterAll(async () => scratch?.close());

const longAgo = new Date('2003-01-01T00:00:00Z');
const cutoff = new Date('2003-02-01T00:00:00Z');

/** Finished deliveries recorded long before the cut-off, of these logical shards, oldest first. */
async function finished(logicalShards: readonly number[]): Promise<string[]> {
  const endpointId = newId('webhookEndpoint', openShard);
  const rows = logicalShards.map((l, i) => {
    const stripeId = newId('account', toLogicalShard(l));
    return {
      id: newId('webhookDelivery', toLogicalShard(l)),
      endpointId,
      stripeId,
      accountId: stripeId,
      sequence: BigInt(i + 1),
      eventType: 'balance.changed',
      body: '{}',
      status: 'SUCCEEDED' as const,
      attempts: 1,
      createdAt: new Date(longAgo.getTime() + i * 1000),
    };
  });
  await shard.db.insert(webhookDeliveries).values(rows);
  return rows.map((r) => r.id);
}

async function left(ids: readonly string[]): Promise<string[]> {
  const rows = await rawRows<{ id: string }>(
    shard,
    'SELECT id FROM webhook_deliveries WHERE id IN (?) ORDER BY created_at',
    [ids],
  );
  return rows.map((r) => r.id);
}

const fenced = <T>(reason: FenceReason, run: () => Promise<T>): Promise<T> =>
  whileFenced(shard, fencedShard, reason, run);

describe('the webhook delivery purge and a fence on its database', () => {
  it('deletes no delivery of a range fenced, arriving or moved away there, nor lets them fill its batch', async () => {
    for (const reason of ['fenced', 'arriving', 'moved'] as const) {
      // The fenced range's two deliveries oldest, in a batch of 2: an open one is deleted only if they are left out.
      const ids = await finished([fencedShard, fencedShard, openShard]);
      expect(await fenced(reason, () => purgeFinishedHere(shard, cutoff, 2))).toBe(1);
      expect(await left(ids)).toEqual(ids.slice(0, 2));
      // Open again, the next batch deletes them: they were kept by the fence alone.
      expect(await purgeFinishedHere(shard, cutoff, 2)).toBe(2);
      expect(await left(ids)).toEqual([]);
    }
  });
});
