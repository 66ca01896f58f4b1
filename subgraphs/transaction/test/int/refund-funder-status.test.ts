import { describe, expect, it } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { aLockWaits, holdLock, until } from '../../../../test/support/lock-waits';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import { err } from '@paygraph/shared/result';
import { shardOf } from '@paygraph/shared/ids';
import { rawRows } from '@paygraph/shared/db/raw';
import { lockPayment } from '../../src/db/payments';
import { lockLegsOfPayment } from '../../src/db/payment-legs';
import { refundPayment } from '../../src/services/refund';
import { serviceContext } from '../support/service-context';
import { accountRowOf, detailDocs, physicalOf, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * A refund of a payment of legs credits every paying leg: the payer and a campaign's funder (domain/refund-rules.ts
 * decideRefundCredit). The funder's account may live on another database than the payment, and its credit, like the
 * payer's across databases, is a completion, posted whatever its status. A cross-database refund's reservation decides
 * on the funder's status read under its row's share lock, after the payment's: on the funder's database in a
 * transaction held until the reservation has ended, or on the payment's own in its transaction when the funder lives
 * there on another logical shard (services/refund.ts reserveRemoteRefund). A close committed first is read and refuses
 * the refund; a close after it waits for the reservation and then counts the refund's leg in flight. Before, the
 * funder's status (off the payment's logical shard) was read unlocked before the key's claim: a close in between
 * closed, and the funder's share of the refund landed in the CLOSED account for good.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });
const closeDoc = `mutation($id: ID!) { closeAccount(id: $id) { __typename ... on Account { id status }
  ... on UserError { code } ... on AccountBalanceNotZero { total } } }`;
const campaignDoc = contractOperation('CreateCampaign');
const payDoc = contractOperation('CreateMarketplacePayment');

async function close(id: string, bearer: string) {
  const answer = await gql(stack.gatewayUrl, closeDoc, { id }, bearer);
  expect(answer.errors).toBeUndefined();
  return answer.data!.closeAccount;
}

/** Where the funder lives: on another database than the payment, or on its database but another logical shard. */
type Placement = 'another database' | 'the same database';

/**
 * A payer and its payee on one database, a campaign's funder placed so, and a payment of 4000 with 500 off paid by the
 * funder: each paying account pays its whole balance, so the funder may close at zero while nothing is in flight
 * toward it.
 */
async function campaignPayment(placement: Placement) {
  const payerOwner = unique('funder-payer');
  const funderOwner = unique('funder-funding');
  const payer = await kit.open(payerOwner);
  const payerDb = physicalOf(stack.shards, payer);
  const payee = await kit.open(unique('funder-payee'), { physical: payerDb });
  const funder = await funderPlaced(placement, funderOwner, payer);
  await kit.fund(payer, '3500');
  await kit.fund(funder, '500');
  const input = { idempotencyKey: unique('cmp'), fundingAccountId: funder, amountOff: '500' };
  const created = await gql(stack.gatewayUrl, campaignDoc, { input }, kit.operator);
  expect(created.data!.createCampaign).toMatchObject({ __typename: 'Campaign' });
  const payment = {
    idempotencyKey: unique('funder-pay'),
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: '4000',
    currency: 'USD',
    campaignId: created.data!.createCampaign.id,
  };
  const paid = await gql(stack.gatewayUrl, payDoc, { input: payment }, kit.operator);
  expect(paid.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', discountAmount: '500' });
  expect(await kit.balance(funder)).toEqual(at('0'));
  const paymentId = paid.data!.createPayment.id as string;
  return { payer, payee, funder, paymentId, funderToken: await token(funderOwner, 'customer') };
}

/** An account of `ownerId` on another database than `payer`, or on its database and another logical shard. */
async function funderPlaced(placement: Placement, ownerId: string, payer: string): Promise<string> {
  const payerDb = physicalOf(stack.shards, payer);
  if (placement === 'another database') return kit.openAwayFrom(ownerId, [payerDb]);
  // Many logical shards share a database: a few tries land on another one of them.
  for (let attempt = 0; attempt < 16; attempt++) {
    const id = await kit.open(ownerId, { physical: payerDb });
    if (shardOf('account', id) !== shardOf('account', payer)) return id;
  }
  throw new Error("no account landed on another logical shard of the payer's database in 16 tries");
}

const refunds = async (paymentId: string): Promise<Array<{ id: string; status: string }>> =>
  (await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator)).data!.payment.refunds;

