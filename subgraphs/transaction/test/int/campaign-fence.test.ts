import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { fenceOn, unfenceOn } from '@paygraph/shared/control/index';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { createCampaign } from '../../src/services/campaign';
import type { ServiceContext } from '../../src/services/context';
import { serviceContext } from '../support/service-context';

/**
 * A campaign and its funding account's count of campaigns are rows of that account's logical shard, and a shard move
 * carries them: createCampaign writes them under the range's fence where the write happens (refuseFenced), and claims
 * its key (anchored on that account) under it too (shared's idempotency/store/keys.ts), so a process whose map missed
 * the fence cannot write them after the mover's last catch-up (its verify would refuse, and the range stay fenced). On a database of this file's own: a fence here would refuse other files' postings.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let shard: Shard;
const fundingShard = toLogicalShard(9);

beforeAll(async () => {
  dbs = await scratchDatabases('campaignfence', 1);
  // Follows no map: it routes by its configuration, as a process that missed the fence would.
  shards = openShards({ urls: dbs.urls[0]!, poolSize: 2 });
  shard = shards.all[0]!;
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

function context(sub: string): ServiceContext {
  return serviceContext(shards, { sub, role: 'customer' });
}

/** The funding account's campaigns, count row and claimed keys (the creation's key is anchored on it) on the database. */
async function written(fundingAccountId: string): Promise<{ campaigns: number; counts: number; claimed: number }> {
  const [row] = await rawRows<{ campaigns: number; counts: number; claimed: number }>(
    shard,
    `SELECT (SELECT COUNT(*) FROM campaigns WHERE funding_account_id = ?) AS campaigns,
            (SELECT COUNT(*) FROM campaign_counts WHERE funding_account_id = ?) AS counts,
            (SELECT COUNT(*) FROM idempotency_keys WHERE anchor_id = ?) AS claimed`,
    [fundingAccountId, fundingAccountId, fundingAccountId],
  );
  return { campaigns: Number(row!.campaigns), counts: Number(row!.counts), claimed: Number(row!.claimed) };
}

describe('createCampaign and a fence on its database', () => {
  it('writes nothing and answers SHARD_UNAVAILABLE when the funding account is fenced there', async () => {
    const ownerId = unique('campaign-fence');
    const fundingAccountId = newId('account', fundingShard);
    await insertAccount(shard.db, {
      id: fundingAccountId,
      ownerId,
      type: 'MERCHANT',
      currency: 'EUR',
      status: 'ACTIVE',
    });
    const input = { idempotencyKey: unique('key'), fundingAccountId, percentOffBps: 500 };
    await fenceOn(shard, fundingShard, fundingShard, 'fenced');
    try {
      const refused = await createCampaign(context(ownerId), input).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(String(refused)).toContain('is unavailable; retry');
      expect(await written(fundingAccountId)).toEqual({ campaigns: 0, counts: 0, claimed: 0 });
    } finally {
      await unfenceOn(shard, fundingShard, fundingShard, 'fenced');
    }
    // Open again, the same request makes it: the refusal above was the fence's, not the request's.
    const made = await createCampaign(context(ownerId), input);
    expect(made.ok).toBe(true);
    expect(await written(fundingAccountId)).toEqual({ campaigns: 1, counts: 1, claimed: 1 });
  });
});
