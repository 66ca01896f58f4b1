import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { balanceMismatches } from '../../src/ledger/store/health';
import { insertAccount, postOne, type PostingOutcome, systemAccountId, type PostingSpec } from '../../src/ledger/index';
import { newId, type LogicalShard } from '../../src/ids';
import { postBatch } from '../../src/ledger/engine/batch';
import { type EngineMode, type PostingSettings } from '../../src/config/shared';
import { balanceMinorUnitsMax, balanceMinorUnitsMin } from '../../src/limits';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { testConfig, testShards, unique } from '../../../../test/support/env';
import { accountRow, entriesOf } from '../../../../test/support/ledger';

/**
 * BALANCE_LIMIT on real MySQL, for every engine: a posting that would take any balance (a
 * client's, or the shard's reserve, which deposits push down) past what BIGINT holds is
 * refused alone and writes nothing, while the postings beside it in the same transaction
 * commit. Each engine gets a currency of its own, so its reserve is its own: no other test
 * deposits in these currencies, and pinning their reserves disturbs nobody.
 */
let shards: ShardSet;
let shard: Shard;
let logical: LogicalShard;
/** The shards' posting settings: each test sets its engine here. */
const posting: PostingSettings = { ...testConfig().posting };

beforeAll(() => {
  shards = testShards(6, posting);
  shard = shards.all[1]!;
  logical = shards.logicalOn(shard)[0]!;
});

afterEach(() => {
  posting.engine = 'merged';
});
afterAll(async () => shards.close());

const currencyOf: Record<EngineMode, string> = { merged: 'SEK', single: 'NOK', naive: 'DKK' };

async function open(currency: string, type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL'): Promise<string> {
  const id = newId('account', logical);
  await insertAccount(shard.db, { id, ownerId: unique('limit'), type, currency, status: 'ACTIVE' });
  return id;
}

function move(
  currency: string,
  from: string,
  to: string,
  amount: bigint,
  toBucket: 'AVAILABLE' | 'PENDING' = 'AVAILABLE',
): PostingSpec {
  return {
    id: newId('posting', logical),
    kind: 'TEST',
    refId: null,
    dedupeKey: unique('limit'),
    currency,
    legs: [
      { accountId: from, bucket: 'AVAILABLE', amount: -amount },
      { accountId: to, bucket: toBucket, amount },
    ],
  };
}

const item = (spec: PostingSpec) => ({
  kind: 'spec' as const,
  spec,
  finish: async (_tx: unknown, outcome: PostingOutcome) => outcome,
});

async function balances(ids: readonly string[]): Promise<Array<[bigint, bigint, bigint]>> {
  return Promise.all(
    ids.map(async (id) => {
      const row = (await accountRow(shards, id))!;
      return [row.available, row.pending, row.lastSequence] as [bigint, bigint, bigint];
    }),
  );
}

