import { describe, it, expect } from 'vitest';
import { eq } from 'drizzle-orm';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne, ledgerHealth } from '@paygraph/shared/ledger/index';
import { paymentLegs, payments, transferOutbox } from '@paygraph/transaction/db/schema/transactions';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { runOutboxStep } from '@paygraph/transaction/services/relay';
import type { Stack } from '../../../../test/support/stack';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import {
  accountRowOf,
  closeInSql,
  crossShardPaymentFirstHalf,
  detailDocs,
  entrySumsOfRef,
  moneyDocs,
  physicalOf,
  postingKindsOfRef,
  stripeRowOf,
  stripeRowsOn,
  type MoneyKit,
  useMoneyStack,
} from '../../../../test/support/money';

/**
 * Where the money lands on the shards: merchant stripes on the payer's database, cross-shard
 * payments through clearing and the outbox, and a cross-shard payment whose credit is refused.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });

describe('money on the shards', () => {
  it("credits a merchant in the stripe on each payer's database and refunds from the stripe that was paid", async () => {
    const merchantOwner = unique('stripes');
    const merchantToken = await token(merchantOwner, 'merchant');
    const merchant = await kit.open(merchantOwner, { type: 'MERCHANT' });
    const home = physicalOf(stack.shards, merchant);
    // One payer on the merchant's own database, two on two other databases.
    const local = await kit.open(unique('stripes-local'), { physical: home });
    const away1 = await kit.openAwayFrom(unique('stripes-away'), [home]);
    const away2 = await kit.openAwayFrom(unique('stripes-away'), [home, physicalOf(stack.shards, away1)]);
    const payers = [local, away1, away2];
    const databases = payers.map((p) => physicalOf(stack.shards, p));
    expect(new Set(databases).size).toBe(3);
    for (const p of payers) await kit.fund(p, '10000');

    const amounts = ['1000', '3000', '5000'];
    const paymentIds: string[] = [];
    for (const [i, payer] of payers.entries())
      paymentIds.push(await kit.paid(kit.operator, { payer, payee: merchant, amount: amounts[i]! }));

    for (const [i, physical] of databases.entries()) {
      const stripe = await stripeRowOf(stack.shards, merchant, payers[i]!);
      expect(stripe).toMatchObject({
        type: 'MERCHANT',
        currency: 'USD',
        status: 'ACTIVE',
        ownerId: merchantOwner,
        pending: BigInt(amounts[i]!),
        available: 0n,
      });
      // The merchant's own row for a payer on its logical shard, else a stripe there (payer, payment and stripe share it).
      const sameLogical = shardOf('account', payers[i]!) === shardOf('account', merchant);
      expect(stripe!.parentId).toBe(sameLogical ? null : merchant);
      expect(shardOf('account', stripe!.id)).toBe(shardOf('account', payers[i]!));
      expect(physicalOf(stack.shards, stripe!.id)).toBe(physical);
      const [payment] = await stack.shards.all[physical]!.db.select()
        .from(payments)
        .where(eq(payments.id, paymentIds[i]!));
      expect(payment).toMatchObject({ route: 'MERCHANT_STRIPE', creditAccountId: stripe!.id, status: 'SUCCEEDED' });
    }
    // A fourth database, if any, holds no stripe: nobody paid from there.
    for (const shard of stack.shards.all.filter((s) => !databases.includes(s.index))) {
      expect(await stripeRowsOn(stack.shards, merchant, shard.index)).toEqual([]);
    }
    expect(await kit.balance(merchant)).toEqual({ available: '0', frozen: '0', pending: '9000', total: '9000' });

    // A refund of the 3000 takes from away1's stripe and no other.
    const refunded = await kit.refund(merchantToken, paymentIds[1]!, '1200');
    expect(refunded.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect((await stripeRowOf(stack.shards, merchant, payers[0]!))!.pending).toBe(1000n);
    expect((await stripeRowOf(stack.shards, merchant, payers[1]!))!.pending).toBe(1800n);
    expect((await stripeRowOf(stack.shards, merchant, payers[2]!))!.pending).toBe(5000n);
    expect(await kit.balance(away1)).toEqual(at('8200'));
    expect(await kit.balance(merchant)).toMatchObject({ pending: '7800', total: '7800' });

    // Move 4000 of away2's stripe from pending to available (a zero-sum posting on the stripe),
    // then refund 4500 of its payment: 1000 from pending, the other 3500 from available.
    const stripe2 = (await stripeRowOf(stack.shards, merchant, payers[2]!))!;
    const shard2 = stack.shards.all[databases[2]!]!;
    const moved = await postOne(shard2, {
      kind: 'spec',
      spec: {
        id: newId('posting', shardOf('account', stripe2.id)),
        kind: 'TEST_SETTLE',
        refId: null,
        dedupeKey: null,
        currency: 'USD',
        legs: [
          { accountId: stripe2.id, bucket: 'PENDING', amount: -4000n },
          { accountId: stripe2.id, bucket: 'AVAILABLE', amount: 4000n },
        ],
      },
      finish: async (_tx, outcome) => outcome.status,
    });
    expect(moved).toBe('APPLIED');
    expect(await stripeRowOf(stack.shards, merchant, payers[2]!)).toMatchObject({
      pending: 1000n,
      available: 4000n,
    });
    const short = await kit.refund(merchantToken, paymentIds[2]!, '4500');
    expect(short.data!.refundPayment).toMatchObject({
      __typename: 'Refund',
      status: 'SUCCEEDED',
      payment: { refundedAmount: '4500' },
    });
    expect(await stripeRowOf(stack.shards, merchant, payers[2]!)).toMatchObject({ pending: 0n, available: 500n });
    expect(await kit.balance(away2)).toEqual(at('9500'));
    expect(await kit.balance(merchant)).toEqual({ available: '500', frozen: '0', pending: '2800', total: '3300' });
    // Nothing beyond the stripe's total: 500 of the payment is left, and the stripe holds 500.
    const rest = await kit.refund(merchantToken, paymentIds[2]!, '501', { doc: detailDocs.refundPayment });
    expect(rest.data!.refundPayment).toMatchObject({ __typename: 'RefundExceedsPayment', refundable: '500' });

    const health = await ledgerHealth(stack.shards);
    const mine = new Set([
      merchant,
      ...payers,
      ...(await Promise.all(payers.map(async (p) => (await stripeRowOf(stack.shards, merchant, p))!.id))),
    ]);
    expect(health.balanceMismatches.filter((m) => mine.has(m.accountId))).toEqual([]);
  });

  it("completes a cross-shard payment at once: payment and DONE outbox row on the payer's database, every shard balanced", async () => {
    const payerOwner = unique('x-payer');
    const payeeOwner = unique('x-payee');
    const payer = await kit.open(payerOwner);
    const payee = await kit.openAwayFrom(payeeOwner, [physicalOf(stack.shards, payer)]);
    const payerDb = physicalOf(stack.shards, payer);
    const payeeDb = physicalOf(stack.shards, payee);
    expect(payeeDb).not.toBe(payerDb);
    await kit.fund(payer, '10000');

    const paid = await kit.pay(await token(payerOwner, 'customer'), { payer, payee, amount: '4321' });
    expect(paid.errors).toBeUndefined();
    const payment = paid.data!.createPayment;
    expect(payment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', amount: '4321' });
    expect(physicalOf(stack.shards, payment.id, 'payment')).toBe(payerDb);
    expect(await kit.balance(payer)).toEqual(at('5679'));
    expect(await kit.balance(payee)).toEqual(at('4321'));

    const payerShard = stack.shards.all[payerDb]!;
    const [row] = await payerShard.db.select().from(payments).where(eq(payments.id, payment.id));
    expect(row).toMatchObject({
      route: 'CROSS_SHARD',
      status: 'SUCCEEDED',
      payerAccountId: payer,
      payeeAccountId: payee,
      creditAccountId: payee,
      amount: 4321n,
    });
    expect(row!.completedAt).toBeInstanceOf(Date);
    const [outbox] = await payerShard.db.select().from(transferOutbox).where(eq(transferOutbox.id, payment.id));
    expect(outbox).toMatchObject({ step: 'PAYMENT_CREDIT', status: 'DONE' });
    const payeeShard = stack.shards.all[payeeDb]!;
    expect(await payeeShard.db.select().from(payments).where(eq(payments.id, payment.id))).toEqual([]);
    expect(await payeeShard.db.select().from(transferOutbox).where(eq(transferOutbox.id, payment.id))).toEqual([]);

    // Through clearing: the payer's database debits the payer into clearing, the payee's
    // credits the payee out of clearing; each half sums to zero on its own database.
    const home = await entrySumsOfRef(stack.shards, payerDb, payment.id);
    const away = await entrySumsOfRef(stack.shards, payeeDb, payment.id);
    expect(home.get(payer)).toBe(-4321n);
    expect(away.get(payee)).toBe(4321n);
    expect([...home.values()].reduce((a, b) => a + b, 0n)).toBe(0n);
    expect([...away.values()].reduce((a, b) => a + b, 0n)).toBe(0n);
    expect(await postingKindsOfRef(stack.shards, payerDb, payment.id)).toEqual(['PAYMENT']);
    expect(await postingKindsOfRef(stack.shards, payeeDb, payment.id)).toEqual(['PAYMENT_CREDIT']);

    const health = await ledgerHealth(stack.shards);
    expect(health.shards.length).toBeGreaterThan(0);
    expect(health.shards.filter((s) => !s.balanced)).toEqual([]);
    expect(health.shards.filter((s) => s.currency === 'USD').map((s) => s.shard)).toEqual(
      expect.arrayContaining([payerShard.name, payeeShard.name]),
    );
    expect(health.balanceMismatches.filter((m) => m.accountId === payer || m.accountId === payee)).toEqual([]);
  });

  it('completes concurrent copies of many cross-shard payments exactly once, failing the ones whose payee closed', async () => {
    const payers = [await kit.open(unique('many-payer'))];
    const payerDb = physicalOf(stack.shards, payers[0]!);
    for (let i = 1; i < 6; i++) payers.push(await kit.open(unique('many-payer'), { physical: payerDb }));
    const payees: string[] = [];
    for (let i = 0; i < 6; i++) payees.push(await kit.openAwayFrom(unique('many-payee'), [payerDb]));
    const ids: string[] = [];
    for (const [i, payer] of payers.entries()) {
      await kit.fund(payer, '1000');
      const half = await crossShardPaymentFirstHalf(
        stack.shards,
        (await accountRowOf(stack.shards, payer))!,
        (await accountRowOf(stack.shards, payees[i]!))!,
        400n,
        unique('many-owner'),
      );
      ids.push(half.id);
    }
    const closed = new Set([1, 4]);
    for (const i of closed) await closeInSql(stack.shards, payees[i]!);
    const home = stack.shards.all[payerDb]!;
    // Three copies of every completion at once (the request, a relay, a replay): merged batches
    // then hold several copies of one payment, and only one may take it.
    await Promise.all(
      ids.flatMap((id) => [1, 2, 3].map(() => runOutboxStep(stack.shards, home, id, () => new Date()))),
    );

    for (const [i, id] of ids.entries()) {
      const [row] = await home.db.select().from(payments).where(eq(payments.id, id));
      const payeeDb = physicalOf(stack.shards, payees[i]!);
      if (closed.has(i)) {
        expect(row).toMatchObject({ status: 'FAILED', failureCode: 'ACCOUNT_NOT_ACTIVE' });
        expect(await postingKindsOfRef(stack.shards, payerDb, id)).toEqual(['PAYMENT', 'PAYMENT_REVERSAL']);
        expect(await postingKindsOfRef(stack.shards, payeeDb, id)).toEqual([]);
        expect(await kit.balance(payers[i]!)).toEqual(at('1000'));
      } else {
        expect(row).toMatchObject({ status: 'SUCCEEDED', failureCode: null });
        expect(row!.completedAt).toBeInstanceOf(Date);
        expect(await postingKindsOfRef(stack.shards, payerDb, id)).toEqual(['PAYMENT']);
        expect(await postingKindsOfRef(stack.shards, payeeDb, id)).toEqual(['PAYMENT_CREDIT']);
        expect(await kit.balance(payers[i]!)).toEqual(at('600'));
        expect(await kit.balance(payees[i]!)).toEqual(at('400'));
      }
      const [outbox] = await home.db.select().from(transferOutbox).where(eq(transferOutbox.id, id));
      expect(outbox?.status).toBe('DONE');
    }
    const health = await ledgerHealth(stack.shards);
    expect(health.shards.filter((s) => !s.balanced)).toEqual([]);
    expect(health.balanceMismatches.filter((m) => [...payers, ...payees].includes(m.accountId))).toEqual([]);
  });

  it('completes payments left in flight by the two completion paths of before the one pipeline (outbox PAYMENT_CREDIT and PAYMENT_LEGS) exactly once', async () => {
    // An upgrade meets rows written by the old code: a two-leg payment's first half with its
    // PAYMENT_CREDIT row, and a payment of legs' record, legs and PAYMENT_LEGS row. The one
    // completion (services/payment-completion.ts) reads both steps.
    const payer = await kit.open(unique('inflight-payer'));
    const payerDb = physicalOf(stack.shards, payer);
    const payee = await kit.openAwayFrom(unique('inflight-payee'), [payerDb]);
    const localPayee = await kit.open(unique('inflight-local'), { physical: payerDb });
    const split = await kit.openAwayFrom(unique('inflight-split'), [payerDb]);
    await kit.fund(payer, '1000');
    const twoLeg = await crossShardPaymentFirstHalf(
      stack.shards,
      (await accountRowOf(stack.shards, payer))!,
      (await accountRowOf(stack.shards, payee))!,
      400n,
      unique('inflight-owner'),
    );
    const home = stack.shards.all[payerDb]!;
    const legsId = newId('payment', shardOf('account', payer));
    const now = new Date();
    const legs = [
      ['PAYER', payer, 500n],
      ['PAYEE', localPayee, 300n],
      ['SPLIT', split, 200n],
    ] as const;
    await inTransaction(home, async (tx) => {
      await tx.insert(payments).values({
        id: legsId,
        payerAccountId: payer,
        payeeAccountId: localPayee,
        creditAccountId: localPayee,
        route: 'LEGS',
        amount: 500n,
        currency: 'USD',
        status: 'PROCESSING',
        createdBy: 'test',
        createdAt: now,
      });
      await tx.insert(paymentLegs).values(
        legs.map(([role, accountId, amount], legIndex) => ({
          paymentId: legsId,
          legIndex,
          role,
          accountId,
          postedAccountId: accountId,
          bucket: 'AVAILABLE' as const,
          amount,
          currency: 'USD',
        })),
      );
      await tx.insert(transferOutbox).values({
        id: legsId,
        step: 'PAYMENT_LEGS',
        status: 'PENDING',
        createdAt: now,
        nextAttemptAt: new Date(now.getTime() + 3_600_000),
      });
    });
    // Three copies of each at once (the request, a relay, a replay), then once more.
    const runAll = () =>
      Promise.all(
        [twoLeg.id, legsId].flatMap((id) =>
          [1, 2, 3].map(() => runOutboxStep(stack.shards, home, id, () => new Date())),
        ),
      );
    await runAll();
    await runAll();
    for (const id of [twoLeg.id, legsId]) {
      const [row] = await home.db.select().from(payments).where(eq(payments.id, id));
      expect(row).toMatchObject({ status: 'SUCCEEDED', failureCode: null });
      const [outbox] = await home.db.select().from(transferOutbox).where(eq(transferOutbox.id, id));
      expect(outbox?.status).toBe('DONE');
    }
    expect(await postingKindsOfRef(stack.shards, physicalOf(stack.shards, payee), twoLeg.id)).toEqual([
      'PAYMENT_CREDIT',
    ]);
    expect(await postingKindsOfRef(stack.shards, payerDb, legsId)).toEqual(['PAYMENT']);
    expect(await postingKindsOfRef(stack.shards, physicalOf(stack.shards, split), legsId)).toEqual(['PAYMENT_LEG']);
    expect(await kit.balance(payer)).toEqual(at('100'));
    expect(await kit.balance(payee)).toEqual(at('400'));
    expect(await kit.balance(localPayee)).toEqual(at('300'));
    expect(await kit.balance(split)).toEqual(at('200'));
    const health = await ledgerHealth(stack.shards);
    expect(health.shards.filter((s) => !s.balanced)).toEqual([]);
  });

  it('fails a cross-shard payment whose credit is refused, returns the money to the payer, and refuses to refund it', async () => {
    const payerOwner = unique('fail-payer');
    const payeeOwner = unique('fail-payee');
    const payer = await kit.open(payerOwner);
    const payee = await kit.openAwayFrom(payeeOwner, [physicalOf(stack.shards, payer)]);
    const payerDb = physicalOf(stack.shards, payer);
    const payeeDb = physicalOf(stack.shards, payee);
    await kit.fund(payer, '10000');
    const payeeToken = await token(payeeOwner, 'customer');

    // The payer's half as services/payment.ts writes it; the credit has not run yet.
    const pending = await crossShardPaymentFirstHalf(
      stack.shards,
      (await accountRowOf(stack.shards, payer))!,
      (await accountRowOf(stack.shards, payee))!,
      2500n,
      payerOwner,
    );
    expect(await kit.balance(payer)).toEqual(at('7500'));
    expect(await kit.balance(payee)).toEqual(at('0'));
    const processing = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: pending.id }, kit.operator);
    expect(processing.data!.payment).toMatchObject({ status: 'PROCESSING', route: 'CROSS_SHARD', failureCode: null });
    const notYet = await kit.refund(payeeToken, pending.id, '100', { doc: detailDocs.refundPayment });
    expect(notYet.data!.refundPayment).toMatchObject({
      __typename: 'PaymentNotRefundable',
      code: 'PAYMENT_NOT_REFUNDABLE',
      paymentId: pending.id,
      paymentStatus: 'PROCESSING',
    });

    // The payee closes before the credit arrives: the credit is refused and the payment fails.
    await closeInSql(stack.shards, payee);
    const home = stack.shards.all[payerDb]!;
    await runOutboxStep(stack.shards, home, pending.id, () => new Date());
    // Running it again (a relay, a retry) changes nothing.
    await runOutboxStep(stack.shards, home, pending.id, () => new Date());

    const failed = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: pending.id }, kit.operator);
    expect(failed.errors).toBeUndefined();
    expect(failed.data!.payment).toMatchObject({
      status: 'FAILED',
      failureCode: 'ACCOUNT_NOT_ACTIVE',
      refundedAmount: '0',
      refunds: [],
    });
    const [outbox] = await home.db.select().from(transferOutbox).where(eq(transferOutbox.id, pending.id));
    expect(outbox?.status).toBe('DONE');
    expect(await kit.balance(payer)).toEqual(at('10000'));
    expect(await kit.balance(payee)).toEqual(at('0'));
    // The money went into clearing and came back: clearing nets to zero for this payment, and
    // the payee's database holds no posting of it at all.
    const sums = await entrySumsOfRef(stack.shards, payerDb, pending.id);
    expect(sums.get(payer)).toBe(0n);
    expect([...sums.values()]).toEqual([0n, 0n]);
    expect(await postingKindsOfRef(stack.shards, payerDb, pending.id)).toEqual(['PAYMENT', 'PAYMENT_REVERSAL']);
    expect(await postingKindsOfRef(stack.shards, payeeDb, pending.id)).toEqual([]);

    const listed = await gql(stack.gatewayUrl, moneyDocs.accountPayments, { id: payer }, kit.operator);
    expect(listed.data!.account.payments.edges).toEqual([
      { node: { id: pending.id, status: 'FAILED', amount: '2500' } },
    ]);
    const refused = await kit.refund(kit.operator, pending.id, '100');
    expect(refused.data!.refundPayment).toMatchObject({
      __typename: 'PaymentNotRefundable',
      code: 'PAYMENT_NOT_REFUNDABLE',
    });
    const detailed = await kit.refund(kit.operator, pending.id, '100', { doc: detailDocs.refundPayment });
    expect(detailed.data!.refundPayment).toMatchObject({ paymentId: pending.id, paymentStatus: 'FAILED' });
    expect(await kit.balance(payer)).toEqual(at('10000'));

    const health = await ledgerHealth(stack.shards);
    expect(health.shards.filter((s) => !s.balanced)).toEqual([]);
    expect(health.balanceMismatches.filter((m) => m.accountId === payer || m.accountId === payee)).toEqual([]);
  });
});
