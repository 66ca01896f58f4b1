import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { idempotencyKeys } from '@paygraph/shared/idempotency/store/schema';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { externalTransfers } from '../../src/db/schema/transactions';
import { placeLegacyKeys } from '../../src/services/legacy-keys';

/**
 * The legacy-key data step writes each old key where its record's anchor lives, and a key row moves with its anchor's
 * logical shard (scripts/lib/move-tables.ts): the step runs on a process that follows no map (npm run migrate), so it
 * writes a key only under its anchor's open fence row, read in share mode in the write's transaction, as a claim does.
 * On a database of this file's own: a fence here would refuse other files' postings.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(29);
const openShard = toLogicalShard(30);

beforeAll(async () => {
  scratch = await scratchShard('legacyfence');
  ({ shards, shard } = scratch);
});

afterAll(async () => scratch?.close());

/** A deposit into an account of the logical shard, and its key as it was claimed before keys were anchored. */
async function legacyDeposit(logical: number): Promise<{ accountId: string; callerId: string }> {
  const accountId = newId('account', toLogicalShard(logical));
  const depositId = newId('deposit', toLogicalShard(logical));
  const callerId = unique('legacyfence');
  await shard.db.insert(externalTransfers).values({
    id: depositId,
    kind: 'DEPOSIT',
    accountId,
    amount: 100n,
    currency: 'USD',
    status: 'SUCCEEDED',
    createdBy: callerId,
  });
  await shard.db.insert(idempotencyKeys).values({
    anchorId: '',
    callerId,
    idempotencyKey: 'k',
    operation: 'DEPOSIT',
    requestHash: '0'.repeat(64),
    resourceId: depositId,
    createdAt: new Date(),
  });
  return { accountId, callerId };
}

/** The caller's key rows, by anchor ('' for the legacy one). */
async function keysOf(callerId: string): Promise<string[]> {
  const rows = await rawRows<{ a: string }>(
    shard,
    'SELECT anchor_id AS a FROM idempotency_keys WHERE caller_id = ? ORDER BY anchor_id',
    [callerId],
  );
  return rows.map((r) => r.a);
}

describe('the legacy-key data step and a fence on its database', () => {
  it('writes no key into a range fenced there and keeps its legacy row, places the others, and it once open', async () => {
    const [fenced, open] = [await legacyDeposit(fencedShard), await legacyDeposit(openShard)];
    await whileFenced(shard, fencedShard, 'fenced', async () => {
      const counts = await placeLegacyKeys(shards);
      expect(await keysOf(fenced.callerId)).toEqual(['']);
      expect(await keysOf(open.callerId)).toEqual([open.accountId]);
      expect(counts).toEqual({ placed: 1, unplaced: 0, fenced: 1 });
    });
    // Open again, the next run places it: it was kept by the fence alone.
    expect(await placeLegacyKeys(shards)).toEqual({ placed: 1, unplaced: 0, fenced: 0 });
    expect(await keysOf(fenced.callerId)).toEqual([fenced.accountId]);
  });
});
