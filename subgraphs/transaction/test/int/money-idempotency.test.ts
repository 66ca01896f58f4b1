import { describe, it, expect } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import {
  detailDocs,
  moneyDocs,
  physicalOf,
  type Answer,
  type MoneyKit,
  useMoneyStack,
} from '../../../../test/support/money';

/**
 * Idempotency keys and races, over real HTTP through the gateway: replays and concurrent
 * copies of one request move money once, and concurrent refunds never exceed the payment.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });

function typenames(answers: Answer[], field: string): string[] {
  return answers.map((a) => {
    expect(a.errors).toBeUndefined();
    return a.data![field].__typename as string;
  });
}

/** A payer and a payee on two different databases, the payer funded. */
async function crossShardPair(prefix: string, funds: string) {
  const payerOwner = unique(`${prefix}-payer`);
  const payeeOwner = unique(`${prefix}-payee`);
  const payer = await kit.open(payerOwner);
  const payee = await kit.openAwayFrom(payeeOwner, [physicalOf(stack.shards, payer)]);
  expect(physicalOf(stack.shards, payee)).not.toBe(physicalOf(stack.shards, payer));
  await kit.fund(payer, funds);
  return {
    payer,
    payee,
    payerToken: await token(payerOwner, 'customer'),
    payeeToken: await token(payeeOwner, 'customer'),
  };
}

