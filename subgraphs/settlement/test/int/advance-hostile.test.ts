import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { addDays } from '@paygraph/shared/business-date';
import { defaultStack } from '../../../../test/support/default-stack';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { AdvanceKit, sum, today, type Stripes } from '../../../../test/support/advances';
import { advanceFeeOf, feeOf } from '../../src/domain/fees';
import { completeSweep, debitForSweep } from '@paygraph/transaction/services/sweep';

/**
 * Issue 45's hostile merchant, with ordinary tokens through the gateway: a refund of advanced
 * money takes the merchant's pending on any stripe first, then its available, then its credit
 * line (never an internal stripe named in a refusal); a retried advance answers the advance it
 * paid whatever changed since; the advance fee rounds up, so splitting an advance saves nothing.
 * Every test checks each stripe's pending, available and outstanding advance to the unit, fee
 * income, reconciliation and `npm run verify`'s check of outstanding advances (booksAgree).
 */
let stack: Stack;
let operator: string;
const kit = new AdvanceKit(
  () => stack,
  () => operator,
);
const { q, open, pay, refund, withdraw, stripes, stripeOf, balanceOf, outstanding, termsOk, feeRate } = kit;
const { advance, offer, setCredit, feeIncome, settle, settlementView, booksAgree, advanceRows, moves } = kit;
const statusDoc = (m: 'freezeAccount' | 'unfreezeAccount') =>
  `mutation($id: ID!) { ${m}(id: $id) { __typename ... on Account { id status } ... on UserError { code message } } }`;

let payers: Map<number, string>;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
  payers = await kit.payersOnEveryShard('10000000');
});

afterAll(async () => {
  await stack?.stop();
});

/** A merchant of a fresh owner, with the payer on its home shard and one on another shard. */
async function merchantWithPayers(prefix: string) {
  const owner = unique(prefix);
  const ownerToken = await token(owner, 'customer');
  const merchant = await open(owner, 'MERCHANT');
  const { home, remote } = await kit.homeAndRemote(payers, merchant);
  expect(remote).not.toBe(home);
  return { owner, ownerToken, merchant, home, remote };
}

/** Moves a payment to the day before (its settlement date), as a payment made yesterday. */
async function madeYesterday(paymentId: string): Promise<string> {
  const yesterday = addDays(today(), -1);
  await stack.shards
    .of('payment', paymentId)
    .db.execute(sql`UPDATE payments SET business_date = ${yesterday} WHERE id = ${paymentId}`);
  return yesterday;
}

/** The stripes by role: X the advanced payment's, Y the other payer's. */
function rows(all: Stripes, x: string, y: string) {
  return { x: all.get(x)!, y: all.get(y)! };
}

