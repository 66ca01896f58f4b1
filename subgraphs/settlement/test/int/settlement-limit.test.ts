import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { newId } from '@paygraph/shared/ids';
import { addDays } from '@paygraph/shared/business-date';
import { postOne, type PostingOutcome, type PostingSpec, systemAccountId } from '@paygraph/shared/ledger/index';
import { balanceMinorUnitsMax } from '@paygraph/shared/limits';
import type { Shard } from '@paygraph/shared/shards/pool';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { accountRowOf, moneyKit, physicalOf, type MoneyKit } from '../../../../test/support/money';
import { feeOf } from '../../src/domain/fees';

/**
 * A settlement whose fee would take a shard's fee income past BIGINT answers the UserError
 * BALANCE_LIMIT, never INTERNAL_SERVER_ERROR: the refused stripe writes nothing, the other
 * stripes settle, the settlement stays PROCESSING, and a later run, once there is room,
 * settles the rest with the totals of every part. INR: no other test moves it, so pinning this
 * shard's INR fee income disturbs nobody; the test gives it back at the end. Far-future dates
 * of its own keep its payments out of every other settlement.
 */
const runDay = Math.floor(Date.now() / 1000) % 1_000_000;
const dayD = addDays('2400-01-01', runDay);
let clock = new Date(`${dayD}T12:00:00Z`);
const currency = 'INR';
const feeBps = 250;

let stack: Stack;
let kit: MoneyKit;
beforeAll(async () => {
  stack = await startStack({ now: () => clock });
  kit = await moneyKit(stack);
});
afterAll(async () => stack?.stop());

const settleDoc = contractOperation('RunSettlement');
const settleDetail = `mutation SettleDetail($input: RunSettlementInput!) {
  runSettlement(input: $input) { __typename ... on Settlement { id status grossAmount feeAmount netAmount } ... on UserError { code message } ... on BalanceLimit { accountId } }
}`;

async function move(shard: Shard, from: string, to: string, amount: bigint): Promise<void> {
  const logical = stack.shards.logicalOn(shard)[0]!;
  const spec: PostingSpec = {
    id: newId('posting', logical),
    kind: 'TEST',
    refId: null,
    dedupeKey: unique('pin'),
    currency,
    legs: [
      { accountId: from, bucket: 'AVAILABLE', amount: -amount },
      { accountId: to, bucket: 'AVAILABLE', amount },
    ],
  };
  const outcome = await postOne<PostingOutcome>(shard, { kind: 'spec', spec, finish: async (_tx, o) => o });
  expect(outcome.status).toBe('APPLIED');
}

async function settlementRow(merchantId: string, businessDate: string): Promise<{ id: string; status: string }> {
  const home = stack.shards.of('account', merchantId);
  const [rows] = (await home.db.execute(
    sql`SELECT id, status FROM settlements WHERE merchant_account_id = ${merchantId} AND business_date = ${businessDate}`,
  )) as unknown as [Array<{ id: string; status: string }>];
  expect(rows.length).toBe(1);
  return rows[0]!;
}

async function unsettledOf(paymentId: string): Promise<boolean> {
  const shard = stack.shards.of('payment', paymentId);
  const [rows] = (await shard.db.execute(
    sql`SELECT settlement_id AS s FROM payments WHERE id = ${paymentId}`,
  )) as unknown as [Array<{ s: string | null }>];
  return rows[0]!.s === null;
}