describe('idempotency', () => {
  it('answers a sequential replay with the same payment and moves the money once', async () => {
    const owner = unique('replay');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('replay-payee'));
    await kit.fund(payer, '10000');
    const input = { payer, payee, amount: '2500', key: unique('k'), description: 'once' };

    const first = await kit.pay(bearer, input);
    expect(first.errors).toBeUndefined();
    expect(first.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', amount: '2500' });
    const second = await kit.pay(bearer, input);
    expect(second).toEqual(first);
    const third = await kit.pay(bearer, input);
    expect(third).toEqual(first);

    expect(await kit.balance(payer)).toEqual(at('7500'));
    expect(await kit.balance(payee)).toEqual(at('2500'));
    expect(await kit.paymentIds(payer)).toEqual([first.data!.createPayment.id]);
  });

  it('makes one payment of 50 concurrent CreatePayment requests with one key (cross-shard)', async () => {
    const { payer, payee, payerToken } = await crossShardPair('herd', '100000');
    const input = { payer, payee, amount: '1234', key: unique('herd') };

    const answers = await Promise.all(Array.from({ length: 50 }, () => kit.pay(payerToken, input)));
    expect(typenames(answers, 'createPayment')).toEqual(Array(50).fill('Payment'));
    const ids = new Set(answers.map((a) => a.data!.createPayment.id as string));
    expect(ids.size).toBe(1);
    // Every copy waited for the payment to complete, so all answer the same finished payment.
    for (const a of answers) expect(a.data!.createPayment).toEqual(answers[0]!.data!.createPayment);
    expect(answers[0]!.data!.createPayment).toMatchObject({ status: 'SUCCEEDED', amount: '1234', refundedAmount: '0' });

    expect(await kit.balance(payer)).toEqual(at(String(100000 - 1234)));
    expect(await kit.balance(payee)).toEqual(at('1234'));
    expect(await kit.paymentIds(payer)).toEqual([...ids]);
    expect(await kit.paymentIds(payee)).toEqual([...ids]);
  });

  it('refuses the same key with other parameters as IDEMPOTENCY_KEY_REUSED and writes nothing', async () => {
    const owner = unique('reuse');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('reuse-payee'));
    const otherPayee = await kit.open(unique('reuse-other'));
    await kit.fund(payer, '10000');
    const key = unique('k');
    const paymentId = await kit.paid(bearer, { payer, payee, amount: '1000', key });
    const all = [payer, payee, otherPayee];
    const before = await kit.snapshot(all);

    const variants = [
      { payer, payee, amount: '1001', key },
      { payer, payee: otherPayee, amount: '1000', key },
      { payer, payee, amount: '1000', key, description: 'changed' },
    ];
    for (const variant of variants) {
      const answered = await kit.pay(bearer, variant);
      expect(answered.errors).toBeUndefined();
      expect(answered.data!.createPayment).toMatchObject({
        __typename: 'IdempotencyKeyReused',
        code: 'IDEMPOTENCY_KEY_REUSED',
      });
      const detailed = await kit.pay(bearer, variant, detailDocs.createPayment);
      expect(detailed.data!.createPayment).toMatchObject({ __typename: 'IdempotencyKeyReused', idempotencyKey: key });
    }
    // A key is scoped to its account, not to one operation: the same key on a withdrawal from the
    // payer is a reuse too (docs/PAYMENTS.md, "Idempotency keys").
    const withdrawn = await kit.withdraw(bearer, payer, '1000', { key });
    expect(withdrawn.data!.withdraw).toMatchObject({
      __typename: 'IdempotencyKeyReused',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await kit.snapshot(all)).toEqual(before);

    // The original request with its key is still a replay of the first payment.
    const replay = await kit.pay(bearer, { payer, payee, amount: '1000', key });
    expect(replay.data!.createPayment).toMatchObject({ __typename: 'Payment', id: paymentId });
    expect(await kit.balance(payer)).toEqual(at('9000'));
  });

  it('scopes keys to the caller: another customer with the same key string gets their own payment', async () => {
    const ownerA = unique('scope-a');
    const ownerB = unique('scope-b');
    const payerA = await kit.open(ownerA);
    const payerB = await kit.open(ownerB);
    const payee = await kit.open(unique('scope-payee'));
    await kit.fund(payerA, '5000');
    await kit.fund(payerB, '5000');
    const key = unique('shared-key');

    const a = await kit.paid(await token(ownerA, 'customer'), { payer: payerA, payee, amount: '1000', key });
    const b = await kit.paid(await token(ownerB, 'customer'), { payer: payerB, payee, amount: '1000', key });
    expect(b).not.toBe(a);
    // B's key is not A's even with A's exact parameters: B may not pay from A's account.
    const asA = await kit.pay(await token(ownerB, 'customer'), { payer: payerA, payee, amount: '1000', key });
    expect(asA.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    expect(await kit.balance(payerA)).toEqual(at('4000'));
    expect(await kit.balance(payerB)).toEqual(at('4000'));
    expect(await kit.balance(payee)).toEqual(at('2000'));
    expect((await kit.paymentIds(payee)).sort()).toEqual([a, b].sort());
  });

  it('remembers a refusal: a replay of an INSUFFICIENT_FUNDS payment is refused again after a top-up', async () => {
    const owner = unique('remember');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('remember-payee'));
    await kit.fund(payer, '1000');
    const input = { payer, payee, amount: '5000', key: unique('k') };

    const refused = await kit.pay(bearer, input, detailDocs.createPayment);
    expect(refused.errors).toBeUndefined();
    expect(refused.data!.createPayment).toMatchObject({
      __typename: 'InsufficientFunds',
      code: 'INSUFFICIENT_FUNDS',
      accountId: payer,
      available: '1000',
    });

    await kit.fund(payer, '10000');
    expect(await kit.balance(payer)).toEqual(at('11000'));
    const replayed = await kit.pay(bearer, input, detailDocs.createPayment);
    // The same answer as when the request was decided, available included.
    expect(replayed).toEqual(refused);
    const viaContract = await kit.pay(bearer, input);
    expect(viaContract.data!.createPayment).toMatchObject({
      __typename: 'InsufficientFunds',
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(await kit.balance(payer)).toEqual(at('11000'));
    expect(await kit.paymentIds(payer)).toEqual([]);

    // A new key is a new request, decided on today's balance.
    const fresh = await kit.pay(bearer, { ...input, key: unique('k') });
    expect(fresh.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    expect(await kit.balance(payer)).toEqual(at('6000'));
  });

  it('applies replayed and concurrent Deposit, Withdraw and RefundPayment once', async () => {
    const owner = unique('once');
    const payeeOwner = unique('once-payee');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(payeeOwner);

    const depositKey = unique('dep');
    const deposits = await Promise.all(
      Array.from({ length: 10 }, () => kit.deposit(payer, '7000', { key: depositKey })),
    );
    expect(typenames(deposits, 'deposit')).toEqual(Array(10).fill('Deposit'));
    expect(new Set(deposits.map((d) => d.data!.deposit.id)).size).toBe(1);
    const laterDeposit = await kit.deposit(payer, '7000', { key: depositKey });
    expect(laterDeposit.data!.deposit.id).toBe(deposits[0]!.data!.deposit.id);
    expect(await kit.balance(payer)).toEqual(at('7000'));
    const depositReused = await kit.deposit(payer, '7001', { key: depositKey });
    expect(depositReused.data!.deposit).toMatchObject({
      __typename: 'IdempotencyKeyReused',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await kit.balance(payer)).toEqual(at('7000'));

    const withdrawKey = unique('wdr');
    const withdrawals = await Promise.all(
      Array.from({ length: 10 }, () => kit.withdraw(bearer, payer, '1000', { key: withdrawKey })),
    );
    expect(typenames(withdrawals, 'withdraw')).toEqual(Array(10).fill('Withdrawal'));
    expect(new Set(withdrawals.map((w) => w.data!.withdraw.id)).size).toBe(1);
    const laterWithdrawal = await kit.withdraw(bearer, payer, '1000', { key: withdrawKey });
    expect(laterWithdrawal.data!.withdraw.id).toBe(withdrawals[0]!.data!.withdraw.id);
    expect(await kit.balance(payer)).toEqual(at('6000'));

    const paymentId = await kit.paid(bearer, { payer, payee, amount: '3000' });
    const payeeToken = await token(payeeOwner, 'customer');
    const refundKey = unique('ref');
    const refunds = await Promise.all(
      Array.from({ length: 10 }, () => kit.refund(payeeToken, paymentId, '500', { key: refundKey })),
    );
    expect(typenames(refunds, 'refundPayment')).toEqual(Array(10).fill('Refund'));
    expect(new Set(refunds.map((r) => r.data!.refundPayment.id)).size).toBe(1);
    const laterRefund = await kit.refund(payeeToken, paymentId, '500', { key: refundKey });
    expect(laterRefund.data!.refundPayment).toMatchObject({
      id: refunds[0]!.data!.refundPayment.id,
      status: 'SUCCEEDED',
      payment: { refundedAmount: '500' },
    });
    const refundReused = await kit.refund(payeeToken, paymentId, '600', { key: refundKey });
    expect(refundReused.data!.refundPayment).toMatchObject({
      __typename: 'IdempotencyKeyReused',
      code: 'IDEMPOTENCY_KEY_REUSED',
    });

    expect(await kit.balance(payer)).toEqual(at('3500'));
    expect(await kit.balance(payee)).toEqual(at('2500'));
    const read = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, kit.operator);
    expect(read.data!.payment).toMatchObject({
      refundedAmount: '500',
      refunds: [{ id: refunds[0]!.data!.refundPayment.id, amount: '500', status: 'SUCCEEDED' }],
    });
  });

  it('answers concurrent copies of a refund of the whole payment with that refund, never REFUND_EXCEEDS_PAYMENT', async () => {
    // Once one copy has refunded everything, the others must find its refund, not decide anew.
    const merchantOwner = unique('full-merchant');
    const merchantPayer = await kit.open(unique('full-payer'));
    const merchant = await kit.open(merchantOwner, { type: 'MERCHANT' });
    await kit.fund(merchantPayer, '3000');
    const cross = await crossShardPair('full-x', '3000');
    const cases = [
      {
        payer: merchantPayer,
        payee: merchant,
        paymentId: await kit.paid(kit.operator, { payer: merchantPayer, payee: merchant, amount: '3000' }),
        bearer: await token(merchantOwner, 'merchant'),
      },
      {
        payer: cross.payer,
        payee: cross.payee,
        paymentId: await kit.paid(cross.payerToken, { payer: cross.payer, payee: cross.payee, amount: '3000' }),
        bearer: cross.payeeToken,
      },
    ];
    for (const c of cases) {
      const key = unique('full');
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => kit.refund(c.bearer, c.paymentId, '3000', { key })),
      );
      expect(typenames(answers, 'refundPayment')).toEqual(Array(10).fill('Refund'));
      expect(new Set(answers.map((a) => a.data!.refundPayment.id)).size).toBe(1);
      for (const a of answers)
        expect(a.data!.refundPayment).toMatchObject({ status: 'SUCCEEDED', payment: { refundedAmount: '3000' } });
      expect(await kit.balance(c.payer)).toEqual(at('3000'));
      expect(await kit.balance(c.payee)).toEqual(at('0'));
    }
  });
});

describe('concurrent refunds', () => {
  /**
   * A refund of 1000 under a key of its own, sent again with that key while it answers LOCK_TIMEOUT (retryable: another
   * refund of the payment is in flight, services/refund.ts RefundInFlight), at most `retries` times.
   */
  async function refundUntilAnswered(paymentId: string, bearer: string, retries: number) {
    const key = unique('race-refund');
    for (let attempt = 0; ; attempt++) {
      const answer = await kit.refund(bearer, paymentId, '1000', { key, doc: detailDocs.refundPayment });
      if (answer.errors?.[0]?.extensions?.code !== 'LOCK_TIMEOUT' || attempt === retries) return answer;
      expect(answer.errors[0]!.extensions).toMatchObject({ retryable: true });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * 20 refunds of 1000 at once. A local refund (a merchant payment) is never refused for another in flight
   * (`retries` 0): it reserves and ends in one transaction. A cross-shard one is while another is in flight, and
   * its client retries with the same key.
   */
  async function refundRace(paymentId: string, bearer: string, retries = 0) {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => refundUntilAnswered(paymentId, bearer, retries)),
    );
    const names = typenames(answers, 'refundPayment');
    expect(names.filter((n) => n === 'Refund')).toHaveLength(10);
    expect(names.filter((n) => n === 'RefundExceedsPayment')).toHaveLength(10);
    for (const a of answers) {
      const r = a.data!.refundPayment;
      if (r.__typename === 'Refund') expect(r).toMatchObject({ refundStatus: 'SUCCEEDED', amount: '1000' });
      else expect(r).toMatchObject({ code: 'REFUND_EXCEEDS_PAYMENT', paymentId, refundable: '0' });
    }
    const read = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, kit.operator);
    expect(read.errors).toBeUndefined();
    expect(read.data!.payment.refundedAmount).toBe('10000');
    expect(read.data!.payment.refunds).toHaveLength(10);
    expect(
      read.data!.payment.refunds.every(
        (r: { amount: string; status: string }) => r.amount === '1000' && r.status === 'SUCCEEDED',
      ),
    ).toBe(true);
    return read.data!.payment;
  }

  it('lets exactly 10 of 20 concurrent refunds of 1000 through on a 10000 merchant payment', async () => {
    const payerOwner = unique('race-payer');
    const merchantOwner = unique('race-merchant');
    const payer = await kit.open(payerOwner);
    const merchant = await kit.open(merchantOwner, { type: 'MERCHANT' });
    await kit.fund(payer, '10000');
    const paymentId = await kit.paid(await token(payerOwner, 'customer'), { payer, payee: merchant, amount: '10000' });
    expect(await kit.balance(payer)).toEqual(at('0'));
    expect(await kit.balance(merchant)).toEqual({ available: '0', frozen: '0', pending: '10000', total: '10000' });

    const payment = await refundRace(paymentId, await token(merchantOwner, 'merchant'));
    expect(payment.payee.balance).toEqual({ pending: '0', available: '0' });
    expect(await kit.balance(payer)).toEqual(at('10000'));
    expect(await kit.balance(merchant)).toEqual(at('0'));
  });

  it('lets exactly 10 of 20 concurrent refunds through on a cross-shard payment, each through the outbox, one at a time', async () => {
    const { payer, payee, payerToken, payeeToken } = await crossShardPair('race-x', '10000');
    const paymentId = await kit.paid(payerToken, { payer, payee, amount: '10000' });
    expect(await kit.balance(payee)).toEqual(at('10000'));

    await refundRace(paymentId, payeeToken, 500);
    expect(await kit.balance(payer)).toEqual(at('10000'));
    expect(await kit.balance(payee)).toEqual(at('0'));
  });
});
