import { describe, expect, it } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { holdLock, until } from '../../../../test/support/lock-waits';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import { lockAccount } from '@paygraph/shared/ledger/index';
import { refundPayment } from '../../src/services/refund';
import { giveBacksInFlightStep } from '../../src/services/give-back-counts';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import { serviceContext } from '../support/service-context';
import { accountRowOf, detailDocs, physicalOf, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * A refund of legs gives back from the receivers on other databases first (`<ref>:leg:<i>`), then posts the home
 * posting; when that is refused, what the others gave is credited back to them (`<ref>:leg:<i>:reverse`, a completion:
 * posted whatever the account's status). A split receiver that has given back, at zero, must not close while that
 * refund is PROCESSING, else the credit back lands in a CLOSED account, which can never pay or withdraw it
 * (read-model/account.ts givenBackInFlight, counted by give_back_counts). Once the refund has ended it closes.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });
const closeDoc = `mutation($id: ID!) { closeAccount(id: $id) { __typename ... on Account { id status }
  ... on UserError { code } ... on AccountBalanceNotZero { total } } }`;

/**
 * How the split's give-back is known to its close: counted in the give-back's transaction, or (a give-back made before
 * give_back_counts, its count removed here) by the data step every migrate runs.
 */
const countings = ['in the give-back', 'by the start-up step'] as const;

describe('a split receiver closing while a refund it gave back to is in flight', () => {
  it.each(countings)('must not end CLOSED holding what it gave back (counted %s)', async (counting) => {
    const payerOwner = unique('gb-payer');
    const payeeOwner = unique('gb-payee');
    const splitOwner = unique('gb-split');
    const payerToken = await token(payerOwner, 'customer');
    const payeeToken = await token(payeeOwner, 'customer');
    const splitToken = await token(splitOwner, 'customer');
    const payer = await kit.open(payerOwner);
    const payerDb = physicalOf(stack.shards, payer);
    // The payee on the payer's database (its give-back is in the home posting), the split on another one.
    const payee = await kit.open(payeeOwner, { physical: payerDb });
    const split = await kit.openAwayFrom(splitOwner, [payerDb]);
    const elsewhere = await kit.open(unique('gb-elsewhere'));
    await kit.fund(payer, '100');
    const paid = await gql(
      stack.gatewayUrl,
      detailDocs.createPayment,
      {
        input: {
          idempotencyKey: unique('gb-pay'),
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
    // The payee spends its 90: the refund's home posting will be refused for it.
    await kit.paid(payeeToken, { payer: payee, payee: elsewhere, amount: '90' });
    expect(await kit.balance(payee)).toEqual(at('0'));
    expect(await kit.balance(split)).toEqual(at('10'));

    const home = stack.shards.of('payment', paymentId);
    // The test holds the payee's row: the split gives back on its database, then the home posting waits.
    const holder = holdLock(stack.shards.of('account', payee), (tx) => lockAccount(tx, payee));
    await holder.taken;
    const ctx = serviceContext(stack.shards, { sub: unique('gb-op'), role: 'operator' });
    const refund = refundPayment(ctx, { idempotencyKey: unique('gb-ref'), paymentId, amount: '100' });
    let closed: Record<string, unknown>;
    try {
      await until(async () => (await kit.balance(split)).available === '0', "the split's give-back");
      const splitDb = stack.shards.of('account', split);
      const counted = 'SELECT refunds FROM give_back_counts WHERE account_id = ?';
      expect(await rawRows(splitDb, counted, [split])).toEqual([{ refunds: 1 }]);
      if (counting === 'by the start-up step') {
        await rawWrite(splitDb, 'DELETE FROM give_back_counts WHERE account_id = ?', [split]);
        await giveBacksInFlightStep.run(stack.shards);
        expect(await rawRows(splitDb, counted, [split])).toEqual([{ refunds: 1 }]);
      }
      // Zero in every bucket, nothing it made in flight: the close is judged now, while the refund is PROCESSING.
      const answer = await gql(stack.gatewayUrl, closeDoc, { id: split }, splitToken);
      expect(answer.errors).toBeUndefined();
      closed = answer.data!.closeAccount;
    } finally {
      holder.release();
      await holder.done;
    }
    expect((await refund).ok).toBe(true);
    const refundRows = async () =>
      (await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator)).data!.payment.refunds;
    const refundId = (await refundRows())[0]!.id as string;
    await runOutboxStep(stack.shards, home, refundId, () => new Date());
    const [ended] = await refundRows();
    const splitStatus = (await accountRowOf(stack.shards, split))!.status;
    const withdrawn = await kit.withdraw(splitToken, split, '10');
    const splitBalance = await kit.balance(split);
    // Nothing in flight any more, nothing held: the close that was refused now passes.
    const closedAfter = await gql(stack.gatewayUrl, closeDoc, { id: split }, splitToken);

    expect({
      close: closed.__typename,
      refund: ended.status,
      splitStatus,
      splitBalance,
      splitWithdraws: withdrawn.data!.withdraw.__typename,
      closedAfter: closedAfter.data!.closeAccount,
    }).toEqual({
      close: 'AccountBalanceNotZero',
      refund: 'FAILED',
      splitStatus: 'ACTIVE',
      splitBalance: at('0'),
      splitWithdraws: 'Withdrawal',
      closedAfter: { __typename: 'Account', id: split, status: 'CLOSED' },
    });
  });
});
