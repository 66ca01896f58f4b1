import { describe, expect, it } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import {
  accountRowOf,
  crossShardPaymentFirstHalf,
  detailDocs,
  physicalOf,
  type MoneyKit,
  useMoneyStack,
} from '../../../../test/support/money';

/**
 * A refund credits the payer (domain/refund-rules.ts decideRefundCredit): a payer that may not receive — CLOSED for
 * good, or FROZEN — is refused with AccountNotActive before anything is reserved or debited, wherever the payee lives.
 * Across databases the payer's credit is a completion, posted whatever its status once the payee has given back: before
 * the check, a refund to a CLOSED payer there read SUCCEEDED and left the money in the closed account for good.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });
const statusDoc = (m: 'closeAccount' | 'freezeAccount' | 'unfreezeAccount') =>
  `mutation($id: ID!) { ${m}(id: $id) { __typename ... on Account { id status } ... on UserError { code }
    ... on AccountBalanceNotZero { total } } }`;

/** A payer, a payee on another database or the payer's own, and a payment of 100 between them (as the payer's owner). */
async function paidPair(placement: 'cross' | 'same', route: string) {
  const payerOwner = unique('refund-payer');
  const payeeOwner = unique('refund-payee');
  const payer = await kit.open(payerOwner);
  const payerDb = physicalOf(stack.shards, payer);
  const payee =
    placement === 'cross'
      ? await kit.openAwayFrom(payeeOwner, [payerDb])
      : await kit.open(payeeOwner, { physical: payerDb });
  await kit.fund(payer, '100');
  const paymentId = await kit.paid(await token(payerOwner, 'customer'), { payer, payee, amount: '100' });
  const payment = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator);
  expect(payment.data!.payment).toMatchObject({ status: 'SUCCEEDED', route });
  return {
    payer,
    payee,
    paymentId,
    payerToken: await token(payerOwner, 'customer'),
    payeeToken: await token(payeeOwner, 'customer'),
  };
}

async function setStatus(m: 'closeAccount' | 'freezeAccount' | 'unfreezeAccount', id: string, bearer: string) {
  const answer = await gql(stack.gatewayUrl, statusDoc(m), { id }, bearer);
  expect(answer.errors).toBeUndefined();
  return answer.data![m];
}

describe('a refund to a payer that may not receive', () => {
  for (const [placement, route] of [
    ['cross', 'CROSS_SHARD'],
    ['same', 'SAME_SHARD'],
  ] as const) {
    it(`is refused AccountNotActive for a CLOSED payer, no money moved (${route})`, async () => {
      const { payer, payee, paymentId, payerToken, payeeToken } = await paidPair(placement, route);
      // The payer spent everything it had (the payment itself) and closes at zero.
      expect(await setStatus('closeAccount', payer, payerToken)).toEqual({
        __typename: 'Account',
        id: payer,
        status: 'CLOSED',
      });

      const refused = await kit.refund(payeeToken, paymentId, '100', { doc: detailDocs.refundPayment });
      expect(refused.errors).toBeUndefined();
      expect(refused.data!.refundPayment).toMatchObject({
        __typename: 'AccountNotActive',
        code: 'ACCOUNT_NOT_ACTIVE',
        accountId: payer,
        accountStatus: 'CLOSED',
      });
      expect(await kit.balance(payer)).toEqual(at('0'));
      expect(await kit.balance(payee)).toEqual(at('100'));
      const payment = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator);
      expect(payment.data!.payment).toMatchObject({ status: 'SUCCEEDED', refundedAmount: '0', refunds: [] });
    });

    it(`is refused AccountNotActive for a FROZEN payer, and goes through once unfrozen (${route})`, async () => {
      const { payer, payee, paymentId, payeeToken } = await paidPair(placement, route);
      expect(await setStatus('freezeAccount', payer, kit.operator)).toMatchObject({ status: 'FROZEN' });
      const key = unique('ref-frozen');
      const refused = await kit.refund(payeeToken, paymentId, '100', { key, doc: detailDocs.refundPayment });
      expect(refused.data!.refundPayment).toMatchObject({
        __typename: 'AccountNotActive',
        accountId: payer,
        accountStatus: 'FROZEN',
      });
      expect(await kit.balance(payer)).toEqual(at('0'));
      expect(await kit.balance(payee)).toEqual(at('100'));

      // Refused before anything was written, so the key holds no outcome: the same request refunds once unfrozen.
      expect(await setStatus('unfreezeAccount', payer, kit.operator)).toMatchObject({ status: 'ACTIVE' });
      const refunded = await kit.refund(payeeToken, paymentId, '100', { key });
      expect(refunded.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
      expect(await kit.balance(payer)).toEqual(at('100'));
      expect(await kit.balance(payee)).toEqual(at('0'));
    });
  }
});

describe('a close while money may still come back to the account', () => {
  it('is refused while a cross-shard payment it made is PROCESSING, so its reversal never credits a CLOSED payer', async () => {
    const payerOwner = unique('closing-payer');
    const payerToken = await token(payerOwner, 'customer');
    const payer = await kit.open(payerOwner);
    const payerDb = physicalOf(stack.shards, payer);
    const payee = await kit.openAwayFrom(unique('closing-payee'), [payerDb]);
    const other = await kit.open(unique('closing-other'), { physical: payerDb });
    await kit.fund(payer, '100');
    // The payment's first half alone: the payer debited to zero, the payment PROCESSING, its credit not tried yet.
    const pending = await crossShardPaymentFirstHalf(
      stack.shards,
      (await accountRowOf(stack.shards, payer))!,
      (await accountRowOf(stack.shards, payee))!,
      100n,
      payerOwner,
    );
    expect(await kit.balance(payer)).toEqual(at('0'));
    await kit.freeze(payee);

    expect(await setStatus('closeAccount', payer, payerToken)).toEqual({
      __typename: 'AccountBalanceNotZero',
      code: 'ACCOUNT_BALANCE_NOT_ZERO',
      total: '100',
    });
    expect((await accountRowOf(stack.shards, payer))!.status).toBe('ACTIVE');

    // The frozen payee refuses the credit: the payment is reversed into the payer, still ACTIVE, and FAILS.
    await runOutboxStep(stack.shards, stack.shards.all[payerDb]!, pending.id, () => new Date());
    const failed = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: pending.id }, kit.operator);
    expect(failed.data!.payment).toMatchObject({ status: 'FAILED', failureCode: 'ACCOUNT_NOT_ACTIVE' });
    expect(await kit.balance(payer)).toEqual(at('100'));

    // Nothing in flight any more: spent to zero, it closes.
    await kit.paid(payerToken, { payer, payee: other, amount: '100' });
    expect(await setStatus('closeAccount', payer, payerToken)).toEqual({
      __typename: 'Account',
      id: payer,
      status: 'CLOSED',
    });
  });
});