describe.each<Placement>(['another database', 'the same database'])(
  "a close of a campaign funder on %s while a refund of the funder's payment is made",
  (placement) => {
    it("committed between the refund's read of the funder and its reservation: the refund is refused", async () => {
      const { payer, payee, funder, paymentId, funderToken } = await campaignPayment(placement);
      const home = stack.shards.of('payment', paymentId);
      expect(stack.shards.of('account', funder) === home).toBe(placement === 'the same database');
      expect(shardOf('account', funder)).not.toBe(shardOf('payment', paymentId));
      // The test holds the payment's lock: the refund reads the funder ACTIVE, claims its key, and its reservation
      // waits.
      const holder = holdLock(home, (tx) => lockPayment(tx, paymentId));
      await holder.taken;
      const ctx = serviceContext(stack.shards, { sub: unique('funder-op'), role: 'operator' });
      const input = { idempotencyKey: unique('ref-funder'), paymentId, amount: '4000' };
      let answered = false;
      const refund = refundPayment(ctx, input).finally(() => (answered = true));
      try {
        await until(async () => {
          if (answered) throw new Error(`the refund answered before it waited: ${JSON.stringify(await refund)}`);
          return aLockWaits(home, 'payments', paymentId);
        }, "the reservation's wait for the payment's lock");
        // Meanwhile the funder closes: nothing is in flight toward it yet.
        expect(await close(funder, funderToken)).toEqual({ __typename: 'Account', id: funder, status: 'CLOSED' });
      } finally {
        holder.release();
        await holder.done;
      }

      const answer = await refund;
      // Before, the refund was made: ended here (the relay may not have), its funder's share is in the CLOSED account.
      if (answer.ok) await runOutboxStep(stack.shards, home, answer.value.id, () => new Date());
      expect({ funder: await kit.balance(funder), status: (await accountRowOf(stack.shards, funder))!.status }).toEqual(
        {
          funder: at('0'),
          status: 'CLOSED',
        },
      );
      expect(answer).toEqual(err({ kind: 'AccountNotActive', accountId: funder, status: 'CLOSED' }));
      expect(await kit.balance(payer)).toEqual(at('0'));
      expect(await kit.balance(payee)).toEqual(at('4000'));
      const payment = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator);
      expect(payment.data!.payment).toMatchObject({ status: 'SUCCEEDED', refundedAmount: '0', refunds: [] });
      // Its key names a refund never made: the same request is refused again, and still nothing is written.
      expect(await refundPayment(ctx, input)).toEqual(
        err({ kind: 'AccountNotActive', accountId: funder, status: 'CLOSED' }),
      );
      expect(await refunds(paymentId)).toEqual([]);
    });

    it('made while the reservation is written waits for it, counts the refund in flight and is refused', async () => {
      const { payer, payee, funder, paymentId, funderToken } = await campaignPayment(placement);
      const home = stack.shards.of('payment', paymentId);
      const funderDb = stack.shards.of('account', funder);
      // The test holds the payment's legs: the reservation locks the payment, decides on the payer and the funder,
      // writes its refund, then waits for the legs to reserve their shares.
      const holder = holdLock(home, (tx) => lockLegsOfPayment(tx, paymentId));
      await holder.taken;
      const ctx = serviceContext(stack.shards, { sub: unique('funder-legs-op'), role: 'operator' });
      const refund = refundPayment(ctx, { idempotencyKey: unique('ref-funder-legs'), paymentId, amount: '4000' });
      let closeAnswered = false;
      let closing: Promise<unknown> = Promise.resolve();
      try {
        await until(() => aLockWaits(home, 'payment_legs', paymentId), "the reservation's wait for the legs");
        closing = close(funder, funderToken).finally(() => (closeAnswered = true));
        // The close waits for the funder's row, which the reservation holds in share mode (before, it closed at once).
        await until(
          async () => closeAnswered || aLockWaits(funderDb, 'accounts', funder),
          "the close's wait or answer",
        );
      } finally {
        holder.release();
        await holder.done;
      }
      expect(await closing).toEqual({
        __typename: 'AccountBalanceNotZero',
        code: 'ACCOUNT_BALANCE_NOT_ZERO',
        total: '500',
      });
      expect((await accountRowOf(stack.shards, funder))!.status).toBe('ACTIVE');

      expect((await refund).ok).toBe(true);
      const [made] = await refunds(paymentId);
      await runOutboxStep(stack.shards, home, made!.id, () => new Date());
      expect(await refunds(paymentId)).toEqual([
        { id: made!.id, amount: '4000', status: 'SUCCEEDED', failureCode: null },
      ]);
      expect(await kit.balance(funder)).toEqual(at('500'));
      expect(await kit.balance(payer)).toEqual(at('3500'));
      expect(await kit.balance(payee)).toEqual(at('0'));
    });
  },
);