describe("a refund of advanced money takes the merchant's pending on any stripe first", () => {
  for (const xIsHome of [false, true]) {
    it(`the issue's case (the advanced payment on the ${xIsHome ? 'home row' : 'stripe elsewhere'}): pending elsewhere pays it back, available and the line untouched; settlement covers the advance with the other day's money`, async () => {
      const { ownerToken, merchant, home, remote } = await merchantWithPayers('issue45');
      const [payerX, payerY] = xIsHome ? [home, remote] : [remote, home];
      await termsOk(merchant, 8_000, 100, '1000000');
      await feeRate(merchant, 250);
      const feesStart = await feeIncome();
      const payerStart = await balanceOf(payerX);
      const d = await pay(payerX, merchant, '10000');
      const yesterday = await madeYesterday(d);
      const x = await stripeOf(merchant, payerX);
      expect((await advance(merchant, '8000', ownerToken)).data!.advanceSettlement).toMatchObject({
        __typename: 'Advance',
        feeAmount: '80',
      });
      await pay(payerY, merchant, '10000');
      const y = await stripeOf(merchant, payerY);
      expect(rows(await stripes(merchant), x, y)).toEqual({
        x: { available: 7_920n, pending: 2_000n },
        y: { available: 0n, pending: 10_000n },
      });
      const r = await refund(d, '10000', ownerToken);
      expect(r, JSON.stringify(r)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
      // 2,000 of X's own pending, 8,000 of Y's moved to X first: nothing of available, no credit.
      expect(rows(await stripes(merchant), x, y)).toEqual({
        x: { available: 7_920n, pending: 0n },
        y: { available: 0n, pending: 2_000n },
      });
      // The advance now stands against Y's money: X's outstanding moved to Y, none created or lost.
      expect(await outstanding(merchant)).toEqual(
        new Map([
          [x, 0n],
          [y, 8_000n],
        ]),
      );
      expect(await moves(r.id)).toEqual([{ from: y, to: x, bucket: 'PENDING', amount: 8_000n, status: 'SUCCEEDED' }]);
      expect(await offer(merchant, ownerToken)).toMatchObject({ allowedAmount: '0', outstanding: '8000' });
      expect(await balanceOf(payerX)).toEqual(payerStart);
      const s1 = await settle(merchant, yesterday);
      expect(await settlementView(s1.id, ownerToken)).toMatchObject({
        grossAmount: '10000',
        refundedAmount: '10000',
        advancedAmount: '0',
        feeAmount: '0',
        netAmount: '0',
      });
      const s2 = await settle(merchant);
      const fee = feeOf(2_000n, 250);
      expect(await settlementView(s2.id, ownerToken)).toMatchObject({
        grossAmount: '10000',
        advancedAmount: '8000',
        feeAmount: String(fee),
        netAmount: String(2_000n - fee),
      });
      expect(rows(await stripes(merchant), x, y)).toEqual({
        x: { available: 7_920n, pending: 0n },
        y: { available: 2_000n - fee, pending: 0n },
      });
      expect(sum((await outstanding(merchant)).values())).toBe(0n);
      expect(await feeIncome()).toBe(feesStart + 80n + fee);
      await booksAgree([yesterday, today()]);
    });
  }

  it('with a credit line the same refund leaves the line alone: no credit used while pending holds the money', async () => {
    const { ownerToken, merchant, home, remote } = await merchantWithPayers('issue45line');
    await termsOk(merchant, 8_000, 100, '1000000');
    await setCredit(merchant, '10000');
    const d = await pay(remote, merchant, '10000');
    const x = await stripeOf(merchant, remote);
    expect((await advance(merchant, '8000', ownerToken)).data!.advanceSettlement.__typename).toBe('Advance');
    await pay(home, merchant, '10000');
    expect(await refund(d, '10000', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(rows(await stripes(merchant), x, merchant)).toEqual({
      x: { available: 7_920n, pending: 0n },
      y: { available: 0n, pending: 2_000n },
    });
    expect(
      (await q(contractOperation('GetAccountCredit'), { id: merchant }, ownerToken)).data!.account.balance,
    ).toMatchObject({ available: '7920', creditUsed: '0' });
    await settle(merchant);
    expect(await balanceOf(merchant)).toMatchObject({ pending: 0n });
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await booksAgree();
  });

  it('then available on any stripe, then the line; a refusal names no stripe, says pending, and moves nothing', async () => {
    const { ownerToken, merchant, home, remote } = await merchantWithPayers('refusal');
    await termsOk(merchant, 8_000, 100, '1000000');
    const d = await pay(remote, merchant, '10000');
    const x = await stripeOf(merchant, remote);
    expect((await advance(merchant, '8000', ownerToken)).data!.advanceSettlement.__typename).toBe('Advance');
    expect(await withdraw(merchant, '7920', ownerToken)).toMatchObject({ __typename: 'Withdrawal' });
    // 2,000 pending on X, nothing else anywhere, no line: refused, every row as it was.
    const before = await stripes(merchant);
    const refused = await refund(d, '10000', ownerToken);
    expect(refused).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(refused.message).not.toContain(x);
    expect(refused.message).not.toMatch(/[a-z]{3}_[0-9A-Z]{26}_[0-9a-f]{2}/);
    expect(refused.message).toMatch(/2000 pending/);
    expect(refused.message).not.toMatch(/2000 available/);
    expect(await stripes(merchant)).toEqual(before);
    // Available on the home row (a deposit the merchant keeps there), then the line: the refund takes X's pending,
    // then the home row's available, then its line, in that order.
    await kit.deposit(merchant, '5000');
    await setCredit(merchant, '3000');
    const r = await refund(d, '10000', ownerToken);
    expect(r).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(rows(await stripes(merchant), x, merchant)).toEqual({
      x: { available: 0n, pending: 0n },
      y: { available: -3_000n, pending: 0n },
    });
    expect(await moves(r.id)).toEqual([
      { from: merchant, to: x, bucket: 'AVAILABLE', amount: 8_000n, status: 'SUCCEEDED' },
    ]);
    void home;
    await settle(merchant);
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await booksAgree();
  });
});

describe('a retried advance answers the advance it paid, whatever changed since', () => {
  it('terms to 0 bps, a refund of its money, a freeze: the replay is the same advance; another body is reused; nothing moves', async () => {
    const { owner, ownerToken, merchant, home, remote } = await merchantWithPayers('replay');
    const rivalOwner = unique('rival');
    const rivalToken = await token(rivalOwner, 'customer');
    const rival = await open(rivalOwner, 'MERCHANT');
    const d = await pay(remote, merchant, '10000');
    await pay(home, merchant, '10000');
    await termsOk(merchant, 5_000, 100, '1000000');
    const key = unique('adv');
    const a = (await advance(merchant, '5000', ownerToken, key)).data!.advanceSettlement;
    expect(a).toMatchObject({ __typename: 'Advance', amount: '5000', feeAmount: '50', netAmount: '4950' });
    const same = async (as = ownerToken) => {
      const again = (await advance(merchant, '5000', as, key)).data!.advanceSettlement;
      expect(again, JSON.stringify(again)).toMatchObject({ __typename: 'Advance', id: a.id, amount: '5000' });
    };
    // A refund of advanced money in between, then the same key: the same advance, nothing moved.
    expect(await refund(d, '10000', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    const after = await stripes(merchant);
    const feesAfter = await feeIncome();
    await same();
    await termsOk(merchant, 0, 100, '1000000');
    await same();
    expect((await advance(merchant, '5000', ownerToken)).data!.advanceSettlement).toMatchObject({
      code: 'ADVANCES_DISABLED',
    });
    expect((await q(statusDoc('freezeAccount'), { id: merchant })).data!.freezeAccount.status).toBe('FROZEN');
    await same();
    expect((await advance(merchant, '4000', ownerToken, key)).data!.advanceSettlement).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect((await advance(merchant, '5000', ownerToken)).data!.advanceSettlement).toMatchObject({
      code: 'INVALID_INPUT',
    });
    // Another owner: the first merchant's key on it is FORBIDDEN before any key is looked up; on its own merchant the
    // key is its own (no terms there: disabled), never the first merchant's advance.
    expect(errorCodes(await advance(merchant, '5000', rivalToken, key))).toEqual(['FORBIDDEN']);
    expect((await advance(rival, '5000', rivalToken, key)).data!.advanceSettlement).toMatchObject({
      code: 'ADVANCES_DISABLED',
    });
    // A partner of the same owner is no one to answer an advance to.
    expect(errorCodes(await advance(merchant, '5000', await token(owner, 'partner'), key))).toEqual(['FORBIDDEN']);
    expect(await stripes(merchant)).toEqual(after);
    expect(await feeIncome()).toBe(feesAfter);
    expect(await advanceRows(merchant)).toHaveLength(1);
    expect((await q(statusDoc('unfreezeAccount'), { id: merchant })).data!.unfreezeAccount.status).toBe('ACTIVE');
    await same();
    await settle(merchant);
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await booksAgree();
  });
});

describe('the advance fee rounds up: splitting saves nothing', () => {
  it('ten advances of 49 at 1% pay 1 each, one of 490 pays 5: never less than the whole', async () => {
    const { ownerToken, merchant, remote } = await merchantWithPayers('splitter');
    await pay(remote, merchant, '980');
    await termsOk(merchant, 10_000, 100, '1000000');
    await feeRate(merchant, 0);
    const feesStart = await feeIncome();
    for (let i = 0; i < 10; i++)
      expect((await advance(merchant, '49', ownerToken)).data!.advanceSettlement).toMatchObject({
        __typename: 'Advance',
        feeAmount: String(advanceFeeOf(49n, 100)),
      });
    expect(advanceFeeOf(49n, 100)).toBe(1n);
    expect((await advance(merchant, '490', ownerToken)).data!.advanceSettlement).toMatchObject({
      __typename: 'Advance',
      feeAmount: '5',
    });
    expect((await feeIncome()) - feesStart).toBe(15n);
    expect(await offer(merchant, ownerToken)).toMatchObject({ allowedAmount: '0', feeBps: 100 });
    const s = await settle(merchant);
    expect(s.advancedAmount).toBe(980n);
    expect(await balanceOf(merchant)).toEqual({ available: 980n - 15n, pending: 0n });
    await booksAgree();
  });
});

describe('hostile sequences', () => {
  it('advance, then refund one unit at a time (one by one and concurrently): each unit from pending elsewhere or, once raced, from available; settlement ends every counter at 0', async () => {
    const { ownerToken, merchant, home, remote } = await merchantWithPayers('units45');
    await termsOk(merchant, 10_000, 0, '1000000');
    await feeRate(merchant, 0);
    const p = await pay(remote, merchant, '200');
    await pay(home, merchant, '100');
    const x = await stripeOf(merchant, remote);
    expect((await advance(merchant, '200', ownerToken)).data!.advanceSettlement).toMatchObject({
      __typename: 'Advance',
      amount: '200',
    });
    expect(rows(await stripes(merchant), x, merchant)).toEqual({
      x: { available: 200n, pending: 0n },
      y: { available: 0n, pending: 100n },
    });
    for (let i = 0; i < 30; i++)
      expect(await refund(p, '1', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    // Each unit came from the home row's pending: available untouched, the advance re-attributed unit by unit.
    expect(rows(await stripes(merchant), x, merchant)).toEqual({
      x: { available: 200n, pending: 0n },
      y: { available: 0n, pending: 70n },
    });
    expect(await outstanding(merchant)).toEqual(
      new Map([
        [x, 170n],
        [merchant, 30n],
      ]),
    );
    const raced = await Promise.all(Array.from({ length: 10 }, () => refund(p, '1', ownerToken)));
    expect(raced.map((r) => r.__typename)).toEqual(Array(10).fill('Refund'));
    const mid = rows(await stripes(merchant), x, merchant);
    // Racing units may find the pending another moved and take their unit from available: never both, never neither.
    expect(mid.x.available + mid.x.pending + mid.y.pending + mid.y.available).toBe(200n + 70n - 10n);
    expect(mid.x.pending + mid.y.pending).toBeGreaterThanOrEqual(0n);
    const s = await settle(merchant);
    expect(s).toMatchObject({ grossAmount: 300n, refundedAmount: 40n, feeAmount: 0n });
    expect(await balanceOf(merchant)).toEqual({ available: 260n, pending: 0n });
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await booksAgree();
  });

  it('an advance racing a refund that needs pending from another stripe: both decided one after the other, every unit accounted for', async () => {
    for (let round = 0; round < 3; round++) {
      const { ownerToken, merchant, home, remote } = await merchantWithPayers(`race45-${round}`);
      await termsOk(merchant, 10_000, 100, '1000000');
      await feeRate(merchant, 0);
      const feesStart = await feeIncome();
      const payerStart = await balanceOf(remote);
      const p = await pay(remote, merchant, '10000');
      await pay(home, merchant, '6000');
      // Largest pending first: the 8,000 comes from the stripe of the payment refunded below.
      expect((await advance(merchant, '8000', ownerToken)).data!.advanceSettlement.feeAmount).toBe('80');
      const [r, a] = await Promise.all([refund(p, '10000', ownerToken), advance(merchant, '6000', ownerToken)]);
      // The merchant holds 7,920 available and 8,000 pending: the refund always passes; the advance when the offer
      // read before it still had room.
      expect(r, JSON.stringify(r)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
      const answered = a.data!.advanceSettlement;
      const fee = answered.__typename === 'Advance' ? BigInt(answered.feeAmount) : 0n;
      if (answered.__typename !== 'Advance') expect(answered.code).toBe('ADVANCE_EXCEEDS_ALLOWED');
      const mid = await stripes(merchant);
      for (const [id, b] of mid) expect(b.pending, id).toBeGreaterThanOrEqual(0n);
      const total = (await balanceOf(merchant)).available + (await balanceOf(merchant)).pending;
      expect(total).toBe(16_000n - 10_000n - 80n - fee);
      await settle(merchant);
      expect(await balanceOf(merchant)).toEqual({ available: 16_000n - 10_000n - 80n - fee, pending: 0n });
      expect(sum((await outstanding(merchant)).values())).toBe(0n);
      expect(await feeIncome()).toBe(feesStart + 80n + fee);
      expect(await balanceOf(remote)).toEqual(payerStart);
      await booksAgree();
    }
  });

  it("a refund of a split payment whose payee advanced: the payee's share from its pending elsewhere first, the split's from its own", async () => {
    const { ownerToken, merchant, home } = await merchantWithPayers('legs45');
    let market = await open(unique('legs45-p'), 'MERCHANT');
    for (let i = 0; i < 50 && kit.physicalOf(market) === kit.physicalOf(merchant); i++)
      market = await open(unique('legs45-p'), 'MERCHANT');
    const payer = [...payers.values()].find(
      (p) => kit.physicalOf(p) !== kit.physicalOf(merchant) && kit.physicalOf(p) !== kit.physicalOf(market),
    );
    expect(payer, 'three physical shards').toBeDefined();
    const payerStart = await balanceOf(payer!);
    const paid = await q(contractOperation('CreatePayment'), {
      input: {
        idempotencyKey: unique('pay'),
        payerAccountId: payer!,
        payeeAccountId: merchant,
        amount: '10000',
        currency: 'USD',
        splits: [{ accountId: market, amount: '3000' }],
      },
    });
    expect(paid.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    await pay(home, merchant, '5000');
    const xm = await stripeOf(merchant, payer!);
    const xp = await stripeOf(market, payer!);
    await termsOk(merchant, 10_000, 0, '1000000');
    // Largest pending first: the payee's 7,000 on the payer's shard.
    expect((await advance(merchant, '7000', ownerToken)).data!.advanceSettlement.__typename).toBe('Advance');
    expect(rows(await stripes(merchant), xm, merchant)).toEqual({
      x: { available: 7_000n, pending: 0n },
      y: { available: 0n, pending: 5_000n },
    });
    // An operator's refund: the split paid another owner, whose money the payee's owner may not take back (mayRefund).
    const r = await refund(paid.data!.createPayment.id, '10000');
    expect(r).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    // The payee's 7,000: the home row's 5,000 pending moved first, then 2,000 of the stripe's available.
    expect(rows(await stripes(merchant), xm, merchant)).toEqual({
      x: { available: 5_000n, pending: 0n },
      y: { available: 0n, pending: 0n },
    });
    expect(await stripes(market)).toEqual(
      new Map([
        [market, { available: 0n, pending: 0n }],
        [xp, { available: 0n, pending: 0n }],
      ]),
    );
    expect(await moves(r.id)).toEqual([
      { from: merchant, to: xm, bucket: 'PENDING', amount: 5_000n, status: 'SUCCEEDED' },
    ]);
    expect(await balanceOf(payer!)).toEqual(payerStart);
    const s = await settle(merchant);
    expect(s.advancedAmount).toBe(5_000n);
    expect(await balanceOf(merchant)).toEqual({ available: 5_000n, pending: 0n });
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await settle(market);
    await booksAgree();
  });
});

describe('a move of pending larger than what the advance still covers (a refund raced it)', () => {
  it('lands only the covered part in pending, the rest in available: pending never exceeds the money settlement will move, once however often it is completed', async () => {
    const { merchant, home, remote, ownerToken } = await merchantWithPayers('cap45');
    await termsOk(merchant, 8_000, 100, '1000000');
    await feeRate(merchant, 0);
    await pay(remote, merchant, '10000');
    const x = await stripeOf(merchant, remote);
    expect((await advance(merchant, '8000', ownerToken)).data!.advanceSettlement.__typename).toBe('Advance');
    await pay(home, merchant, '10000');
    // As a refund would make it, but for 9,000 where the advance covers 8,000 of X's money (the 1,000 a racing refund
    // took from available): straight through the service, under its key.
    const shards = stack.shards;
    const move = { fromId: merchant, toId: x, currency: 'USD', amount: 9_000n, merchantId: merchant };
    const key = unique('ref');
    const sweep = await debitForSweep(shards, shards.of('account', merchant), move, key, () => new Date(), 'PENDING');
    expect(sweep).toMatchObject({ bucket: 'PENDING', status: 'PROCESSING', amount: 9_000n });
    for (let i = 0; i < 2; i++) await completeSweep(shards, shards.of('account', merchant), sweep!, () => new Date());
    expect(rows(await stripes(merchant), x, merchant)).toEqual({
      x: { available: 7_920n + 1_000n, pending: 10_000n },
      y: { available: 0n, pending: 1_000n },
    });
    expect(await outstanding(merchant)).toEqual(
      new Map([
        [x, 0n],
        [merchant, 9_000n],
      ]),
    );
    expect(await moves(key)).toEqual([
      { from: merchant, to: x, bucket: 'PENDING', amount: 9_000n, status: 'SUCCEEDED' },
    ]);
    // Each stripe's pending is what its settlement moves: X all of its 10,000, Y the 1,000 its 9,000 advanced leave.
    const s = await settle(merchant);
    expect(s).toMatchObject({ grossAmount: 20_000n, advancedAmount: 9_000n, feeAmount: 0n });
    expect(await balanceOf(merchant)).toEqual({ available: 20_000n - 80n, pending: 0n });
    expect(sum((await outstanding(merchant)).values())).toBe(0n);
    await booksAgree();
  });
});
