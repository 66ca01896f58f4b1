import { describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { newId, shardOf, type LogicalShard } from '@paygraph/shared/ids';
import { announceStripe, setStripesStatus, stripeIdOf } from '@paygraph/shared/ledger/index';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { readAccounts, stripeFor } from '@paygraph/transaction/services/accounts';
import { completeSweep, debitForSweep } from '@paygraph/transaction/services/sweep';
import { transferOutbox } from '@paygraph/transaction/db/schema/transactions';
import type { Stack } from '../../../../test/support/stack';
import { errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { accountRowOf, detailDocs, physicalOf, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * A close judges every row of the account empty and nothing on its way back to it, then marks it CLOSED for good; a
 * completion (a sweep's credit, a reversal) posts whatever the status, and a payment's credit posts to an ACTIVE row.
 * So no money may reach a row after that judgement: a merchant's stripes on other databases are held with its home row
 * when it decides (a stripe held elsewhere refuses the close, retryably, with nothing changed), a stripe a payment opens
 * after the close opens CLOSED, and a sweep between two of its rows still PROCESSING is counted, as money in flight.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const closeDoc = `mutation($id: ID!) { closeAccount(id: $id) { __typename ... on Account { id status }
  ... on UserError { code } ... on AccountBalanceNotZero { total } } }`;

async function close(id: string) {
  return gql(stack.gatewayUrl, closeDoc, { id }, kit.operator);
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await accountRowOf(stack.shards, id))?.status;
}

async function merchantRow(id: string) {
  return (await readAccounts(stack.shards, [id])).get(id)!;
}

/** A merchant, and a payer on another database whose logical shard the merchant's stripe there is on. */
async function merchantAndPayer() {
  const merchant = await kit.open(unique('close-merchant'), { type: 'MERCHANT' });
  const payerOwner = unique('close-payer');
  const payer = await kit.openAwayFrom(payerOwner, [physicalOf(stack.shards, merchant)]);
  return { merchant, payer, payerOwner, logical: shardOf('account', payer) as LogicalShard };
}

/** The sweep's outbox row comes due in an hour: no relay completes it before the test does. */
async function holdSweepBack(id: string): Promise<void> {
  await Promise.all(
    stack.shards.all.map((s) =>
      s.db
        .update(transferOutbox)
        .set({ nextAttemptAt: sql`${transferOutbox.createdAt} + INTERVAL 1 HOUR` })
        .where(and(eq(transferOutbox.id, id), eq(transferOutbox.status, 'PENDING'))),
    ),
  );
}

describe("a merchant's close and its stripes", () => {
  it('holds every stripe when it decides: one held elsewhere refuses it retryably, nothing CLOSED', async () => {
    const { merchant, payer, payerOwner, logical } = await merchantAndPayer();
    await kit.fund(payer, '100');
    const stripe = await stripeFor(stack.shards, await merchantRow(merchant), logical);
    // A posting on the stripe under way (its row locked on its own database) while the close runs.
    const holder = await stack.shards.of('account', stripe).pool.getConnection();
    let refused;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [stripe]);
      refused = await close(merchant);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    // Before, the home row committed CLOSED and the stripe's own write timed out: ACTIVE, open to payments for good.
    expect(errorCodes(refused)).toEqual(['LOCK_TIMEOUT']);
    expect([await statusOf(merchant), await statusOf(stripe)]).toEqual(['ACTIVE', 'ACTIVE']);

    expect((await close(merchant)).data!.closeAccount).toEqual({
      __typename: 'Account',
      id: merchant,
      status: 'CLOSED',
    });
    expect([await statusOf(merchant), await statusOf(stripe)]).toEqual(['CLOSED', 'CLOSED']);
    // An unfreeze that committed its home row before this close wrote its stripes after it: it reopens none.
    const stripeShard = stack.shards.of('account', stripe);
    await inTransaction(stripeShard, (tx) => setStripesStatus(tx, merchant, [logical], 'ACTIVE', new Date()));
    expect(await statusOf(stripe)).toBe('CLOSED');
    const payerToken = await token(payerOwner, 'customer');
    const paid = await kit.pay(payerToken, { payer, payee: merchant, amount: '100' }, detailDocs.createPayment);
    expect(paid.data!.createPayment).toMatchObject({ __typename: 'AccountNotActive', accountId: merchant });
    expect((await kit.balance(payer)).total).toBe('100');
    expect((await kit.balance(merchant)).total).toBe('0');
  });

  it('leaves no stripe a payment that read the merchant before the close opens ACTIVE', async () => {
    // Its bit not written yet: the payment writes it after the close, and its stripe takes the status the close left.
    const late = await merchantAndPayer();
    const readBefore = await merchantRow(late.merchant);
    expect((await close(late.merchant)).data!.closeAccount).toMatchObject({ status: 'CLOSED' });
    const opened = await stripeFor(stack.shards, readBefore, late.logical);
    expect(await statusOf(opened)).toBe('CLOSED');

    // Its bit written before the close, its row not yet: the close opens that stripe and closes it.
    const between = await merchantAndPayer();
    await announceStripe(stack.shards, await merchantRow(between.merchant), between.logical);
    const announced = await merchantRow(between.merchant);
    expect((await close(between.merchant)).data!.closeAccount).toMatchObject({ status: 'CLOSED' });
    expect(await statusOf(stripeIdOf(between.merchant, between.logical))).toBe('CLOSED');
    expect(await statusOf(await stripeFor(stack.shards, announced, between.logical))).toBe('CLOSED');
  });
});

describe('a close and a sweep in flight between two rows of the merchant', () => {
  for (const direction of ['to a stripe (a refund top-up)', 'to the home row (a withdrawal)'] as const) {
    it(`is refused while the sweep ${direction} is PROCESSING, so its credit never lands in a CLOSED row`, async () => {
      const { merchant, logical } = await merchantAndPayer();
      await kit.fund(merchant, '100');
      const stripe = await stripeFor(stack.shards, await merchantRow(merchant), logical);
      const home = stack.shards.of('account', merchant);
      const away = stack.shards.of('account', stripe);
      const move = (fromId: string, toId: string) => ({
        fromId,
        toId,
        currency: 'USD',
        amount: 100n,
        merchantId: merchant,
      });
      const now = () => new Date();
      if (direction === 'to the home row (a withdrawal)') {
        // The money on the stripe first, so that the sweep under test takes it back.
        const there = await debitForSweep(
          stack.shards,
          home,
          move(merchant, stripe),
          newId('withdrawal', logical),
          now,
        );
        await completeSweep(stack.shards, home, there!, now);
      }
      const [shard, from, to] =
        direction === 'to a stripe (a refund top-up)' ? [home, merchant, stripe] : [away, stripe, merchant];
      const sweep = (await debitForSweep(stack.shards, shard, move(from, to), newId('withdrawal', logical), now))!;
      await holdSweepBack(sweep.id);
      expect((await kit.balance(merchant)).total).toBe('0');

      // Before, every row read zero and the close went through; the sweep's credit then landed in a CLOSED row.
      expect((await close(merchant)).data!.closeAccount).toEqual({
        __typename: 'AccountBalanceNotZero',
        code: 'ACCOUNT_BALANCE_NOT_ZERO',
        total: '100',
      });
      await completeSweep(stack.shards, shard, sweep, now);
      expect([await statusOf(merchant), await statusOf(stripe)]).toEqual(['ACTIVE', 'ACTIVE']);
      expect((await kit.balance(merchant)).total).toBe('100');
    });
  }
});
