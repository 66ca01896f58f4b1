import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { rawRows } from '@paygraph/shared/db/raw';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { pendingMovedIn, pendingMovedOut } from '../../src/write-model/advances';
import { placedTables, rangeWhere } from '../../../../scripts/lib/move-tables';
import { testShards } from '../../../../test/support/env';

/**
 * A move of a merchant's pending between two of its stripes (a refund's top-up: transaction's sweep.ts) records each
 * side's advance offset on that stripe's database, under the sweep's id, which is made on the debited stripe's logical
 * shard. A shard move takes the rows of a logical shard as move-tables.ts places them: each row must be placed by the
 * stripe it stands for, or the credited side's row stays behind when its stripe moves (its outstanding then reads
 * wrong there, and a retried credit no longer finds its offset and repays the advance a second time).
 */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(2);
});
afterAll(async () => shards.close());

describe("a pending move's advance offsets", () => {
  it('are placed by the stripe each stands for, so a shard move takes each with its stripe', async () => {
    const { physicalOf } = shards.topology;
    const credited = 1;
    const debited = physicalOf.findIndex((p) => p !== physicalOf[credited]);
    expect(debited).toBeGreaterThan(0);
    const merchantId = newId('account', toLogicalShard(credited));
    const from = newId('account', toLogicalShard(debited));
    const to = newId('account', toLogicalShard(credited));
    // As debitForSweep names it: on the debited row's logical shard.
    const moveId = newId('sweep', toLogicalShard(debited));
    await inTransaction(shards.of('account', from), (tx) =>
      pendingMovedOut(tx, { moveId, merchantId, stripeId: from, amount: 40n }),
    );
    await inTransaction(shards.of('account', to), (tx) =>
      pendingMovedIn(tx, shards.of('account', to).name, { moveId, merchantId, stripeId: to, amount: 40n }),
    );
    const placed = placedTables.find((t) => t.table === 'advance_refund_offsets')!;
    for (const [stripe, logical] of [
      [from, debited],
      [to, credited],
    ] as const) {
      const range = rangeWhere(placed, logical, logical);
      const rows = await rawRows<{ stripe: string }>(
        shards.of('account', stripe),
        `SELECT stripe_account_id AS stripe FROM advance_refund_offsets WHERE refund_id = ? AND ${range.where}`,
        [moveId, ...range.values],
      );
      expect(rows, `the offset of ${stripe} in its logical shard's rows`).toEqual([{ stripe }]);
    }
  });
});