describe('settlement past what fee income can hold', () => {
  it('answers BalanceLimit, settles the other stripes, stays PROCESSING, and completes on a later run', async () => {
    const merchantOwner = unique('full-fees');
    const merchant = await kit.open(merchantOwner, { type: 'MERCHANT', currency });
    const home = physicalOf(stack.shards, merchant);
    const rate = await gql(
      stack.gatewayUrl,
      `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }`,
      { input: { merchantAccountId: merchant, feeBps } },
      kit.operator,
    );
    expect(rate.data!.setMerchantFeeRate.__typename).toBe('FeeRate');
    // One payer on the merchant's own shard (its home row), one on another (a stripe there).
    const near = await kit.open(unique('near'), { currency, physical: home });
    const away = await kit.openAwayFrom(unique('away'), [home], { currency });
    for (const payer of [near, away]) await kit.fund(payer, '100000', currency);
    const pay = async (payer: string, amount: string) =>
      kit.paid(await token((await accountRowOf(stack.shards, payer))!.ownerId, 'customer'), {
        payer,
        payee: merchant,
        amount,
        currency,
      });
    const nearPayment = await pay(near, '10000');
    const awayPayment = await pay(away, '20000');
    const [nearFee, awayFee] = [feeOf(10000n, feeBps), feeOf(20000n, feeBps)];

    // The away shard's fee income is pinned to less than the fee below the BIGINT maximum.
    const awayShard = stack.shards.all[physicalOf(stack.shards, away)]!;
    const homeShard = stack.shards.all[home]!;
    const feeIncome = await systemAccountId(stack.shards, awayShard, 'FEE_INCOME', currency);
    const homeFeeIncome = await systemAccountId(stack.shards, homeShard, 'FEE_INCOME', currency);
    const clearing = await systemAccountId(stack.shards, awayShard, 'CLEARING', currency);
    const fees = async (id: string) => (await accountRowOf(stack.shards, id))!.available;
    const [feeIncomeBefore, homeFeesBefore] = [await fees(feeIncome), await fees(homeFeeIncome)];
    const pin = balanceMinorUnitsMax - feeIncomeBefore - awayFee + 1n;
    await move(awayShard, clearing, feeIncome, pin);
    expect(await fees(feeIncome)).toBe(balanceMinorUnitsMax - awayFee + 1n);

    clock = new Date(`${addDays(dayD, 1)}T12:00:00Z`);
    const input = { merchantAccountId: merchant, businessDate: dayD };
    for (let run = 0; run < 2; run++) {
      // Twice: a rerun while there is still no room answers the same and writes nothing more.
      const refused = await gql(stack.gatewayUrl, settleDetail, { input }, kit.operator);
      expect(refused.errors, JSON.stringify(refused.errors)).toBeUndefined();
      expect(refused.data!.runSettlement).toMatchObject({
        __typename: 'BalanceLimit',
        code: 'BALANCE_LIMIT',
        accountId: feeIncome,
        message: expect.any(String),
      });
      expect((await settlementRow(merchant, dayD)).status).toBe('PROCESSING');
      // The home stripe settled; the away stripe did not: its payment still pending and unsettled.
      expect(await kit.balance(merchant)).toMatchObject({ available: String(10000n - nearFee), pending: '20000' });
      expect(await unsettledOf(nearPayment)).toBe(false);
      expect(await unsettledOf(awayPayment)).toBe(true);
      expect(await fees(feeIncome)).toBe(balanceMinorUnitsMax - awayFee + 1n);
      expect(await fees(homeFeeIncome)).toBe(homeFeesBefore + nearFee);
    }

    // Room again (fee income paid out): the next run settles the away stripe and completes.
    await move(awayShard, feeIncome, clearing, pin);
    const settled = await gql(stack.gatewayUrl, settleDoc, { input }, kit.operator);
    expect(settled.errors).toBeUndefined();
    const gross = 30000n;
    const fee = nearFee + awayFee;
    expect(settled.data!.runSettlement).toMatchObject({
      __typename: 'Settlement',
      status: 'SETTLED',
      grossAmount: String(gross),
      refundedAmount: '0',
      feeAmount: String(fee),
      netAmount: String(gross - fee),
    });
    expect((await settlementRow(merchant, dayD)).status).toBe('SETTLED');
    expect(await kit.balance(merchant)).toMatchObject({ available: String(gross - fee), pending: '0' });
    expect(await unsettledOf(awayPayment)).toBe(false);
    expect(await fees(feeIncome)).toBe(feeIncomeBefore + awayFee);
    expect(await fees(homeFeeIncome)).toBe(homeFeesBefore + nearFee);
    // And once settled it stays so: a further run answers the same settlement and moves nothing.
    const again = await gql(stack.gatewayUrl, settleDetail, { input }, kit.operator);
    expect(again.data!.runSettlement).toMatchObject({
      __typename: 'Settlement',
      status: 'SETTLED',
      netAmount: String(gross - fee),
    });
    expect(await kit.balance(merchant)).toMatchObject({ available: String(gross - fee), pending: '0' });
    expect(await fees(feeIncome)).toBe(feeIncomeBefore + awayFee);
  });
});
