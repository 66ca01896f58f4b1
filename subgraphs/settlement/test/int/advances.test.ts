import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { shardOf } from '@paygraph/shared/ids';
import { stripeIdOf } from '@paygraph/shared/ledger/index';
import { addDays, businessDateOf } from '@paygraph/shared/business-date';
import { defaultStack } from '../../../../test/support/default-stack';
import type { Stack } from '../../../../test/support/stack';
import type { Shard } from '@paygraph/shared/shards/pool';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { testSettlementSettings, testShards, token, unique } from '../../../../test/support/env';
import { AdvanceKit, sum } from '../../../../test/support/advances';
import { advanceFeeOf, feeOf } from '../../src/domain/fees';
import { runSettlement } from '../../src/services/settle';
import { reconcile } from '../../src/services/reconcile';
import { counterMismatches, outstandingMismatches } from '../../src/db/ledger-checks';
import { completeAdvance, postPiece } from '../../src/services/advance-pieces';
import { startAdvanceWorker } from '../../src/services/worker';
import { holdLock, statementsRunning } from '../../../../test/support/lock-waits';
import { lockAccount } from '@paygraph/shared/ledger/index';
import { completeSweep, debitForSweep } from '@paygraph/transaction/services/sweep';
import { insertAdvance } from '../../src/db/advance-store';
import type { AdvanceRow } from '../../src/db/schema/settlement';
import { newId, parseId } from '@paygraph/shared/ids';

/**
 * Settlement advances (issue 33) through the gateway on the default stack: terms, the offer, an
 * advance across every stripe, each refusal with nothing written, 24 advances racing, and the
 * settlement that follows (run in process with a clock a day ahead, as the worker would run it).
 */
let stack: Stack;
let operator: string;
const q = (doc: string, variables: Record<string, unknown> = {}, as = operator) =>
  gql(stack.gatewayUrl, doc, variables, as);

const offerDoc = contractOperation('AdvanceOffer');
const settlementDoc = contractOperation('SettlementWithAdvances');

const kit = new AdvanceKit(
  () => stack,
  () => operator,
);
const { open, pay, stripes, advanceRows, piecesOf, refundOffsets, setTerms, advance, feeIncome } = kit;
const outstandingOf = kit.outstanding;
/** A funded payer on each physical shard, so that a merchant they pay has a stripe on every shard. */
const payersOnEveryShard = async (amount: string): Promise<string[]> => [
  ...(await kit.payersOnEveryShard(amount)).values(),
];

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
});

afterAll(async () => {
  await stack?.stop();
});

