import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { insertAccount, stripeIdOf, stripeShardBit } from '@paygraph/shared/ledger/index';
import { log } from '@paygraph/shared/log';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { merchantsWithAdvancesLeft, upsertTerms } from '../../src/db/advance-store';
import type { AdvanceRow } from '../../src/db/schema/settlement';
import { completeAdvance, recordAdvance } from '../../src/services/advance-pieces';
import { advanceSettlementFor, finishAdvancesLeft } from '../../src/services/advances';
import { extendContext } from '../../src/context';

/**
 * An advance's row (advances, on the merchant's home shard) moves with its id's logical shard, the merchant's: written
 * on a fenced source after the mover's copy read the table, a new advance would be lost at the target, and its mark
 * (PAID or REVERSED) lost there would leave it PENDING at the target while the source says it ended. So each write of
 * it reads that fence row in share mode in its own transaction and is refused while it is not open. The merchant's
 * stripe is on another logical shard, open: a refused mark finds its piece posted, and the money moved once. On a
 * database of this file's own, a process on no map: a fence here would refuse other files' writes.
 */
let scratch: ScratchShard;
let shard: Shard;
let shards: ShardSet;
const merchantShard = toLogicalShard(45);
const stripeShard = toLogicalShard(46);
const reasons: FenceReason[] = ['fenced', 'moved', 'arriving'];
const now = () => new Date();
/** Enough for every PENDING advance this file's database holds. */
const advancesLeftScanMax = 1_000;

beforeAll(async () => {
  scratch = await scratchShard('advancefence');
  ({ shard, shards } = scratch);
});

afterAll(async () => scratch?.close());

/** A merchant of the fenced logical shard with terms, and its stripe on an open one with 10,000 pending. */
async function merchant(): Promise<{ merchantId: string; stripeId: string }> {
  const merchantId = newId('account', merchantShard);
  const stripeId = stripeIdOf(merchantId, stripeShard);
  const ownerId = unique('advancefence');
  const common = { ownerId, type: 'MERCHANT' as const, currency: 'EUR', status: 'ACTIVE' as const };
  await insertAccount(shard.db, { ...common, id: merchantId, stripeShards: stripeShardBit(stripeShard) });
  await insertAccount(shard.db, { ...common, id: stripeId, parentId: merchantId, pending: 10_000n });
  await upsertTerms(shard.db, {
    ...{ merchantAccountId: merchantId, currency: 'EUR', maxAdvanceBps: 5000, feeBps: 250 },
    ...{ outstandingMax: 100_000n, updatedBy: 'advancefence', updatedAt: new Date() },
  });
  return { merchantId, stripeId };
}

/** A PENDING advance of 4,000 (fee 100) from the stripe, not yet written. */
function advanceOf(merchantId: string, stripeId: string): AdvanceRow {
  return {
    id: newId('advance', merchantShard),
    merchantAccountId: merchantId,
    currency: 'EUR',
    amount: 4_000n,
    feeAmount: 100n,
    status: 'PENDING',
    createdAt: new Date(),
    completedAt: null,
    plan: JSON.stringify([{ stripeAccountId: stripeId, amount: '4000', feeAmount: '100' }]),
  };
}

async function advancesOf(merchantId: string): Promise<string[]> {
  const rows = await rawRows<{ status: string }>(shard, 'SELECT status FROM advances WHERE merchant_account_id = ?', [
    merchantId,
  ]);
  return rows.map((r) => r.status);
}

/** The stripe's balances, its pieces and its outstanding advance. */
async function stripeState(stripeId: string) {
  const [account] = await rawRows<{ a: string; p: string }>(
    shard,
    'SELECT available AS a, pending AS p FROM accounts WHERE id = ?',
    [stripeId],
  );
  const [pieces] = await rawRows<{ n: number }>(
    shard,
    'SELECT COUNT(*) AS n FROM advance_pieces WHERE stripe_account_id = ?',
    [stripeId],
  );
  const [outstanding] = await rawRows<{ o: string }>(
    shard,
    'SELECT outstanding AS o FROM advance_outstanding WHERE stripe_account_id = ?',
    [stripeId],
  );
  return {
    available: BigInt(account!.a),
    pending: BigInt(account!.p),
    pieces: Number(pieces!.n),
    outstanding: BigInt(outstanding?.o ?? 0),
  };
}

const paidOnce = { available: 3_900n, pending: 6_000n, pieces: 1, outstanding: 4_000n };

describe("an advance's row and a fence on its database", () => {
  it("writes no advance while the merchant's logical shard is not open there, and writes it once open", async () => {
    const { merchantId, stripeId } = await merchant();
    const row = advanceOf(merchantId, stripeId);
    for (const reason of reasons) {
      const refused = await whileFenced(shard, merchantShard, reason, () =>
        recordAdvance(shards, row).catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await advancesOf(merchantId)).toEqual([]);
    }
    await recordAdvance(shards, row);
    expect(await advancesOf(merchantId)).toEqual(['PENDING']);
  });

  it('leaves a paid advance PENDING while fenced, its piece posted once, and the worker marks it PAID once open', async () => {
    const { merchantId, stripeId } = await merchant();
    const row = advanceOf(merchantId, stripeId);
    await recordAdvance(shards, row);
    for (const reason of reasons) {
      const refused = await whileFenced(shard, merchantShard, reason, () =>
        completeAdvance(shards, row, now).catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await advancesOf(merchantId)).toEqual(['PENDING']);
      // The piece moved the money on the first attempt, and no later one moved it again.
      expect(await stripeState(stripeId)).toEqual(paidOnce);
    }
    expect(await finishAdvancesLeft(shards, merchantId, now)).toBe(1);
    expect(await advancesOf(merchantId)).toEqual(['PAID']);
    expect(await stripeState(stripeId)).toEqual(paidOnce);
  });

  it("leaves a range's PENDING advances out of the worker's scan while that range is not open here", async () => {
    const { merchantId, stripeId } = await merchant();
    await recordAdvance(shards, advanceOf(merchantId, stripeId));
    // Moved away, its rows here are copies no completion here finishes: kept in the oldest-first scan, they would fill
    // its limit pass after pass.
    for (const reason of reasons) {
      const scanned = await whileFenced(shard, merchantShard, reason, () =>
        merchantsWithAdvancesLeft(shard.db, advancesLeftScanMax),
      );
      expect(scanned).not.toContain(merchantId);
    }
    expect(await merchantsWithAdvancesLeft(shard.db, advancesLeftScanMax)).toContain(merchantId);
  });

  it('answers an advance asked while fenced FencedWrite, nothing paid, and pays it once open', async () => {
    const { merchantId, stripeId } = await merchant();
    const ctx = extendContext(
      { identity: { sub: unique('advancefence-op'), role: 'operator' }, shards, log: log() },
      { feeBpsDefault: 250 },
    );
    const input = { idempotencyKey: unique('advance'), merchantAccountId: merchantId, amount: '4000' };
    for (const reason of reasons) {
      const refused = await whileFenced(shard, merchantShard, reason, () =>
        advanceSettlementFor(ctx, input).catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await advancesOf(merchantId)).toEqual([]);
      expect(await stripeState(stripeId)).toEqual({ available: 0n, pending: 10_000n, pieces: 0, outstanding: 0n });
    }
    const paid = await advanceSettlementFor(ctx, input);
    expect(paid.ok && paid.value.status).toBe('PAID');
    expect(await advancesOf(merchantId)).toEqual(['PAID']);
    expect(await stripeState(stripeId)).toEqual(paidOnce);
  });
});
