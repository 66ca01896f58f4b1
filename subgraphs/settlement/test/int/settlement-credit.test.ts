import { describe, expect, it } from 'vitest';
import { paymentsByIds } from '@paygraph/transaction/db/payments';
import { gql } from '../../../../test/support/graphql';
import { testSettlementSettings, token, unique } from '../../../../test/support/env';
import { useMoneyStack, type MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { feeOf } from '../../src/domain/fees';
import { runSettlement } from '../../src/services/settle';

/**
 * Settlement of a merchant whose available is below zero (issue 33, item 5): what the settlement
 * makes available repays the credit in use first, the merchant gets only the rest to spend, and
 * the settlement says how much it repaid (creditRepaidAmount). On the default stack: the
 * settlement runs in process with a clock a day ahead, so today's payments are a closed date
 * (the stack's own worker, on the real clock, leaves today alone).
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const dayMs = 24 * 60 * 60 * 1000;
const settlementDoc = `query SettlementCredit($id: ID!) { settlement(id: $id) { id status netAmount feeAmount creditRepaidAmount } }`;
const limitDoc = `mutation L($input: SetCreditLimitInput!) { setCreditLimit(input: $input) { __typename } }`;

/**
 * A merchant and a paying customer, both on database 0 (so the merchant is paid on its home row), the merchant owing
 * `owed` on a line of `limit`.
 */
async function merchantOwing(
  limit: string,
  owed: string,
): Promise<{ merchant: string; customer: string; customerBearer: string }> {
  const owner = unique('credit-settle-m');
  const merchant = await kit.open(owner, { type: 'MERCHANT', physical: 0 });
  const customerOwner = unique('credit-settle-c');
  const customer = await kit.open(customerOwner, { physical: 0 });
  await kit.fund(customer, '100000');
  const limited = await gql(stack.gatewayUrl, limitDoc, { input: { accountId: merchant, limit } }, kit.operator);
  expect(limited.data?.setCreditLimit.__typename).toBe('Account');
  if (owed !== '0') {
    const withdrawn = await kit.withdraw(await token(owner, 'merchant'), merchant, owed);
    expect(withdrawn.data?.withdraw.__typename).toBe('Withdrawal');
  }
  return { merchant, customer, customerBearer: await token(customerOwner, 'customer') };
}

async function settleToday(merchant: string, paymentId: string) {
  const shard = stack.shards.of('payment', paymentId);
  const [payment] = await paymentsByIds(shard.db, [paymentId]);
  const settled = await runSettlement(
    stack.shards,
    merchant,
    payment!.businessDate,
    () => new Date(Date.now() + dayMs),
    testSettlementSettings(),
  );
  expect(settled.ok).toBe(true);
  const answer = await gql(stack.gatewayUrl, settlementDoc, { id: settled.ok ? settled.value.id : '' }, kit.operator);
  expect(answer.errors).toBeUndefined();
  return answer.data!.settlement as {
    status: string;
    netAmount: string;
    feeAmount: string;
    creditRepaidAmount: string;
  };
}

describe('settlement and credit lines', () => {
  const feeBps = testSettlementSettings().feeBpsDefault;

  it('repays the credit in use first and says so; the merchant gets the rest', async () => {
    const { merchant, customer, customerBearer } = await merchantOwing('500', '300');
    const paymentId = await kit.paid(customerBearer, { payer: customer, payee: merchant, amount: '1000' });
    const settlement = await settleToday(merchant, paymentId);
    const fee = feeOf(1000n, feeBps);
    expect(settlement).toMatchObject({ status: 'SETTLED', netAmount: String(1000n - fee), creditRepaidAmount: '300' });
    expect(await kit.balance(merchant)).toMatchObject({ available: String(1000n - fee - 300n), pending: '0' });
  });

  it('pays a merchant nothing to spend while what settles does not cover its debt', async () => {
    const { merchant, customer, customerBearer } = await merchantOwing('500', '500');
    const paymentId = await kit.paid(customerBearer, { payer: customer, payee: merchant, amount: '200' });
    const settlement = await settleToday(merchant, paymentId);
    const made = 200n - feeOf(200n, feeBps);
    expect(settlement.creditRepaidAmount).toBe(String(made));
    const balance = await kit.balance(merchant);
    expect(BigInt(balance.available)).toBe(-500n + made);
    expect(BigInt(balance.available)).toBeLessThan(0n);
  });

  it('repays nothing for a merchant that owes nothing', async () => {
    const { merchant, customer, customerBearer } = await merchantOwing('500', '0');
    const paymentId = await kit.paid(customerBearer, { payer: customer, payee: merchant, amount: '400' });
    expect((await settleToday(merchant, paymentId)).creditRepaidAmount).toBe('0');
  });
});
