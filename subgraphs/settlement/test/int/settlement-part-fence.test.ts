import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { fenceOn, unfenceOn } from '@paygraph/shared/control/index';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { log } from '@paygraph/shared/log';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { lockingReadWaits } from '../../../../test/support/lock-waits';
import { runSettlement } from '../../src/services/settle';
import { setAdvanceTermsFor } from '../../src/services/advances';
import { extendContext } from '../../src/context';

/**
 * A settlement's part that moves nothing posts nothing, so no posting's lock reads its stripe's fence row, and the
 * settlement's finish is a write of its own: both are written after the claim (which reads the fence and commits
 * first), and either, committed on a source after a move's last catch-up, would be lost at the target. Each reads its
 * fence row after its writes. Here the run waits, between its claim and its part, for the merchant's advance lock (its
 * terms row, held by the test) while the range is fenced: what the database holds of the settlement when the fence
 * write returns is all it ever holds. On a database of this file's own, a process on no map.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let shard: Shard;
const merchantShard = toLogicalShard(43);

beforeAll(async () => {
  dbs = await scratchDatabases('partfence', 1);
  // Connections for the run's claim, its advance lock and its part, the test's lock, the fence write and the reads.
  shards = openShards({ urls: dbs.urls[0]!, poolSize: 6 });
  shard = shards.all[0]!;
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

/** A merchant of the logical shard with advance terms (so its advance lock is a row lock) and nothing to settle. */
async function merchant(): Promise<string> {
  const id = newId('account', merchantShard);
  await insertAccount(shard.db, {
    id,
    ownerId: unique('partfence'),
    type: 'MERCHANT',
    currency: 'EUR',
    status: 'ACTIVE',
  });
  const operator = extendContext(
    { identity: { sub: unique('partfence-op'), role: 'operator' }, shards, log: log() },
    { feeBpsDefault: 250 },
  );
  const terms = { merchantAccountId: id, maxAdvanceBps: 5000, feeBps: 300, outstandingMax: '100000' };
  expect((await setAdvanceTermsFor(operator, terms)).ok).toBe(true);
  return id;
}

/** The merchant's settlements and their parts on the database. */
async function written(merchantId: string): Promise<string[]> {
  const rows = await rawRows<{ row: string }>(
    shard,
    `SELECT CONCAT('settlement ', id, ' ', status) AS \`row\` FROM settlements WHERE merchant_account_id = ?
     UNION ALL SELECT CONCAT('part ', p.settlement_id) FROM settlement_parts p
       JOIN settlements s ON s.id = p.settlement_id WHERE s.merchant_account_id = ?`,
    [merchantId, merchantId],
  );
  return rows.map((r) => r.row).sort();
}

/** Whether a statement on this database is locking the merchant's terms (the run's advance lock, waiting for the test's). */
const aTermsLockWaits = (merchantId: string) => lockingReadWaits(shard, `%advance_terms%${merchantId}%`);

describe("a settlement's part and finish and a fence on its database", () => {
  it('writes nothing after the fence write returns, when the range is fenced between its claim and its part', async () => {
    const merchantId = await merchant();
    let release!: () => void;
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const holder = shard.db.transaction(async (tx) => {
      await tx.execute(
        sql`SELECT merchant_account_id FROM advance_terms WHERE merchant_account_id = ${merchantId} FOR UPDATE`,
      );
      held();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await holding;
    const run = runSettlement(shards, merchantId, '2026-11-20', () => new Date('2026-11-25T12:00:00Z'), {
      feeBpsDefault: 250,
    }).catch((e: unknown) => e);
    const deadline = Date.now() + 10_000;
    while (!(await aTermsLockWaits(merchantId))) {
      if (Date.now() > deadline) throw new Error(`the run did not wait for the advance lock: ${String(await run)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    let atFence: string[] | null = null;
    const fenced = fenceOn(shard, merchantShard, merchantShard, 'fenced').then(async () => {
      atFence = await written(merchantId);
    });
    try {
      // Long enough for a fence write that waits for nothing to return while the terms are still locked.
      await new Promise((resolve) => setTimeout(resolve, 500));
      release();
      await holder;
      await fenced;
      await run;
      expect(atFence).not.toBeNull();
      expect(await written(merchantId)).toEqual(atFence);
    } finally {
      release();
      await unfenceOn(shard, merchantShard, merchantShard, 'fenced');
    }
  });
});