describe('BALANCE_LIMIT', () => {
  for (const engine of ['merged', 'single', 'naive'] as const) {
    it(`refuses a posting that would push the reserve or a client past BIGINT, alone and writing nothing (${engine})`, async () => {
      posting.engine = engine;
      const currency = currencyOf[engine];
      const reserve = await systemAccountId(shards, shard, 'RESERVE', currency);
      const clearing = await systemAccountId(shards, shard, 'CLEARING', currency);
      const [whale, other, payer, payee] = [
        await open(currency),
        await open(currency),
        await open(currency),
        await open(currency),
      ];
      const post = (spec: PostingSpec) => postOne(shard, item(spec));
      expect((await post(move(currency, reserve, payer, 1_000n))).status).toBe('APPLIED');
      // The whale takes the reserve to one cent above the BIGINT floor.
      const pin = (await accountRow(shards, reserve))!.available - balanceMinorUnitsMin - 1n;
      expect((await post(move(currency, reserve, whale, pin))).status).toBe('APPLIED');
      expect((await accountRow(shards, reserve))!.available).toBe(balanceMinorUnitsMin + 1n);

      const before = await balances([reserve, other, payer, payee, whale, clearing]);
      const overflowReserve = move(currency, reserve, other, 2n);
      // As a cross-shard credit would: clearing pays the whale one cent more than it can hold.
      const overflowWhale = move(currency, clearing, whale, balanceMinorUnitsMax - pin + 1n);
      const ordinary = move(currency, payer, payee, 300n);
      const outcomes =
        engine === 'merged'
          ? // One transaction for the three: the refusals must not take the ordinary posting down.
            await postBatch(shard, [item(overflowReserve), item(ordinary), item(overflowWhale)])
          : await Promise.all([overflowReserve, ordinary, overflowWhale].map(post));
      expect(outcomes[0]).toMatchObject({
        status: 'REJECTED',
        rejection: { code: 'BALANCE_LIMIT', accountId: reserve, bucket: 'AVAILABLE' },
      });
      expect(outcomes[1]).toMatchObject({ status: 'APPLIED' });
      expect(outcomes[2]).toMatchObject({
        status: 'REJECTED',
        rejection: { code: 'BALANCE_LIMIT', accountId: whale, bucket: 'AVAILABLE' },
      });

      // Nothing of the refused postings was written: no entry, no balance, no sequence.
      const after = await balances([reserve, other, payer, payee, whale, clearing]);
      expect(after[0]).toEqual(before[0]);
      expect(after[1]).toEqual([0n, 0n, 0n]);
      expect(await entriesOf(shards, other)).toEqual([]);
      expect(after[2]).toEqual([before[2]![0] - 300n, 0n, before[2]![2] + 1n]);
      expect(after[3]).toEqual([300n, 0n, 1n]);
      expect(after[4]).toEqual(before[4]);
      expect(after[5]).toEqual(before[5]);
      // A replay of a refused posting gets the same refusal, and still writes nothing.
      expect(await post(overflowReserve)).toMatchObject({
        status: 'REJECTED',
        replayed: true,
        rejection: { code: 'BALANCE_LIMIT' },
      });

      // Exactly to the floor still fits; once the whale withdraws, deposits flow again.
      expect((await post(move(currency, reserve, other, 1n))).status).toBe('APPLIED');
      expect((await accountRow(shards, reserve))!.available).toBe(balanceMinorUnitsMin);
      expect((await post(move(currency, whale, reserve, pin))).status).toBe('APPLIED');
      expect((await post(move(currency, reserve, other, 2n))).status).toBe('APPLIED');
      const mismatched = new Set((await balanceMismatches(shard.db)).map((m) => m.accountId));
      for (const id of [reserve, clearing, whale, other, payer, payee]) expect(mismatched.has(id), id).toBe(false);
    });
  }

  it('refuses a credit whose buckets fit but whose total (balance_after) would not', async () => {
    const currency = 'SEK';
    const reserve = await systemAccountId(shards, shard, 'RESERVE', currency);
    const clearing = await systemAccountId(shards, shard, 'CLEARING', currency);
    const merchant = await open(currency, 'MERCHANT');
    const half = balanceMinorUnitsMax / 2n;
    expect((await postOne(shard, item(move(currency, reserve, merchant, half)))).status).toBe('APPLIED');
    const before = await balances([reserve, clearing, merchant]);
    // Into pending: the bucket would hold half + 2 (fine), the total 2·half + 2 = 2^63 (past BIGINT).
    const outcome = await postOne(shard, item(move(currency, clearing, merchant, half + 2n, 'PENDING')));
    expect(outcome).toMatchObject({
      status: 'REJECTED',
      rejection: { code: 'BALANCE_LIMIT', accountId: merchant, bucket: 'PENDING' },
    });
    expect(await balances([reserve, clearing, merchant])).toEqual(before);
    expect((await postOne(shard, item(move(currency, clearing, merchant, half + 1n, 'PENDING')))).status).toBe(
      'APPLIED',
    );
    const row = (await accountRow(shards, merchant))!;
    expect(row.available + row.pending).toBe(balanceMinorUnitsMax);
    expect((await entriesOf(shards, merchant)).at(-1)!.balanceAfter).toBe(balanceMinorUnitsMax);
    // Clearing back to zero: reconciliation compares it with the money in flight.
    const back: PostingSpec = {
      ...move(currency, merchant, clearing, half + 1n),
      legs: [
        { accountId: merchant, bucket: 'PENDING', amount: -(half + 1n) },
        { accountId: clearing, bucket: 'AVAILABLE', amount: half + 1n },
      ],
    };
    expect((await postOne(shard, item(back))).status).toBe('APPLIED');
    expect(await balances([clearing])).toEqual([[before[1]![0], 0n, before[1]![2] + 2n]]);
  });
});