describe('settlement advances', () => {
  let owner: string;
  let ownerToken: string;
  let merchant: string;
  let payers: string[];
  const paymentIds: string[] = [];

  beforeAll(async () => {
    owner = unique('shop');
    ownerToken = await token(owner, 'customer');
    merchant = await open(owner, 'MERCHANT');
    payers = await payersOnEveryShard('1000000');
    // 10,000 from each shard's payer: a pending of 10,000 on each of the merchant's stripes.
    for (const payer of payers) paymentIds.push(await pay(payer, merchant, '10000'));
  });

  it('refuses every bad request with a typed error, writing nothing', async () => {
    const before = await stripes(merchant);
    const feesBefore = await feeIncome();
    expect(sum([...before.values()].map((s) => s.pending))).toBe(10_000n * BigInt(payers.length));
    // No terms yet: advances are disabled, and so is the offer.
    expect((await advance(merchant, '100', ownerToken)).data!.advanceSettlement).toMatchObject({
      __typename: 'AdvancesDisabled',
      code: 'ADVANCES_DISABLED',
    });
    expect((await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer).toMatchObject({
      allowedAmount: '0',
      feeBps: 0,
      outstanding: '0',
    });
    // A customer (the merchant's own owner) and a partner may not set terms.
    for (const who of [ownerToken, await token(unique('partner'), 'partner')]) {
      const r = await setTerms(merchant, 5000, 100, '100000', who);
      expect(errorCodes(r)).toEqual(['FORBIDDEN']);
    }
    for (const [bps, fee, cap, field] of [
      [10_001, 0, '1', 'maxAdvanceBps'],
      [-1, 0, '1', 'maxAdvanceBps'],
      [100, 10_001, '1', 'feeBps'],
      [100, 0, '-1', 'outstandingMax'],
    ] as const) {
      const r = (await setTerms(merchant, bps, fee, cap)).data!.setAdvanceTerms;
      expect(r, `${bps} ${fee} ${cap}`).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
      expect(r.message).toContain(field);
    }
    const termsRead = await q(
      `query($id: ID!) { account(id: $id) { advanceTerms { maxAdvanceBps } } }`,
      { id: merchant },
      ownerToken,
    );
    expect(termsRead.data!.account.advanceTerms).toBeNull();
    // Terms of 0 bps: still disabled.
    expect((await setTerms(merchant, 0, 100, '100000')).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    expect((await advance(merchant, '100', ownerToken)).data!.advanceSettlement.code).toBe('ADVANCES_DISABLED');
    expect((await setTerms(merchant, 5000, 100, '100000')).data!.setAdvanceTerms).toMatchObject({
      maxAdvanceBps: 5000,
      feeBps: 100,
      outstandingMax: '100000',
    });
    for (const amount of ['0', '-5']) {
      const r = (await advance(merchant, amount, ownerToken)).data!.advanceSettlement;
      expect(r).toMatchObject({ code: 'INVALID_INPUT', message: 'amount must be positive' });
    }
    const allowed = 5_000n * BigInt(payers.length);
    const beyond = (await advance(merchant, String(allowed + 1n), ownerToken)).data!.advanceSettlement;
    expect(beyond).toMatchObject({ __typename: 'AdvanceExceedsAllowed', code: 'ADVANCE_EXCEEDS_ALLOWED' });
    expect(beyond.message).toContain(`the ${allowed} that may be advanced now`);
    // A personal account is not a merchant; another owner's merchant is FORBIDDEN, its balance never shown.
    const personal = await open(owner, 'PERSONAL');
    expect((await advance(personal, '1', ownerToken)).data!.advanceSettlement).toMatchObject({
      code: 'INVALID_INPUT',
      message: `account ${personal} is not a MERCHANT account`,
    });
    const stranger = await token(unique('other'), 'customer');
    const stolen = await advance(merchant, '1', stranger);
    expect(errorCodes(stolen)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(stolen.data ?? null)).not.toContain('available');
    expect(errorCodes(await q(offerDoc, { merchantAccountId: merchant }, stranger))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await advance(merchant, '1', await token(owner, 'partner')))).toEqual(['FORBIDDEN']);
    // Nothing written: no advance, the same balances, the same fee income.
    expect(await advanceRows(merchant)).toEqual([]);
    expect(await stripes(merchant)).toEqual(before);
    expect(await feeIncome()).toBe(feesBefore);
  });

  it('advances across every stripe, all at once, the fee to fee income; a replay moves nothing', async () => {
    const before = await stripes(merchant);
    const feesBefore = await feeIncome();
    const offer = (await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer;
    expect(offer).toEqual({
      merchantAccountId: merchant,
      allowedAmount: String(5_000n * BigInt(payers.length)),
      feeBps: 100,
      outstanding: '0',
    });
    // More than one stripe holds: the advance must take from several.
    const amount = 10_000n + 2_345n;
    const key = unique('adv');
    const r = (await advance(merchant, String(amount), ownerToken, key)).data!.advanceSettlement;
    const fee = advanceFeeOf(amount, 100);
    expect(r).toMatchObject({
      __typename: 'Advance',
      amount: String(amount),
      feeAmount: String(fee),
      netAmount: String(amount - fee),
    });
    const after = await stripes(merchant);
    const pieces = await piecesOf(r.id);
    expect(pieces.length).toBeGreaterThan(1);
    expect(sum(pieces.map((p) => p.amount))).toBe(amount);
    expect(sum(pieces.map((p) => p.fee))).toBe(fee);
    for (const [id, b] of before) {
      const piece = pieces.find((p) => p.stripe === id);
      expect(after.get(id)).toEqual({
        pending: b.pending - (piece?.amount ?? 0n),
        available: b.available + (piece ? piece.amount - piece.fee : 0n),
      });
    }
    expect(await feeIncome()).toBe(feesBefore + fee);
    expect(r.merchantAccount.balance).toEqual({
      available: String(sum([...after.values()].map((s) => s.available))),
      pending: String(sum([...after.values()].map((s) => s.pending))),
    });
    // The same key again: the same advance, nothing moved; with another amount: reused.
    expect((await advance(merchant, String(amount), ownerToken, key)).data!.advanceSettlement.id).toBe(r.id);
    expect(await stripes(merchant)).toEqual(after);
    expect((await advance(merchant, '1', ownerToken, key)).data!.advanceSettlement.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const offerAfter = (await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer;
    expect(offerAfter).toMatchObject({
      allowedAmount: String(5_000n * BigInt(payers.length) - amount),
      outstanding: String(amount),
    });
  });

  it('settles only what was not advanced, with the fee on that only; refunds and a second advance agree to the unit', async () => {
    const settlementFeeBps = 250;
    const rate = await q(
      `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }`,
      { input: { merchantAccountId: merchant, feeBps: settlementFeeBps } },
    );
    expect(rate.data!.setMerchantFeeRate.__typename).toBe('FeeRate');
    const before = await stripes(merchant);
    const outstandingBefore = new Map<string, bigint>();
    for (const [id] of before) outstandingBefore.set(id, 0n);
    const [advance1] = await advanceRows(merchant);
    for (const p of await piecesOf(advance1!.id)) outstandingBefore.set(p.stripe, p.amount);
    const today = businessDateOf(new Date());
    const settled = await runSettlement(
      stack.shards,
      merchant,
      today,
      () => new Date(`${addDays(today, 1)}T12:00:00Z`),
      testSettlementSettings(),
    );
    expect(settled.ok).toBe(true);
    const after = await stripes(merchant);
    let feeTotal = 0n;
    // The rows the payments credited (each payer's logical shard's: stripeIdOf); the home row may have received none.
    const credited = new Set(payers.map((p) => stripeIdOf(merchant, shardOf('account', p))));
    for (const [id, b] of before) {
      if (!credited.has(id)) {
        expect(after.get(id), id).toEqual(b);
        continue;
      }
      // Each stripe held 10,000 of the date; what its piece advanced is covered, the rest moves less 2.5%.
      const rest = 10_000n - outstandingBefore.get(id)!;
      const fee = feeOf(rest, settlementFeeBps);
      feeTotal += fee;
      expect(after.get(id), id).toEqual({ pending: 0n, available: b.available + rest - fee });
      expect(b.pending).toBe(rest);
    }
    const amount = 10_000n + 2_345n;
    const s = (await q(settlementDoc, { id: settled.ok ? settled.value.id : '' }, ownerToken)).data!.settlement;
    const gross = 10_000n * BigInt(payers.length);
    expect(s).toMatchObject({
      status: 'SETTLED',
      grossAmount: String(gross),
      refundedAmount: '0',
      advancedAmount: String(amount),
      feeAmount: String(feeTotal),
      netAmount: String(gross - amount - feeTotal),
    });
    expect((await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer).toMatchObject({
      allowedAmount: '0',
      outstanding: '0',
    });

    // A refund of a settled payment comes out of available (no advance involved).
    const refund = await q(
      contractOperation('RefundPayment'),
      { input: { idempotencyKey: unique('ref'), paymentId: paymentIds[0], amount: '1000' } },
      ownerToken,
    );
    expect(refund.data!.refundPayment.__typename, JSON.stringify(refund)).toBe('Refund');
    const afterRefund = await stripes(merchant);
    expect(sum([...afterRefund.values()].map((v) => v.available))).toBe(
      sum([...after.values()].map((v) => v.available)) - 1_000n,
    );

    // New payments, a second advance of all that is allowed, checked on every stripe.
    for (const payer of payers) await pay(payer, merchant, '3001');
    const offer2 = (await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer;
    const allowed2 = (3_001n * BigInt(payers.length) * 5_000n) / 10_000n;
    expect(offer2).toMatchObject({ allowedAmount: String(allowed2), outstanding: '0' });
    const beforeSecond = await stripes(merchant);
    const second = (await advance(merchant, String(allowed2), ownerToken)).data!.advanceSettlement;
    expect(second).toMatchObject({
      __typename: 'Advance',
      amount: String(allowed2),
      feeAmount: String(advanceFeeOf(allowed2, 100)),
    });
    const pieces = await piecesOf(second.id);
    const afterSecond = await stripes(merchant);
    for (const [id, b] of beforeSecond) {
      const piece = pieces.find((p) => p.stripe === id);
      expect(afterSecond.get(id), id).toEqual({
        pending: b.pending - (piece?.amount ?? 0n),
        available: b.available + (piece ? piece.amount - piece.fee : 0n),
      });
    }
    const health = await q(`{ ledgerHealth { balanced } }`);
    expect(health.data!.ledgerHealth.balanced).toBe(true);
    // Reconciliation agrees: outstanding = pieces − covered on every stripe, each ADVANCE posting moved its piece.
    const mismatches = async () =>
      (await reconcile(stack.shards, today)).filter((d) => d.kind === 'SETTLEMENT_MISMATCH');
    expect(await mismatches()).toEqual([]);
    // And notices a counter changed outside the ledger's transactions.
    const stripe = pieces[0]!.stripe;
    const db = stack.shards.of('account', stripe).db;
    await db.execute(
      sql`UPDATE advance_outstanding SET outstanding = outstanding + 1 WHERE stripe_account_id = ${stripe}`,
    );
    try {
      expect((await mismatches()).map((d) => [d.accountId, d.expected, d.actual])).toEqual([
        [stripe, pieces[0]!.amount, pieces[0]!.amount + 1n],
      ]);
    } finally {
      await db.execute(
        sql`UPDATE advance_outstanding SET outstanding = outstanding - 1 WHERE stripe_account_id = ${stripe}`,
      );
    }
  });
});

describe('a refund of an advanced payment before its settlement', () => {
  it("takes the stripe's own pending first, then another stripe's (the advance moving with it), never the available the advance paid; the settlement covers what is left, to the unit", async () => {
    const owner = unique('refadv');
    const ownerToken = await token(owner, 'customer');
    const merchant = await open(owner, 'MERCHANT');
    const payers = await payersOnEveryShard('1000000');
    // The first payer's stripe holds 12,000 (the largest pending: the advance takes it all there), every other 10,000.
    const refunded = await pay(payers[0]!, merchant, '10000');
    await pay(payers[0]!, merchant, '2000');
    for (const payer of payers.slice(1)) await pay(payer, merchant, '10000');
    expect((await setTerms(merchant, 5000, 100, '1000000')).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    const rate = await q(
      `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }`,
      { input: { merchantAccountId: merchant, feeBps: 250 } },
    );
    expect(rate.data!.setMerchantFeeRate.__typename).toBe('FeeRate');
    const start = await stripes(merchant);
    const feesStart = await feeIncome();
    const advanced = (await advance(merchant, '5000', ownerToken)).data!.advanceSettlement;
    expect(advanced).toMatchObject({ __typename: 'Advance', amount: '5000', feeAmount: '50' });
    const [piece] = await piecesOf(advanced.id);
    const x = piece!.stripe;
    expect(await piecesOf(advanced.id)).toHaveLength(1);
    expect(stack.shards.of('account', x)).toBe(stack.shards.of('account', payers[0]!));
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 7_000n, available: start.get(x)!.available + 4_950n });

    // The whole payment back: 7,000 of its own pending, 3,000 of another stripe's (issue 45: not the advance's
    // available). Among equal pendings, the lowest database's.
    const refund = await q(
      contractOperation('RefundPayment'),
      { input: { idempotencyKey: unique('ref'), paymentId: refunded, amount: '10000' } },
      ownerToken,
    );
    expect(refund.data!.refundPayment.__typename, JSON.stringify(refund)).toBe('Refund');
    const y = [...start.keys()]
      .filter((id) => id !== x && start.get(id)!.pending > 0n)
      .sort((a, b) => stack.shards.of('account', a).index - stack.shards.of('account', b).index)[0]!;
    const moved = await stripes(merchant);
    for (const [id, s0] of start) {
      const expected =
        id === x
          ? { pending: 0n, available: s0.available + 4_950n }
          : id === y
            ? { pending: s0.pending - 3_000n, available: s0.available }
            : s0;
      expect(moved.get(id), id).toEqual(expected);
    }
    expect((await outstandingOf(merchant)).get(x)).toBe(2_000n);
    expect((await outstandingOf(merchant)).get(y)).toBe(3_000n);

    const today = businessDateOf(new Date());
    const settled = await runSettlement(
      stack.shards,
      merchant,
      today,
      () => new Date(`${addDays(today, 1)}T12:00:00Z`),
      testSettlementSettings(),
    );
    expect(settled.ok).toBe(true);
    const after = await stripes(merchant);
    for (const [id, s0] of start) {
      // x: received 12,000, refunded 10,000, paid the advance fee of 50; the settlement covers its 2,000 (advanced),
      // moves nothing. y: its 3,000 now stands advanced, covered; the other 7,000 is moved less its fee.
      const expected =
        id === x
          ? s0.available + 4_950n
          : id === y
            ? s0.available + 7_000n - feeOf(7_000n, 250)
            : s0.available + (s0.pending === 0n ? 0n : 10_000n - feeOf(10_000n, 250));
      expect(after.get(id), id).toEqual({ pending: 0n, available: expected });
    }
    const others = BigInt(payers.length - 1);
    const s = (await q(settlementDoc, { id: settled.ok ? settled.value.id : '' }, ownerToken)).data!.settlement;
    const gross = 12_000n + 10_000n * others;
    const fee = feeOf(10_000n, 250) * (others - 1n) + feeOf(7_000n, 250);
    expect(s).toMatchObject({
      grossAmount: String(gross),
      refundedAmount: '10000',
      advancedAmount: '5000',
      feeAmount: String(fee),
      netAmount: String(gross - 10_000n - 5_000n - fee),
    });
    expect(await feeIncome()).toBe(feesStart + 50n + fee);
    expect((await q(`{ ledgerHealth { balanced } }`)).data!.ledgerHealth.balanced).toBe(true);
    expect((await reconcile(stack.shards, today)).filter((d) => d.kind === 'SETTLEMENT_MISMATCH')).toEqual([]);
    // Nothing was taken from available, so nothing was repaid: the settlements covered the advance, x's 2,000 and
    // y's 3,000, and nothing stays outstanding.
    expect((await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer).toMatchObject({
      allowedAmount: '0',
      outstanding: '0',
    });
    expect(await refundOffsets(x)).toEqual([{ refundId: expect.stringMatching(/^swp_/), amount: 3_000n }]);
    expect(await refundOffsets(y)).toEqual([{ refundId: expect.stringMatching(/^swp_/), amount: -3_000n }]);
  });

  it("counts a refund of a later date's payment as repaid at the next settlement, so new money of the earlier date is paid out, not left in pending", async () => {
    // Two dates on one stripe: d and h of yesterday (moved there by SQL: the stack's clock is the
    // wall clock), e of today. The advance takes all of d and e; e is refunded whole from
    // available; h arrives after. Yesterday's settlement must cover only d (the advance's part
    // e gave back is repaid) and pay h out; counting e's 10,000 as still advanced would cover h
    // as well and leave its 5,000 in pending for good.
    const owner = unique('twodates');
    const ownerToken = await token(owner, 'customer');
    const merchant = await open(owner, 'MERCHANT');
    const [payer] = await payersOnEveryShard('1000000');
    const d = await pay(payer!, merchant, '10000');
    const e = await pay(payer!, merchant, '10000');
    expect((await setTerms(merchant, 10_000, 0, '1000000')).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    const rate = await q(
      `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }`,
      { input: { merchantAccountId: merchant, feeBps: 250 } },
    );
    expect(rate.data!.setMerchantFeeRate.__typename).toBe('FeeRate');
    const start = await stripes(merchant);
    const advanced = (await advance(merchant, '20000', ownerToken)).data!.advanceSettlement;
    expect(advanced).toMatchObject({ __typename: 'Advance', amount: '20000', feeAmount: '0' });
    const [piece] = await piecesOf(advanced.id);
    const x = piece!.stripe;
    const refund = await q(
      contractOperation('RefundPayment'),
      { input: { idempotencyKey: unique('ref'), paymentId: e, amount: '10000' } },
      ownerToken,
    );
    expect(refund.data!.refundPayment.__typename, JSON.stringify(refund)).toBe('Refund');
    const h = await pay(payer!, merchant, '5000');
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 5_000n, available: start.get(x)!.available + 10_000n });

    const today = businessDateOf(new Date());
    const yesterday = addDays(today, -1);
    await stack.shards
      .of('payment', d)
      .db.execute(sql`UPDATE payments SET business_date = ${yesterday} WHERE id IN (${d}, ${h})`);
    const first = await runSettlement(
      stack.shards,
      merchant,
      yesterday,
      () => new Date(`${today}T12:00:00Z`),
      testSettlementSettings(),
    );
    expect(first.ok).toBe(true);
    const s1 = (await q(settlementDoc, { id: first.ok ? first.value.id : '' }, ownerToken)).data!.settlement;
    expect(s1).toMatchObject({
      grossAmount: '15000',
      refundedAmount: '0',
      advancedAmount: '10000',
      feeAmount: String(feeOf(5_000n, 250)),
    });
    const paidOut = 5_000n - feeOf(5_000n, 250);
    expect((await stripes(merchant)).get(x)).toEqual({
      pending: 0n,
      available: start.get(x)!.available + 10_000n + paidOut,
    });
    expect(await refundOffsets(x)).toEqual([{ refundId: refund.data!.refundPayment.id, amount: 10_000n }]);

    const second = await runSettlement(
      stack.shards,
      merchant,
      today,
      () => new Date(`${addDays(today, 1)}T12:00:00Z`),
      testSettlementSettings(),
    );
    expect(second.ok).toBe(true);
    const s2 = (await q(settlementDoc, { id: second.ok ? second.value.id : '' }, ownerToken)).data!.settlement;
    expect(s2).toMatchObject({
      grossAmount: '10000',
      refundedAmount: '10000',
      advancedAmount: '0',
      feeAmount: '0',
      netAmount: '0',
    });
    expect((await stripes(merchant)).get(x)).toEqual({
      pending: 0n,
      available: start.get(x)!.available + 10_000n + paidOut,
    });
    expect((await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer).toMatchObject({
      allowedAmount: '0',
      outstanding: '0',
    });
    expect(await refundOffsets(x)).toHaveLength(1);
    expect((await q(`{ ledgerHealth { balanced } }`)).data!.ledgerHealth.balanced).toBe(true);
    expect((await reconcile(stack.shards, today)).filter((r) => r.kind === 'SETTLEMENT_MISMATCH')).toEqual([]);
  });
});

describe('twenty-four advances racing for one merchant', () => {
  it('never pays beyond the allowed share or the cap, each all or nothing', async () => {
    const owner = unique('racer');
    const ownerToken = await token(owner, 'customer');
    const merchant = await open(owner, 'MERCHANT');
    const payers = await payersOnEveryShard('1000000');
    for (const payer of payers) await pay(payer, merchant, '7000');
    // 60% of 28,000 (4 stripes) is 16,800, the cap 9,999: the cap binds; 24 × 1,500 asked, 6 fit.
    const cap = 9_999n;
    expect((await setTerms(merchant, 6000, 50, String(cap))).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    const pending = 7_000n * BigInt(payers.length);
    const share = (pending * 6_000n) / 10_000n;
    const allowed = share < cap ? share : cap;
    const each = 1_500n;
    const answers = await Promise.all(Array.from({ length: 24 }, () => advance(merchant, String(each), ownerToken)));
    const paid = answers.map((a) => a.data!.advanceSettlement).filter((a) => a.__typename === 'Advance');
    const refused = answers.map((a) => a.data!.advanceSettlement).filter((a) => a.__typename !== 'Advance');
    expect(refused.every((r) => r.code === 'ADVANCE_EXCEEDS_ALLOWED')).toBe(true);
    expect(BigInt(paid.length) * each).toBe((allowed / each) * each);
    const rows = await advanceRows(merchant);
    expect(rows.every((r) => r.status === 'PAID')).toBe(true);
    expect(rows.length).toBe(paid.length);
    for (const row of rows) {
      const pieces = await piecesOf(row.id);
      expect(pieces.every((p) => !p.reversed)).toBe(true);
      expect(sum(pieces.map((p) => p.amount))).toBe(each);
    }
    const offer = (await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer;
    expect(BigInt(offer.outstanding)).toBe(BigInt(paid.length) * each);
    expect(BigInt(offer.outstanding)).toBeLessThanOrEqual(cap);
    const after = await stripes(merchant);
    expect(sum([...after.values()].map((v) => v.pending))).toBe(pending - BigInt(paid.length) * each);
  });
});

/**
 * A counter of the stripe's advance_outstanding row moved by one behind the ledger's back: `check` (a verify sum over
 * every database) finds nothing before, names the stripe with `mismatch` while it is off, and nothing once it is back.
 */
async function bumpedAndRestored(
  db: Shard['db'],
  stripeId: string,
  column: 'outstanding' | 'covered' | 'moved',
  check: () => Promise<unknown[]>,
  mismatch: { counter?: string; stored: bigint; expected: bigint },
): Promise<void> {
  const by = (delta: number) =>
    db.execute(
      sql`UPDATE advance_outstanding SET ${sql.identifier(column)} = ${sql.identifier(column)} + ${delta} WHERE stripe_account_id = ${stripeId}`,
    );
  expect(await check()).toEqual([]);
  await by(1);
  expect(await check()).toEqual([{ stripeId, ...mismatch }]);
  await by(-1);
  expect(await check()).toEqual([]);
}

describe('npm run verify over advances', () => {
  it("finds no stripe whose outstanding advance differs from its pieces, settlements and repayments, and finds one changed behind the ledger's back", async () => {
    const all = async () => (await Promise.all(stack.shards.all.map((s) => outstandingMismatches(s.db)))).flat();
    expect(await all()).toEqual([]);
    const owner = unique('verify');
    const merchant = await open(owner, 'MERCHANT');
    const [payer] = await payersOnEveryShard('1000000');
    await pay(payer!, merchant, '1000');
    expect((await setTerms(merchant, 10_000, 0, '1000000')).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    const advanced = (await advance(merchant, '400')).data!.advanceSettlement;
    const [piece] = await piecesOf(advanced.id);
    const db = stack.shards.of('account', piece!.stripe).db;
    await bumpedAndRestored(db, piece!.stripe, 'outstanding', all, { stored: 401n, expected: 400n });
    // The covered and moved counters (a reversal reads what settlements covered and moves added since its piece)
    // against their records: its parts, its moves' offsets.
    const counters = async () => (await Promise.all(stack.shards.all.map((s) => counterMismatches(s.db)))).flat();
    await bumpedAndRestored(db, piece!.stripe, 'covered', counters, { counter: 'covered', stored: 1n, expected: 0n });
    await bumpedAndRestored(db, piece!.stripe, 'moved', counters, { counter: 'moved', stored: 1n, expected: 0n });
  });
});

describe('advances of many merchants homed on one shard, all at once', () => {
  it("all answer: the merchants' locks share the home shard's pool without starving it", async () => {
    // Each advance holds a connection of its home shard for its lock and needs another there; a
    // burst of merchants on one shard once left every holder waiting for a connection until the
    // acquire timeout (SHARD_UNAVAILABLE for all). advance-lock.ts gives out at most the pool less one. Six merchants:
    // more holders than the pool has connections (testPoolSizeDefault, 4), so the starvation would come back, and the
    // last waits one round of three holders for a slot (shardAcquireTimeoutMs, 3 s). Twelve made it four rounds, and
    // with two files beside it on the 2-core machine, 7 of 12 waited past 3 s (a full run on 1311830).
    const burst = 6;
    const merchants: string[] = [];
    for (let i = 0; i < 400 && merchants.length < burst; i++) {
      const id = await open(unique('burst'), 'MERCHANT');
      if (stack.shards.topology.physicalOf[shardOf('account', id)] === 0) merchants.push(id);
    }
    expect(merchants).toHaveLength(burst);
    const [payer] = await payersOnEveryShard('1000000');
    for (const merchant of merchants) {
      await pay(payer!, merchant, '1000');
      expect((await setTerms(merchant, 10_000, 100, '1000000')).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    }
    const answers = await Promise.all(merchants.map((merchant) => advance(merchant, '500')));
    expect(answers.map((a) => a.data?.advanceSettlement?.__typename ?? JSON.stringify(a.errors))).toEqual(
      merchants.map(() => 'Advance'),
    );
    for (const merchant of merchants)
      expect(sum([...(await stripes(merchant)).values()].map((s) => s.pending))).toBe(500n);
  });
});

describe('an advance cut off between its pieces', () => {
  /**
   * An advance as the service records it before its pieces, with only its first piece posted: where a crash would leave
   * it.
   */
  async function cutOff(
    merchant: string,
    pieces: Array<{ stripeAccountId: string; amount: bigint; feeAmount: bigint }>,
  ): Promise<AdvanceRow> {
    const row: AdvanceRow = {
      id: newId('advance', parseId('account', merchant)!.shard),
      merchantAccountId: merchant,
      currency: 'USD',
      amount: sum(pieces.map((p) => p.amount)),
      feeAmount: sum(pieces.map((p) => p.feeAmount)),
      status: 'PENDING',
      createdAt: new Date(),
      completedAt: null,
      plan: JSON.stringify(
        pieces.map((p) => ({
          stripeAccountId: p.stripeAccountId,
          amount: String(p.amount),
          feeAmount: String(p.feeAmount),
        })),
      ),
    };
    await insertAdvance(stack.shards.of('account', merchant).db, row);
    expect(await postPiece(stack.shards, row, pieces[0]!, () => new Date())).toBe(true);
    return row;
  }

  /** The advance worker's passes until it finds nothing left (an hour's pause: no timer pass after the first). */
  async function drainAdvanceWorker(): Promise<void> {
    const worker = startAdvanceWorker(stack.shards, { intervalMs: 3_600_000 });
    try {
      await worker.drain();
      expect(await worker.drain()).toBe(0);
    } finally {
      await worker.stop();
    }
  }

  /** A merchant paid 4,000 on every stripe, with terms of 100% at 1%: its stripes and fee income before any advance. */
  async function merchantOf4000PerStripe(owner: string) {
    const merchant = await open(owner, 'MERCHANT');
    for (const payer of await payersOnEveryShard('1000000')) await pay(payer, merchant, '4000');
    expect((await setTerms(merchant, 10_000, 100, '1000000')).data!.setAdvanceTerms.__typename).toBe('AdvanceTerms');
    const start = await stripes(merchant);
    // The rows the payments credited (the home row only for a payer on its logical shard: stripeIdOf).
    const [a, b, c] = [...start].filter(([, s]) => s.pending > 0n).map(([id]) => id);
    return { merchant, start, a, b, c, feesStart: await feeIncome() };
  }

  it('is finished by the next advance (every piece), or, when a piece can no longer post, taken back whole', async () => {
    const owner = unique('crash');
    const ownerToken = await token(owner, 'customer');
    const { merchant, start, a, b, c, feesStart } = await merchantOf4000PerStripe(owner);

    const finished = await cutOff(merchant, [
      { stripeAccountId: a!, amount: 3_000n, feeAmount: 30n },
      { stripeAccountId: b!, amount: 1_000n, feeAmount: 10n },
    ]);
    expect((await stripes(merchant)).get(b!)).toEqual(start.get(b!));
    // The next request (another key) finishes it first; its own 500 comes after, from what is left.
    const next = (await advance(merchant, '500', ownerToken)).data!.advanceSettlement;
    expect(next.__typename).toBe('Advance');
    const rows = await advanceRows(merchant);
    expect(rows.find((r) => r.id === finished.id)?.status).toBe('PAID');
    const pieces = await piecesOf(finished.id);
    expect(pieces.map((p) => [p.stripe, p.amount, p.reversed]).sort()).toEqual(
      [
        [a!, 3_000n, false],
        [b!, 1_000n, false],
      ].sort(),
    );
    const afterFinish = await stripes(merchant);
    const nextPieces = await piecesOf(next.id);
    for (const [id, s0] of start) {
      const moved = sum([...pieces, ...nextPieces].filter((p) => p.stripe === id).map((p) => p.amount));
      const fees = sum([...pieces, ...nextPieces].filter((p) => p.stripe === id).map((p) => p.fee));
      expect(afterFinish.get(id), id).toEqual({ pending: s0.pending - moved, available: s0.available + moved - fees });
    }
    expect(await feeIncome()).toBe(feesStart + 40n + advanceFeeOf(500n, 100));

    // A cut-off advance whose second piece is beyond its stripe's pending now: its first piece is taken back.
    const before = await stripes(merchant);
    const feesBefore = await feeIncome();
    const reversed = await cutOff(merchant, [
      { stripeAccountId: c!, amount: 700n, feeAmount: 7n },
      { stripeAccountId: a!, amount: 900_000n, feeAmount: 0n },
    ]);
    expect((await stripes(merchant)).get(c!)).not.toEqual(before.get(c!));
    const after = (await advance(merchant, '1', ownerToken)).data!.advanceSettlement;
    expect(after.__typename).toBe('Advance');
    expect((await advanceRows(merchant)).find((r) => r.id === reversed.id)?.status).toBe('REVERSED');
    expect((await piecesOf(reversed.id)).map((p) => [p.stripe, p.reversed])).toEqual([[c!, true]]);
    const onePiece = (await piecesOf(after.id))[0]!;
    const now = await stripes(merchant);
    for (const [id, s0] of before) {
      const moved = onePiece.stripe === id ? 1n : 0n;
      expect(now.get(id), id).toEqual({
        pending: s0.pending - moved,
        available: s0.available + moved - (onePiece.stripe === id ? onePiece.fee : 0n),
      });
    }
    expect(await feeIncome()).toBe(feesBefore + onePiece.fee);
    expect((await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer.outstanding).toBe(
      String(4_000n + 500n + 1n),
    );
  });

  it('is finished by the advance worker alone, or taken back whole, with no request of the merchant', async () => {
    const owner = unique('left');
    const ownerToken = await token(owner, 'customer');
    const { merchant, start, a, b, c, feesStart } = await merchantOf4000PerStripe(owner);
    const finished = await cutOff(merchant, [
      { stripeAccountId: a!, amount: 3_000n, feeAmount: 30n },
      { stripeAccountId: b!, amount: 1_000n, feeAmount: 10n },
    ]);
    // Its second piece is beyond its stripe's pending: the worker must take its first piece back.
    const reversed = await cutOff(merchant, [
      { stripeAccountId: c!, amount: 700n, feeAmount: 7n },
      { stripeAccountId: a!, amount: 900_000n, feeAmount: 0n },
    ]);
    expect((await advanceRows(merchant)).map((r) => r.status)).toEqual(['PENDING', 'PENDING']);
    await drainAdvanceWorker();
    const rows = await advanceRows(merchant);
    expect(rows.find((r) => r.id === finished.id)?.status).toBe('PAID');
    expect(rows.find((r) => r.id === reversed.id)?.status).toBe('REVERSED');
    expect((await piecesOf(finished.id)).map((p) => [p.stripe, p.amount, p.reversed]).sort()).toEqual(
      [
        [a!, 3_000n, false],
        [b!, 1_000n, false],
      ].sort(),
    );
    expect((await piecesOf(reversed.id)).map((p) => [p.stripe, p.reversed])).toEqual([[c!, true]]);
    const now = await stripes(merchant);
    const moved = new Map([
      [a!, [3_000n, 30n]],
      [b!, [1_000n, 10n]],
    ]);
    for (const [id, s0] of start) {
      const [amount, fee] = moved.get(id) ?? [0n, 0n];
      expect(now.get(id), id).toEqual({ pending: s0.pending - amount!, available: s0.available + amount! - fee! });
    }
    expect(await feeIncome()).toBe(feesStart + 40n);
    expect((await q(offerDoc, { merchantAccountId: merchant }, ownerToken)).data!.advanceOffer.outstanding).toBe(
      '4000',
    );
    expect((await q(`{ ledgerHealth { balanced } }`)).data!.ledgerHealth.balanced).toBe(true);
  });

  /**
   * A merchant whose home row X was paid 100 and another stripe Y 40 (after `prior` deposited into X's available), and
   * an advance of 100 at 10% cut off after its piece of 60 on X (fee 6); then, before anyone finishes it, Y's payment
   * refunded whole (Y's pending gone, so its piece of 40 can no longer post).
   */
  async function cutOffOnX(prefix: string, prior: bigint) {
    const { merchant, ownerToken, home, remote } = await merchantOnXAndY(prefix, prior);
    const payX = await pay(home, merchant, '100');
    const payY = await pay(remote, merchant, '40');
    const [x, y] = [await kit.stripeOf(merchant, home), await kit.stripeOf(merchant, remote)];
    const feesStart = await feeIncome();
    const cut = await cutOff(merchant, [
      { stripeAccountId: x, amount: 60n, feeAmount: 6n },
      { stripeAccountId: y, amount: 40n, feeAmount: 4n },
    ]);
    expect(await kit.refund(payY, '40', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    return { merchant, ownerToken, x, y, cut, payX, feesStart };
  }

  /**
   * cutOffOnX, then 70 of X's payment refunded, which X's pending of 40 cannot give: 30 from X's available, the
   * merchant giving the advance back. No other stripe has pending, so nothing moves and nothing has counted that
   * repayment yet.
   */
  async function refundedBeforeReversal(prefix: string, prior: bigint) {
    const { merchant, ownerToken, x, y, cut, payX, feesStart } = await cutOffOnX(prefix, prior);
    const refundX = await kit.refund(payX, '70', ownerToken);
    expect(refundX).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await kit.moves(refundX.id as string)).toEqual([]);
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: prior + 54n - 30n },
      { pending: 0n, available: 0n },
    ]);
    return { merchant, ownerToken, x, y, cut, refundX: refundX.id as string, feesStart };
  }

  /**
   * Taken back, the piece returns to X's pending only what the advance still covers there once the refund's 30 is
   * counted: X's pending is then its unsettled money (100 paid less 70 refunded) and settlement moves all of it.
   * Before, the whole 60 came back, outstanding went to 0 with the 30 never counted, and 30 stayed in X's pending for
   * good after the settlement; with only the piece's 54 in available (no prior), the reversal was refused and the
   * advance stayed PENDING.
   */
  for (const prior of [1_000n, 0n])
    it(`is taken back whole after refunds repaid part of its piece from available (${prior} available before)`, async () => {
      const { merchant, x, y, cut, refundX, feesStart } = await refundedBeforeReversal('reverse-repaid', prior);
      await drainAdvanceWorker();
      expect((await advanceRows(merchant)).map((r) => [r.id, r.status])).toEqual([[cut.id, 'REVERSED']]);
      expect((await piecesOf(cut.id)).map((p) => [p.stripe, p.reversed])).toEqual([[x, true]]);
      // Available as before the advance (its 54 paid the refund's 30 and the 24 taken back), the whole fee returned.
      let now = await stripes(merchant);
      expect([now.get(x), now.get(y)]).toEqual([
        { pending: 30n, available: prior },
        { pending: 0n, available: 0n },
      ]);
      expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
      expect(await feeIncome()).toBe(feesStart);
      // The refund's repayment counted once, and the 30 of the piece it repaid not taken back.
      expect((await refundOffsets(x)).sort((a, b) => Number(a.amount - b.amount))).toEqual([
        { refundId: cut.id, amount: -30n },
        { refundId: refundX, amount: 30n },
      ]);
      const settled = await kit.settle(merchant);
      expect(settled).toMatchObject({ grossAmount: 140n, refundedAmount: 110n, advancedAmount: 0n, feeAmount: 0n });
      now = await stripes(merchant);
      expect([now.get(x), now.get(y)]).toEqual([
        { pending: 0n, available: prior + 30n },
        { pending: 0n, available: 0n },
      ]);
      expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
      await kit.booksAgree();
    });

  it('is taken back so by the next request, whose own advance the settlement then covers alone', async () => {
    const { merchant, ownerToken, x, y, cut, feesStart } = await refundedBeforeReversal('reverse-again', 1_000n);
    // The next request takes the cut-off advance back first, then advances 10 of the only pending left: X's 30.
    const next = (await advance(merchant, '10', ownerToken)).data!.advanceSettlement;
    expect(next).toMatchObject({ __typename: 'Advance', amount: '10' });
    expect((await advanceRows(merchant)).find((r) => r.id === cut.id)?.status).toBe('REVERSED');
    const fee = advanceFeeOf(10n, 1_000);
    expect((await piecesOf(next.id)).map((p) => [p.stripe, p.amount, p.fee, p.reversed])).toEqual([
      [x, 10n, fee, false],
    ]);
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 20n, available: 1_000n + 10n - fee });
    expect((await outstandingOf(merchant)).get(x)).toBe(10n);
    expect(sum((await outstandingOf(merchant)).values())).toBe(10n);
    // Before, the refund's 30 was first counted here, against an outstanding of 10: the settlement crashed.
    const settled = await kit.settle(merchant);
    expect(settled).toMatchObject({ grossAmount: 140n, refundedAmount: 110n, advancedAmount: 10n, feeAmount: 0n });
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: 1_000n + 10n - fee + 20n },
      { pending: 0n, available: 0n },
    ]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    expect(await feeIncome()).toBe(feesStart + fee);
    await kit.booksAgree();
  });

  /**
   * After cutOffOnX's piece was taken back with 70 of X's payment refunded (30 of it from X's available, before the
   * reversal or while it waited): the advance REVERSED, X's available as before the advance, the whole fee back, X's
   * pending its unsettled 30, which today's settlement moves; nothing outstanding, and the books agree on `dates`.
   */
  async function expectTakenBackThenSettled(
    left: { merchant: string; x: string; y: string; cut: AdvanceRow; feesStart: bigint },
    prior: bigint,
    dates: string[],
  ): Promise<void> {
    const { merchant, x, y, cut, feesStart } = left;
    expect((await advanceRows(merchant)).map((r) => [r.id, r.status])).toEqual([[cut.id, 'REVERSED']]);
    expect((await piecesOf(cut.id)).map((p) => [p.stripe, p.reversed])).toEqual([[x, true]]);
    let now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 30n, available: prior },
      { pending: 0n, available: 0n },
    ]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    expect(await feeIncome()).toBe(feesStart);
    const settled = await kit.settle(merchant);
    expect(settled).toMatchObject({ grossAmount: 140n, refundedAmount: 110n, advancedAmount: 0n, feeAmount: 0n });
    now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: prior + 30n },
      { pending: 0n, available: 0n },
    ]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    expect(await feeIncome()).toBe(feesStart);
    await kit.booksAgree(dates);
  }

  /**
   * The worker settles T+1 while an advance of today is cut off: yesterday's settlement settles nothing on X but counts
   * the refund's 30 first (settle.ts lockPartContents), so X's outstanding is 30, below the piece's 60. Before, the
   * reversal asserted outstanding ≥ piece before counting refunds, crashed on every worker pass, and the advance stayed
   * PENDING for good; that shortfall is the refund's repayment, so only the 30 still outstanding goes back to pending.
   */
  for (const prior of [1_000n, 0n])
    it(`is taken back after a settlement counted the refund that repaid part of its piece (${prior} available before)`, async () => {
      const left = await refundedBeforeReversal('reverse-counted', prior);
      const { merchant, x, cut, refundX } = left;
      const yesterday = addDays(businessDateOf(new Date()), -1);
      const early = await kit.settle(merchant, yesterday);
      expect(early).toMatchObject({ grossAmount: 0n, refundedAmount: 0n, advancedAmount: 0n, netAmount: 0n });
      expect((await outstandingOf(merchant)).get(x)).toBe(30n);
      expect(await refundOffsets(x)).toEqual([{ refundId: refundX, amount: 30n }]);
      await drainAdvanceWorker();
      // The refund's repayment counted once (by the settlement), and the 30 of the piece it repaid not taken back.
      expect((await refundOffsets(x)).sort((a, b) => Number(a.amount - b.amount))).toEqual([
        { refundId: cut.id, amount: -30n },
        { refundId: refundX, amount: 30n },
      ]);
      await expectTakenBackThenSettled(left, prior, [yesterday, businessDateOf(new Date())]);
    });

  /**
   * A transaction of the test holds X's row (test/support/lock-waits.ts holdLock, on a pool of the test's own); `refund`
   * is started and waits on it for its posting, then `next` does. Let go, the refund (first in line) commits before
   * `next` goes on. The refund's answer, once both have ended.
   */
  async function refundFirstWhileHeld(
    x: string,
    refund: () => Promise<Record<string, unknown>>,
    next: () => Promise<unknown>,
  ): Promise<Record<string, unknown>> {
    const own = testShards(2);
    const shard = own.of('account', x);
    const holder = holdLock(shard, (tx) => lockAccount(tx, x));
    let released = false;
    const letGo = () => {
      if (!released) holder.release();
      released = true;
    };
    try {
      await holder.taken;
      const refunding = refund();
      await accountLockWaiters(shard, 1);
      const following = next();
      await accountLockWaiters(shard, 2);
      letGo();
      const refunded = await refunding;
      await following;
      return refunded;
    } finally {
      letGo();
      await holder.done;
      await own.close();
    }
  }

  /**
   * Until `n` statements on the stripe's database lock rows of accounts (a posting's lock, or a prepare's), the test's
   * own holder left out (statementsRunning): what the test holds makes them wait, so they are still there when asked.
   */
  async function accountLockWaiters(shard: Shard, n: number): Promise<void> {
    const started = Date.now();
    while ((await statementsRunning(shard, '%accounts%for update%')) < n) {
      // Within the stack's lock wait (2 s): the first waiter must still be waiting when the test lets go.
      if (Date.now() - started > 1_500) {
        const [all] = (await shard.db.execute(
          sql`SELECT ID, DB, COMMAND, STATE, LEFT(INFO, 200) AS info FROM information_schema.PROCESSLIST`,
        )) as unknown as [unknown[]];
        throw new Error(`${n} waiters on accounts of ${shard.name} never came: ${JSON.stringify(all)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Deterministic: a transaction of the test holds X's row; the refund of 70 waits on it for its posting, then the
   * worker's reversal of the piece does; let go, the refund (first in line) takes 40 from pending and 30 from available
   * before the reversal posts. Before, the reversal counted refunds in its prepare before the ledger locked X, so it
   * missed this one and put the whole 60 back: X's pending 60 for 30 unsettled, outstanding 0, and the refund's 30 never
   * counted (nothing outstanding to count it against), so 30 stayed in X's pending for good after the settlement.
   */
  it('counts a refund that commits while the reversal of its piece waits for the stripe', async () => {
    const left = await cutOffOnX('reverse-race', 1_000n);
    const { ownerToken, x, payX } = left;
    const refunded = await refundFirstWhileHeld(x, () => kit.refund(payX, '70', ownerToken), drainAdvanceWorker);
    expect(refunded).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    await expectTakenBackThenSettled(left, 1_000n, [businessDateOf(new Date())]);
  });

  /**
   * The same race for a move of pending into the stripe (a refund's top-up, landing through completeSweep): X's 100
   * advanced whole (outstanding 100), a move of Y's 40 to X debited; a transaction of the test holds X's row, a refund
   * of 80 of X's payment waits on it for its posting (80 from X's available: nothing pending anywhere), then the move's
   * credit does. Let go, the refund commits first and the move counts it: outstanding 100 − 80 = 20, so 20 lands in X's
   * pending and 20 in its available. Before, the move read refunds before the ledger locked X, missed this one and put
   * all 40 in pending with X's outstanding 60: the settlement then met the refund's 80 above it and crashed.
   */
  it('counts a refund that commits while a move of pending into its stripe waits for the stripe', async () => {
    const { merchant, ownerToken, home, remote } = await merchantOnXAndY('move-in-race', 0n);
    const payX = await pay(home, merchant, '100');
    await pay(remote, merchant, '40');
    const [x, y] = [await kit.stripeOf(merchant, home), await kit.stripeOf(merchant, remote)];
    await paidOnOne(merchant, x, 100n, 10n);
    const shards = stack.shards;
    const move = { fromId: y, toId: x, currency: 'USD', amount: 40n, merchantId: merchant };
    let sweep: Awaited<ReturnType<typeof debitForSweep>> = null;
    const refunded = await refundFirstWhileHeld(
      x,
      async () => {
        // Debited on Y's database while X's row is held: its credit (the relay's too) cannot land before the refund.
        sweep = await debitForSweep(shards, shards.of('account', y), move, unique('move'), () => new Date(), 'PENDING');
        expect(sweep).toMatchObject({ bucket: 'PENDING', amount: 40n });
        return kit.refund(payX, '80', ownerToken);
      },
      () => completeSweep(shards, shards.of('account', y), sweep!, () => new Date()),
    );
    expect(refunded).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 20n, available: 90n - 80n + 20n },
      { pending: 0n, available: 0n },
    ]);
    expect(await outstandingOf(merchant)).toEqual(
      new Map([
        [x, 0n],
        [y, 40n],
      ]),
    );
    // X's unsettled 20 paid out; Y's 40 covered as advanced (the advance now stands against Y's money).
    expect(await kit.settle(merchant)).toMatchObject({ grossAmount: 140n, refundedAmount: 80n, advancedAmount: 40n });
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 0n, available: 50n });
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree();
  });

  /**
   * The shortfall is allowed only as its records explain it: a counter changed outside them (here lowered by 10 after
   * the settlement counted the refund) stops the reversal, the advance PENDING and nothing taken back, until it agrees
   * again.
   */
  it("is not taken back while its stripe's outstanding disagrees with its records", async () => {
    const left = await refundedBeforeReversal('reverse-corrupt', 1_000n);
    const { merchant, x, cut } = left;
    const yesterday = addDays(businessDateOf(new Date()), -1);
    await kit.settle(merchant, yesterday);
    const setOutstanding = (o: bigint) =>
      stack.shards
        .of('account', x)
        .db.execute(sql`UPDATE advance_outstanding SET outstanding = ${o} WHERE stripe_account_id = ${x}`);
    await setOutstanding(20n);
    await expect(completeAdvance(stack.shards, cut, () => new Date())).rejects.toThrow(
      /outstanding 20 is not its records/,
    );
    expect((await advanceRows(merchant)).map((r) => r.status)).toEqual(['PENDING']);
    expect((await piecesOf(cut.id)).map((p) => p.reversed)).toEqual([false]);
    await setOutstanding(30n);
    await drainAdvanceWorker();
    await expectTakenBackThenSettled(left, 1_000n, [yesterday, businessDateOf(new Date())]);
  });

  /**
   * A settlement run while the advance is cut off covers its piece as advanced (its 60 of X's 100, nothing
   * outstanding after): a settlement's cover is final, so nothing goes back to pending (it would stay there, no
   * settlement left to move it) and the piece's fee stays with the platform; the merchant keeps the 54, what the
   * settlement would have paid less the advance's fee. Before, the reversal crashed on every worker pass ("settled its
   * piece before the reversal") and the advance stayed PENDING for good.
   */
  it("keeps what a settlement covered of its piece as advanced, and that part's fee", async () => {
    const { merchant, x, y, cut, feesStart } = await cutOffOnX('reverse-covered', 1_000n);
    expect(await kit.settle(merchant)).toMatchObject({ grossAmount: 140n, refundedAmount: 40n, advancedAmount: 60n });
    expect((await outstandingOf(merchant)).get(x)).toBe(0n);
    await drainAdvanceWorker();
    expect((await advanceRows(merchant)).map((r) => [r.id, r.status])).toEqual([[cut.id, 'REVERSED']]);
    expect((await piecesOf(cut.id)).map((p) => [p.stripe, p.reversed])).toEqual([[x, true]]);
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: 1_000n + 54n + 40n },
      { pending: 0n, available: 0n },
    ]);
    expect(await feeIncome()).toBe(feesStart + 6n);
    expect(await refundOffsets(x)).toEqual([{ refundId: cut.id, amount: -60n }]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree();
  });

  /**
   * Between: yesterday's settlement was not run, today's counts the refund's 30 (X's outstanding 30) and covers the
   * other 30 of X's unsettled money as advanced. Of the piece, 30 the refund gave back (its fee share back) and 30 the
   * settlement covered (kept, its fee share too): 3 of the fee back, X's available 1,000 + 54 − 30 + 3 and the platform
   * 3, the 1,030 the merchant would have without the advance. Before, the reversal crashed on every worker pass.
   */
  it('gives back only the fee of the part a refund repaid once a settlement covered the rest', async () => {
    const { merchant, x, y, cut, refundX, feesStart } = await refundedBeforeReversal('reverse-half', 1_000n);
    const settled = await kit.settle(merchant);
    expect(settled).toMatchObject({ grossAmount: 140n, refundedAmount: 110n, advancedAmount: 30n, feeAmount: 0n });
    expect((await outstandingOf(merchant)).get(x)).toBe(0n);
    await drainAdvanceWorker();
    expect((await advanceRows(merchant)).map((r) => [r.id, r.status])).toEqual([[cut.id, 'REVERSED']]);
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: 1_000n + 54n - 30n + 3n },
      { pending: 0n, available: 0n },
    ]);
    expect(await feeIncome()).toBe(feesStart + 3n);
    expect((await refundOffsets(x)).sort((a, b) => Number(a.amount - b.amount))).toEqual([
      { refundId: cut.id, amount: -60n },
      { refundId: refundX, amount: 30n },
    ]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree();
  });

  /** A merchant paid on its home row X and a stripe Y on another database, at 100% and 10%, no settlement fee. */
  async function merchantOnXAndY(prefix: string, prior: bigint) {
    const owner = unique(prefix);
    const ownerToken = await token(owner, 'customer');
    const merchant = await open(owner, 'MERCHANT');
    const { home, remote } = await kit.homeAndRemote(await kit.payersOnEveryShard('1000000'), merchant);
    expect(remote).not.toBe(home);
    await kit.termsOk(merchant, 10_000, 1_000, '1000000');
    await kit.feeRate(merchant, 0);
    if (prior > 0n) await kit.deposit(merchant, String(prior));
    return { merchant, ownerToken, home, remote };
  }

  /** Tomorrow's settlement of the merchant, which takes today's unsettled items as stragglers: its answer, both dates. */
  async function settledTomorrowWithToday(merchant: string) {
    const today = businessDateOf(new Date());
    const tomorrow = addDays(today, 1);
    const late = await runSettlement(
      stack.shards,
      merchant,
      tomorrow,
      () => new Date(`${addDays(tomorrow, 1)}T12:00:00Z`),
      testSettlementSettings(),
      { stragglers: [today] },
    );
    return { late: late.ok && late.value, dates: [today, tomorrow] };
  }

  /** An advance of one piece, posted and marked PAID as a request would. */
  async function paidOnOne(merchant: string, stripeAccountId: string, amount: bigint, feeAmount: bigint) {
    const row = await cutOff(merchant, [{ stripeAccountId, amount, feeAmount }]);
    expect((await completeAdvance(stack.shards, row, () => new Date())).status).toBe('PAID');
  }

  /**
   * The stripe's history before the piece does not judge its shortfall: an advance of Y's 50, Y's payment refunded
   * (50 of X's pending moves to Y, X's offset −50, its outstanding +50), X's settlement covering those 50; then an
   * advance cut off after its piece of 60 on X, and 70 of X's new payment refunded, 30 from X's available. Its
   * reversal finds X's outstanding 30 (the refund counted), the whole shortfall the refund's. Before, its check read
   * the stripe's whole history (covered 50 > its other pieces' 0, the offsets −20 short of the shortfall) and crashed on
   * every worker pass, the advance PENDING for good.
   */
  it('is taken back after an older move of pending out of its stripe that a settlement covered', async () => {
    const { merchant, ownerToken, home, remote } = await merchantOnXAndY('reverse-moved', 0n);
    await pay(home, merchant, '100');
    const payY0 = await pay(remote, merchant, '50');
    const [x, y] = [await kit.stripeOf(merchant, home), await kit.stripeOf(merchant, remote)];
    const feesStart = await feeIncome();
    await paidOnOne(merchant, y, 50n, 5n);
    const refundY = await kit.refund(payY0, '50', ownerToken);
    expect(refundY).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await refundOffsets(x)).toEqual([{ refundId: expect.any(String), amount: -50n }]);
    expect(await kit.settle(merchant)).toMatchObject({ grossAmount: 150n, refundedAmount: 50n, advancedAmount: 50n });
    let now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: 50n },
      { pending: 0n, available: 45n },
    ]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);

    const payX = await pay(home, merchant, '100');
    const payY = await pay(remote, merchant, '40');
    const cut = await cutOff(merchant, [
      { stripeAccountId: x, amount: 60n, feeAmount: 6n },
      { stripeAccountId: y, amount: 40n, feeAmount: 4n },
    ]);
    expect(await kit.refund(payY, '40', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    const refundX = await kit.refund(payX, '70', ownerToken);
    expect(refundX).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await kit.moves(refundX.id as string)).toEqual([]);
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 0n, available: 50n + 54n - 30n });
    await drainAdvanceWorker();
    expect((await advanceRows(merchant)).find((r) => r.id === cut.id)?.status).toBe('REVERSED');
    // 30 back to pending (X's unsettled money), the other 30 the refund's, the whole fee back: available as before.
    now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 30n, available: 50n },
      { pending: 0n, available: 45n },
    ]);
    expect(await feeIncome()).toBe(feesStart + 5n);
    expect((await refundOffsets(x)).map((o) => o.amount).sort((a, b) => Number(a - b))).toEqual([-50n, -30n, 30n]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree();
    // Today's settlement is done: tomorrow's takes today's unsettled 30 as a straggler, all of it moved.
    const { late, dates } = await settledTomorrowWithToday(merchant);
    expect(late).toMatchObject({ advancedAmount: 0n, feeAmount: 0n });
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 0n, available: 80n });
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree(dates);
  });

  /**
   * Older refunds' repayments on the stripe do not let a settlement's cover of this piece pass as given back: an
   * advance of X's 100 repaid whole by a refund (counted by today's settlement, X's offset +100), then an advance cut
   * off after its piece of 60 on X, which today's settlement covers. Before, the stripe's whole history explained the
   * shortfall (covered 60 ≤ its other pieces' 100), nothing came back to pending and the whole fee of 6 went back: the
   * merchant kept the 60 the settlement counted as advanced, fee-free. Now the fee stays: X's available 1,084 and the
   * platform 16, as 1,090 and 10 would be without the second advance.
   */
  it('keeps the fee of what a settlement covered of its piece, whatever older refunds repaid on the stripe', async () => {
    const { merchant, ownerToken, home, remote } = await merchantOnXAndY('reverse-old-offsets', 1_000n);
    const pay0 = await pay(home, merchant, '100');
    const x = await kit.stripeOf(merchant, home);
    const feesStart = await feeIncome();
    await paidOnOne(merchant, x, 100n, 10n);
    expect(await kit.refund(pay0, '100', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    await pay(home, merchant, '100');
    const payY = await pay(remote, merchant, '40');
    const y = await kit.stripeOf(merchant, remote);
    const cut = await cutOff(merchant, [
      { stripeAccountId: x, amount: 60n, feeAmount: 6n },
      { stripeAccountId: y, amount: 40n, feeAmount: 4n },
    ]);
    expect(await kit.refund(payY, '40', ownerToken)).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await kit.settle(merchant)).toMatchObject({ grossAmount: 240n, refundedAmount: 140n, advancedAmount: 60n });
    expect((await outstandingOf(merchant)).get(x)).toBe(0n);
    await drainAdvanceWorker();
    expect((await advanceRows(merchant)).find((r) => r.id === cut.id)?.status).toBe('REVERSED');
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 0n, available: 1_000n + 90n - 100n + 54n + 40n },
      { pending: 0n, available: 0n },
    ]);
    expect(await feeIncome()).toBe(feesStart + 10n + 6n);
    expect((await refundOffsets(x)).map((o) => o.amount).sort((a, b) => Number(a - b))).toEqual([-60n, 100n]);
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree();
  });

  /**
   * A move of pending out of the stripe since the piece is not the piece's to take back: an advance cut off after its
   * piece of 60 on X (X paid 100), today's settlement covering those 60; then X paid 100 again, an advance of Y's 40
   * and Y's payment refunded, which moves 40 of X's new pending to Y (X's outstanding +40: the advance now stands
   * against X's money). The reversal finds X's outstanding 40, all of it the move's: nothing back, the settled piece's
   * fee kept. Before, it took 40 back to X's pending and 36 out of X's available, and gave 4 of the fee back: the
   * merchant 4 richer and the platform 4 poorer once tomorrow's settlement paid the 100 in pending out.
   */
  it("takes back nothing a move of pending out of its stripe added since, nor the settled part's fee", async () => {
    const { merchant, ownerToken, home, remote } = await merchantOnXAndY('reverse-moved-since', 0n);
    await pay(home, merchant, '100');
    await pay(remote, merchant, '40');
    const [x, y] = [await kit.stripeOf(merchant, home), await kit.stripeOf(merchant, remote)];
    const feesStart = await feeIncome();
    const cut = await cutOff(merchant, [
      { stripeAccountId: x, amount: 60n, feeAmount: 6n },
      { stripeAccountId: y, amount: 400n, feeAmount: 40n },
    ]);
    expect(await kit.settle(merchant)).toMatchObject({ grossAmount: 140n, advancedAmount: 60n });
    const payY = await pay(remote, merchant, '40');
    await pay(home, merchant, '100');
    await paidOnOne(merchant, y, 40n, 4n);
    const refundY = await kit.refund(payY, '40', ownerToken);
    expect(refundY).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect((await kit.moves(refundY.id as string)).map((m) => [m.from, m.to, m.bucket, m.amount])).toEqual([
      [x, y, 'PENDING', 40n],
    ]);
    expect(await outstandingOf(merchant)).toEqual(
      new Map([
        [x, 40n],
        [y, 0n],
      ]),
    );
    await drainAdvanceWorker();
    expect((await advanceRows(merchant)).find((r) => r.id === cut.id)?.status).toBe('REVERSED');
    const now = await stripes(merchant);
    expect([now.get(x), now.get(y)]).toEqual([
      { pending: 60n, available: 54n + 40n },
      { pending: 0n, available: 40n + 36n },
    ]);
    expect(await feeIncome()).toBe(feesStart + 6n + 4n);
    expect(await outstandingOf(merchant)).toEqual(
      new Map([
        [x, 40n],
        [y, 0n],
      ]),
    );
    await kit.booksAgree();
    // Tomorrow's settlement takes today's new 100 on X as a straggler: 40 of it the moved advance's, 60 paid out.
    const { late, dates } = await settledTomorrowWithToday(merchant);
    expect(late).toMatchObject({ advancedAmount: 40n, feeAmount: 0n });
    expect((await stripes(merchant)).get(x)).toEqual({ pending: 0n, available: 54n + 40n + 60n });
    expect(sum((await outstandingOf(merchant)).values())).toBe(0n);
    await kit.booksAgree(dates);
  });
});

/** Every stripe's covered and moved counters and every piece's records of them, on one database. */
async function countersOn(db: Shard['db']): Promise<string[][]> {
  const [stripeRows] = (await db.execute(
    sql`SELECT stripe_account_id, CAST(moved AS CHAR) FROM advance_outstanding ORDER BY stripe_account_id`,
  )) as unknown as [Array<Record<string, string>>];
  const [pieceRows] = (await db.execute(
    sql`SELECT advance_id, stripe_account_id, CAST(moved_before AS CHAR) FROM advance_pieces ORDER BY 1, 2`,
  )) as unknown as [Array<Record<string, string>>];
  return [...stripeRows, ...pieceRows].map((r) => Object.values(r));
}

describe("migration 0017's backfill", () => {
  /**
   * Run last in the file, over every advance the tests above made (moves of pending before and after pieces among
   * them): the migration's UPDATEs, from counters of 0, give every stripe and piece what the code recorded.
   */
  it('gives every stripe the moved counter and every piece the record of it that the code keeps', async () => {
    const migration = readFileSync(new URL('../../drizzle/0017_moved_counter.sql', import.meta.url), 'utf8');
    const updates = migration.split('--> statement-breakpoint').filter((st) => /^\s*UPDATE/m.test(st));
    expect(updates).toHaveLength(2);
    let moved = 0;
    for (const shard of stack.shards.all) {
      const kept = await countersOn(shard.db);
      moved += kept.filter((r) => r.at(-1) !== '0').length;
      await shard.db.execute(sql`UPDATE advance_outstanding SET moved = 0`);
      await shard.db.execute(sql`UPDATE advance_pieces SET moved_before = 0`);
      for (const update of updates) await shard.db.execute(sql.raw(update.replace(/^\s*--.*$/gm, '')));
      expect(await countersOn(shard.db), shard.name).toEqual(kept);
    }
    // The tests above moved pending out of stripes before and after pieces: the check compared counters not all 0.
    expect(moved).toBeGreaterThan(2);
  });
});
