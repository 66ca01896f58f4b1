import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { runSettlement } from '../../src/services/settle';
import { setAdvanceTermsFor } from '../../src/services/advances';
import { extendContext } from '../../src/context';
import { log } from '@paygraph/shared/log';
import { unique } from '../../../../test/support/env';

/**
 * A merchant's settlement of a date is claimed once (INSERT IGNORE on the pair), and the claim moves with the
 * merchant's logical shard (the settlement's id ends with it): claimed on a fenced source after the mover's copy read
 * the table, it would be lost at the target, where a second run would claim the pair again under another id. So the
 * claim reads its fence row in share mode in its transaction and is refused while it is not open. On a database of this
 * file's own, a process on no map: a fence here would refuse other files' writes.
 */
let scratch: ScratchShard;
let shard: Shard;
let shards: ShardSet;
const merchantShard = toLogicalShard(41);
const reasons: FenceReason[] = ['fenced', 'moved', 'arriving'];

beforeAll(async () => {
  scratch = await scratchShard('settlementfence');
  ({ shard, shards } = scratch);
});

afterAll(async () => scratch?.close());

const businessDate = '2026-11-20';
const settle = (merchantId: string) =>
  runSettlement(shards, merchantId, businessDate, () => new Date('2026-11-25T12:00:00Z'), { feeBpsDefault: 250 });

/** A merchant of the logical shard, with nothing to settle: its run claims the date, then settles it at zero. */
async function merchant(): Promise<string> {
  const id = newId('account', merchantShard);
  await insertAccount(shard.db, {
    id,
    ownerId: unique('settlementfence'),
    type: 'MERCHANT',
    currency: 'EUR',
    status: 'ACTIVE',
  });
  return id;
}

async function settlementsOf(merchantAccountId: string): Promise<string[]> {
  const rows = await rawRows<{ id: string }>(shard, 'SELECT id FROM settlements WHERE merchant_account_id = ?', [
    merchantAccountId,
  ]);
  return rows.map((r) => r.id);
}

describe("a settlement's claim and a fence on its database", () => {
  it("claims nothing while the merchant's logical shard is not open there, then claims the date once", async () => {
    const merchantId = await merchant();
    for (const reason of reasons) {
      const refused = await whileFenced(shard, merchantShard, reason, () =>
        settle(merchantId).catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await settlementsOf(merchantId)).toEqual([]);
    }
    const first = await settle(merchantId);
    if (!first.ok) throw new Error(JSON.stringify(first.error));
    // A second run answers the first's settlement of the date.
    const again = await settle(merchantId);
    expect(again.ok && again.value.id).toBe(first.value.id);
    expect(await settlementsOf(merchantId)).toEqual([first.value.id]);
  });
});

describe("a merchant's advance terms and a fence on its database", () => {
  const operator = () =>
    extendContext(
      { identity: { sub: unique('settlementfence-op'), role: 'operator' }, shards, log: log() },
      {
        feeBpsDefault: 250,
      },
    );
  const terms = async (merchantId: string) =>
    (
      await rawRows<{ fee: number }>(shard, 'SELECT fee_bps AS fee FROM advance_terms WHERE merchant_account_id = ?', [
        merchantId,
      ])
    ).map((r) => Number(r.fee));

  it("keeps no operator's terms while the merchant's logical shard is not open there, and keeps them once open", async () => {
    const merchantId = await merchant();
    const input = { merchantAccountId: merchantId, maxAdvanceBps: 5000, feeBps: 300, outstandingMax: '100000' };
    for (const reason of reasons) {
      const refused = await whileFenced(shard, merchantShard, reason, () =>
        setAdvanceTermsFor(operator(), input).catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await terms(merchantId)).toEqual([]);
    }
    expect((await setAdvanceTermsFor(operator(), input)).ok).toBe(true);
    expect(await terms(merchantId)).toEqual([300]);
  });
});