it("refuses a reservation whose hold on the funder's database ended before its commit", async () => {
  const { payee, funder, paymentId } = await campaignPayment('another database');
  const home = stack.shards.of('payment', paymentId);
  const funderDb = stack.shards.of('account', funder);
  // The reservation holds the funder's row in share mode on its database, then waits for the legs the test holds.
  const holder = holdLock(home, (tx) => lockLegsOfPayment(tx, paymentId));
  await holder.taken;
  const ctx = serviceContext(stack.shards, { sub: unique('funder-cut-op'), role: 'operator' });
  const refund = refundPayment(ctx, { idempotencyKey: unique('ref-funder-cut'), paymentId, amount: '4000' });
  const outcome = refund.then(
    (answer) => ({ answered: answer }),
    (error: unknown) => ({ failed: (error as Error).name }),
  );
  try {
    await until(() => aLockWaits(home, 'payment_legs', paymentId), "the reservation's wait for the legs");
    // The hold's transaction ends on the server (as a cut connection, a node's restart or a Galera abort end it).
    // The hold is the transaction on that database that stays and waits for nothing: a background worker's (the relay's,
    // a sweep's) may be listed beside it for a moment (a full run on 11-30 read two and failed), and one waiting for the
    // funder's row behind the hold stays listed (LOCK WAIT) until its own 2 s wait ends, as long as the reservation's
    // wait for the legs: left out.
    let held: Array<{ id: number }> = [];
    await until(async () => {
      held = await rawRows<{ id: number }>(
        funderDb,
        `SELECT t.trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX t
         JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
         WHERE p.DB = DATABASE() AND p.ID <> CONNECTION_ID() AND t.trx_state <> 'LOCK WAIT'`,
      );
      return held.length === 1;
    }, "the funder's hold alone on its database");
    await rawRows(funderDb, `KILL ${Number(held[0]!.id)}`);
  } finally {
    holder.release();
    await holder.done;
  }
  // Before, the reservation committed with the funder's row no longer held: a close meanwhile would have closed it,
  // and the funder's share would have landed in the CLOSED account.
  expect(await outcome).toEqual({ failed: 'ShardUnavailable' });
  expect(await refunds(paymentId)).toEqual([]);
  expect(await kit.balance(funder)).toEqual(at('0'));
  expect(await kit.balance(payee)).toEqual(at('4000'));
});
