import { describe, expect, it } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { aLockWaits, holdLock, until } from '../../../../test/support/lock-waits';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import { lockAccount } from '@paygraph/shared/ledger/index';
import { err } from '@paygraph/shared/result';
import { lockPayment } from '../../src/db/payments';
import { lockLegsOfPayment } from '../../src/db/payment-legs';
import { refundPayment } from '../../src/services/refund';
import { serviceContext } from '../support/service-context';
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

const refunds = async (paymentId: string): Promise<Array<{ id: string; status: string }>> =>
  (await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator)).data!.payment.refunds;

/**
 * A close and a cross-database refund to the same payer, interleaved by row locks the test holds: the reservation
 * decides on the payer's status read under its row's share lock, after the payment's lock (services/refund.ts
 * creditedUnderLock), and a close weighs the refunds in flight toward the account under the row's FOR UPDATE lock. A
 * close that commits first refuses the refund; one that comes later waits for the reservation and is refused. Before,
 * the payer's status was read unlocked before the key's claim: a close in between closed, and the refund's credit, a
 * completion, landed in the CLOSED account.
 */
describe("a close of a refund's payer while the refund is made across databases", () => {
  it("committed between the refund's read of the payer and its reservation: the refund is refused, nothing written", async () => {
    const { payer, payee, paymentId, payerToken } = await paidPair('cross', 'CROSS_SHARD');
    const home = stack.shards.of('payment', paymentId);
    // The test holds the payment's lock: the refund reads the payer ACTIVE, claims its key, and its reservation waits.
    const holder = holdLock(home, (tx) => lockPayment(tx, paymentId));
    await holder.taken;
    const ctx = serviceContext(stack.shards, { sub: unique('race-op'), role: 'operator' });
    const input = { idempotencyKey: unique('ref-race'), paymentId, amount: '100' };
    let answered = false;
    const refund = refundPayment(ctx, input).finally(() => (answered = true));
    try {
      await until(async () => {
        if (answered) throw new Error(`the refund answered before it waited: ${JSON.stringify(await refund)}`);
        return aLockWaits(home, 'payments', paymentId);
      }, "the reservation's wait for the payment's lock");
      // Meanwhile the payer closes: nothing is in flight toward it yet.
      expect(await setStatus('closeAccount', payer, payerToken)).toEqual({
        __typename: 'Account',
        id: payer,
        status: 'CLOSED',
      });
    } finally {
      holder.release();
      await holder.done;
    }

    expect(await refund).toEqual(err({ kind: 'AccountNotActive', accountId: payer, status: 'CLOSED' }));
    expect(await kit.balance(payer)).toEqual(at('0'));
    expect(await kit.balance(payee)).toEqual(at('100'));
    const payment = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator);
    expect(payment.data!.payment).toMatchObject({ status: 'SUCCEEDED', refundedAmount: '0', refunds: [] });
    // Its key names a refund never made: the same request is refused again, and still nothing is written.
    expect(await refundPayment(ctx, input)).toEqual(
      err({ kind: 'AccountNotActive', accountId: payer, status: 'CLOSED' }),
    );
    expect(await refunds(paymentId)).toEqual([]);
  });

  it('made while the reservation is written waits for it, then counts the refund in flight and is refused', async () => {
    const payerOwner = unique('legs-payer');
    const payerToken = await token(payerOwner, 'customer');
    const payer = await kit.open(payerOwner);
    const payerDb = physicalOf(stack.shards, payer);
    const payee = await kit.openAwayFrom(unique('legs-payee'), [payerDb]);
    const split = await kit.openAwayFrom(unique('legs-split'), [payerDb]);
    await kit.fund(payer, '100');
    const paid = await gql(
      stack.gatewayUrl,
      detailDocs.createPayment,
      {
        input: {
          idempotencyKey: unique('legs-pay'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '100',
          currency: 'USD',
          splits: [{ accountId: split, amount: '10' }],
        },
      },
      payerToken,
    );
    expect(paid.data!.createPayment).toMatchObject({
      __typename: 'Payment',
      paymentStatus: 'SUCCEEDED',
      route: 'LEGS',
    });
    const paymentId = paid.data!.createPayment.id as string;
    const home = stack.shards.of('payment', paymentId);
    // The test holds the payment's legs: the reservation locks the payment, decides on the payer, writes its refund,
    // then waits for the legs to reserve their shares.
    const holder = holdLock(home, (tx) => lockLegsOfPayment(tx, paymentId));
    await holder.taken;
    const ctx = serviceContext(stack.shards, { sub: unique('legs-op'), role: 'operator' });
    const refund = refundPayment(ctx, { idempotencyKey: unique('ref-legs'), paymentId, amount: '100' });
    let closeAnswered = false;
    let close: Promise<unknown> = Promise.resolve();
    try {
      await until(() => aLockWaits(home, 'payment_legs', paymentId), "the reservation's wait for the legs");
      close = setStatus('closeAccount', payer, payerToken).finally(() => (closeAnswered = true));
      // The close waits for the payer's row, which the reservation holds in share mode (before, it closed at once).
      await until(async () => closeAnswered || aLockWaits(home, 'accounts', payer), "the close's wait or answer");
    } finally {
      holder.release();
      await holder.done;
    }
    expect(await close).toEqual({
      __typename: 'AccountBalanceNotZero',
      code: 'ACCOUNT_BALANCE_NOT_ZERO',
      total: '100',
    });
    expect((await accountRowOf(stack.shards, payer))!.status).toBe('ACTIVE');

    expect((await refund).ok).toBe(true);
    const [made] = await refunds(paymentId);
    await runOutboxStep(stack.shards, home, made!.id, () => new Date());
    expect(await refunds(paymentId)).toEqual([{ id: made!.id, amount: '100', status: 'SUCCEEDED', failureCode: null }]);
    expect(await kit.balance(payer)).toEqual(at('100'));
    expect(await kit.balance(payee)).toEqual(at('0'));
    expect(await kit.balance(split)).toEqual(at('0'));
  });

  it("is refused while the refund is PROCESSING; once it has ended, the money is the payer's and it closes at zero", async () => {
    const { payer, payee, paymentId, payerToken } = await paidPair('cross', 'CROSS_SHARD');
    const home = stack.shards.of('payment', paymentId);
    // The test holds the payee's row on its database: the refund reserves and commits, then its debit waits.
    const holder = holdLock(stack.shards.of('account', payee), (tx) => lockAccount(tx, payee));
    await holder.taken;
    const ctx = serviceContext(stack.shards, { sub: unique('inflight-op'), role: 'operator' });
    const refund = refundPayment(ctx, { idempotencyKey: unique('ref-inflight'), paymentId, amount: '100' });
    let refundId = '';
    try {
      await until(async () => (await refunds(paymentId)).some((r) => r.status === 'PROCESSING'), 'the reservation');
      refundId = (await refunds(paymentId))[0]!.id;
      expect(await setStatus('closeAccount', payer, payerToken)).toEqual({
        __typename: 'AccountBalanceNotZero',
        code: 'ACCOUNT_BALANCE_NOT_ZERO',
        total: '100',
      });
      expect((await accountRowOf(stack.shards, payer))!.status).toBe('ACTIVE');
    } finally {
      holder.release();
      await holder.done;
    }

    // Answered PROCESSING or SUCCEEDED (its inline step may have given up waiting); ended here if the relay has not.
    expect((await refund).ok).toBe(true);
    await runOutboxStep(stack.shards, home, refundId, () => new Date());
    expect(await refunds(paymentId)).toEqual([{ id: refundId, amount: '100', status: 'SUCCEEDED', failureCode: null }]);
    expect(await kit.balance(payer)).toEqual(at('100'));
    expect(await kit.balance(payee)).toEqual(at('0'));
    expect(await setStatus('closeAccount', payer, payerToken)).toMatchObject({
      __typename: 'AccountBalanceNotZero',
      total: '100',
    });

    // Spent to zero, nothing in flight: it closes.
    await kit.paid(payerToken, { payer, payee, amount: '100' });
    expect(await setStatus('closeAccount', payer, payerToken)).toEqual({
      __typename: 'Account',
      id: payer,
      status: 'CLOSED',
    });
  });
});
