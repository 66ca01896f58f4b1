import { describe, it, expect } from 'vitest';
import mysql from 'mysql2/promise';
import { and, eq, inArray, like, sql } from 'drizzle-orm';
import { newId, shardOf } from '@paygraph/shared/ids';
import { ledgerHealth } from '@paygraph/shared/ledger/index';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { postingRejections, postings } from '@paygraph/shared/ledger/store/schema';
import {
  campaigns,
  paymentLegs,
  payments,
  refunds,
  transferOutbox,
  type PaymentLegRow,
} from '@paygraph/transaction/db/schema/transactions';
import { driveLegPayment } from '@paygraph/transaction/services/leg-payment';
import { legFindings } from '@paygraph/transaction/services/leg-integrity';
import { runSettlement } from '@paygraph/settlement/services/settle';
import { reconcile } from '@paygraph/settlement/services/reconcile';
import { businessDateOf } from '@paygraph/shared/business-date';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { closeInSql, physicalOf, stripeRowOf, type MoneyKit, useMoneyStack } from '../../../../test/support/money';
import { movableClock } from '../../../../test/support/clock';
import { eventually, insertEarlyAccountOn } from '../../../../test/support/bank';
import { campaignsPerFundingAccountMax } from '@paygraph/transaction/limits';

/**
 * Payments of many legs (issue 23): splits, campaign-funded discounts, all or nothing across
 * shards, refunds pro rata by the contract's cumulative rule, and who may create and read a
 * campaign. Every document is the contract's.
 */
let stack: Stack;
let kit: MoneyKit;
/** Every subgraph's clock: a test moves it past a campaign's end instead of waiting for it. */
const clock = movableClock();
useMoneyStack((started) => ({ stack, kit } = started), { now: clock.now });

const docs = {
  createCampaign: contractOperation('CreateCampaign'),
  pay: contractOperation('CreateMarketplacePayment'),
  get: contractOperation('GetMarketplacePayment'),
};
const campaignDoc = `query Campaign($id: ID!) { campaign(id: $id) { id status spentAmount paymentsCount currency payeeAccountIds fundingAccount { id } } }`;

interface Split {
  accountId: string;
  amount: string;
}

async function pay(
  bearer: string,
  input: { payer: string; payee: string; amount: string; splits?: Split[]; campaignId?: string; key?: string },
) {
  return gql(
    stack.gatewayUrl,
    docs.pay,
    {
      input: {
        idempotencyKey: input.key ?? unique('mp'),
        payerAccountId: input.payer,
        payeeAccountId: input.payee,
        amount: input.amount,
        currency: 'USD',
        ...(input.splits ? { splits: input.splits } : {}),
        ...(input.campaignId ? { campaignId: input.campaignId } : {}),
      },
    },
    bearer,
  );
}

async function campaign(bearer: string, input: Record<string, unknown>) {
  return gql(stack.gatewayUrl, docs.createCampaign, { input: { idempotencyKey: unique('cmp'), ...input } }, bearer);
}

async function newCampaign(fundingAccountId: string, terms: Record<string, unknown>): Promise<string> {
  const answer = await campaign(kit.operator, { fundingAccountId, ...terms });
  expect(answer.errors).toBeUndefined();
  expect(answer.data!.createCampaign.__typename).toBe('Campaign');
  return answer.data!.createCampaign.id as string;
}

async function totals(ids: readonly string[]): Promise<bigint[]> {
  return Promise.all(ids.map(async (id) => BigInt((await kit.balance(id)).total)));
}

/** Accounts on four different databases when there are four (else as spread as the shards allow). */
async function spread(prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const used = ids.map((id) => physicalOf(stack.shards, id));
    ids.push(
      used.length < stack.shards.all.length
        ? await kit.openAwayFrom(unique(prefix), used)
        : await kit.open(unique(prefix)),
    );
  }
  return ids;
}

async function expectHealthy(): Promise<void> {
  const health = await ledgerHealth(stack.shards);
  expect(health.shards.every((s) => s.balanced)).toBe(true);
}

describe('payments of many legs', () => {
  it('pays payee and splits on four databases with a discount funded on another, and answers every leg', async () => {
    const [payer, funding, payee, split] = await spread('legs4', 4);
    await kit.fund(payer!, '10000');
    await kit.fund(funding!, '5000');
    const campaignId = await newCampaign(funding!, { percentOffBps: 1000, maxDiscountPerPayment: '700' });
    const before = await totals([payer!, funding!, payee!, split!]);
    const answer = await pay(kit.operator, {
      payer: payer!,
      payee: payee!,
      amount: '10000',
      splits: [{ accountId: split!, amount: '1500' }],
      campaignId,
    });
    expect(answer.errors).toBeUndefined();
    const paid = answer.data!.createPayment;
    expect(paid).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
      amount: '10000',
      discountAmount: '700',
      refundedAmount: '0',
    });
    expect(paid.legs).toEqual([
      { account: { id: payer }, role: 'PAYER', amount: '9300' },
      { account: { id: funding }, role: 'CAMPAIGN', amount: '700' },
      { account: { id: payee }, role: 'PAYEE', amount: '8500' },
      { account: { id: split }, role: 'SPLIT', amount: '1500' },
    ]);
    expect(await totals([payer!, funding!, payee!, split!])).toEqual([
      before[0]! - 9300n,
      before[1]! - 700n,
      before[2]! + 8500n,
      before[3]! + 1500n,
    ]);
    const read = await gql(stack.gatewayUrl, docs.get, { id: paid.id }, kit.operator);
    expect(read.errors).toBeUndefined();
    expect(read.data!.payment.legs.map((l: { refundedAmount: string }) => l.refundedAmount)).toEqual([
      '0',
      '0',
      '0',
      '0',
    ]);
    const c = await gql(stack.gatewayUrl, campaignDoc, { id: campaignId }, kit.operator);
    expect(c.data!.campaign).toMatchObject({
      status: 'ACTIVE',
      spentAmount: '700',
      paymentsCount: 1,
      currency: 'USD',
      fundingAccount: { id: funding },
    });
    expect((await kit.refund(kit.operator, paid.id, '333')).data!.refundPayment.status).toBe('SUCCEEDED');
    // Reconciliation knows the legs' keys: every leg's posting is found on its own database.
    const found = await reconcile(stack.shards, businessDateOf(new Date()));
    expect(found.filter((d) => d.paymentId === paid.id)).toEqual([]);
    await expectHealthy();
  });

  it("keeps a merchant payee and a merchant split on their stripes on the payer's database, with the funding merchant on its home row", async () => {
    const merchant = await kit.open(unique('legs-merchant'), { type: 'MERCHANT' });
    const platform = await kit.openAwayFrom(unique('legs-platform'), [physicalOf(stack.shards, merchant)], {
      type: 'MERCHANT',
    });
    const payer = await kit.openAwayFrom(unique('legs-buyer'), [
      physicalOf(stack.shards, merchant),
      physicalOf(stack.shards, platform),
    ]);
    await kit.fund(payer, '5000');
    await kit.fund(merchant, '1000'); // the merchant funds its own promotion
    const campaignId = await newCampaign(merchant, { amountOff: '250', payeeAccountIds: [merchant] });
    const answer = await pay(kit.operator, {
      payer,
      payee: merchant,
      amount: '2000',
      splits: [{ accountId: platform, amount: '60' }],
      campaignId,
    });
    expect(answer.data!.createPayment).toMatchObject({ status: 'SUCCEEDED', discountAmount: '250' });
    expect((await stripeRowOf(stack.shards, merchant, payer))!.pending).toBe(1940n);
    expect((await stripeRowOf(stack.shards, platform, payer))!.pending).toBe(60n);
    expect(await kit.balance(payer)).toMatchObject({ available: '3250' });
    expect(await kit.balance(merchant)).toMatchObject({ available: '750', pending: '1940' });
    await expectHealthy();
  });

  it('is the two-leg case without splits or campaign: the same answer as CreatePayment, and legs PAYER and PAYEE', async () => {
    const payer = await kit.open(unique('legs-plain'));
    const payee = await kit.openAwayFrom(unique('legs-plain'), [physicalOf(stack.shards, payer)]);
    await kit.fund(payer, '300');
    const answer = await pay(kit.operator, { payer, payee, amount: '120' });
    expect(answer.data!.createPayment).toMatchObject({
      status: 'SUCCEEDED',
      discountAmount: '0',
      legs: [
        { account: { id: payer }, role: 'PAYER', amount: '120' },
        { account: { id: payee }, role: 'PAYEE', amount: '120' },
      ],
    });
    const [row] = await stack.shards.all[physicalOf(stack.shards, payer)]!.db.select()
      .from(payments)
      .where(eq(payments.id, answer.data!.createPayment.id));
    expect(row!.route).toBe('CROSS_SHARD');
  });
});

describe('refusals write nothing', () => {
  async function refusedUnchanged(
    ids: string[],
    send: () => Promise<{ data?: Record<string, any> | null }>,
    code: string,
  ) {
    const before = await kit.snapshot(ids);
    const answer = await send();
    expect(answer.data!.createPayment).toMatchObject({ code });
    expect(await kit.snapshot(ids)).toEqual(before);
  }

  it('answers SPLITS_EXCEED_AMOUNT, CAMPAIGN_NOT_FOUND, CAMPAIGN_NOT_APPLICABLE and CAMPAIGN_EXHAUSTED (local and remote funding)', async () => {
    const [payer, payee, split, far] = await spread('legs-refuse', 4);
    await kit.fund(payer!, '1000');
    const ids = [payer!, payee!, split!, far!];
    await refusedUnchanged(
      ids,
      () =>
        pay(kit.operator, {
          payer: payer!,
          payee: payee!,
          amount: '100',
          splits: [
            { accountId: split!, amount: '60' },
            { accountId: far!, amount: '41' },
          ],
        }),
      'SPLITS_EXCEED_AMOUNT',
    );
    const missing = newId('campaign', shardOf('account', far!));
    await refusedUnchanged(
      ids,
      () => pay(kit.operator, { payer: payer!, payee: payee!, amount: '100', campaignId: missing }),
      'CAMPAIGN_NOT_FOUND',
    );
    const elsewhere = await newCampaign(far!, { percentOffBps: 500, payeeAccountIds: [split!] });
    await refusedUnchanged(
      ids,
      () => pay(kit.operator, { payer: payer!, payee: payee!, amount: '100', campaignId: elsewhere }),
      'CAMPAIGN_NOT_APPLICABLE',
    );
    const endsAt = new Date(clock.now().getTime() + 1500);
    const ending = await newCampaign(far!, { percentOffBps: 500, endsAt: endsAt.toISOString() });
    clock.advanceTo(new Date(endsAt.getTime() + 100));
    await refusedUnchanged(
      ids,
      () => pay(kit.operator, { payer: payer!, payee: payee!, amount: '100', campaignId: ending }),
      'CAMPAIGN_NOT_APPLICABLE',
    );
    // The funding account `far` holds nothing: a remote campaign that cannot pay.
    const empty = await newCampaign(far!, { amountOff: '10' });
    await refusedUnchanged(
      ids,
      () =>
        pay(kit.operator, {
          payer: payer!,
          payee: payee!,
          amount: '100',
          campaignId: empty,
          splits: [{ accountId: split!, amount: '5' }],
        }),
      'CAMPAIGN_EXHAUSTED',
    );
    // Funding on the payer's own database: one posting, refused whole.
    const near = await kit.open(unique('legs-near'), { physical: physicalOf(stack.shards, payer!) });
    const nearCampaign = await newCampaign(near, { amountOff: '10' });
    await refusedUnchanged(
      [...ids, near],
      () => pay(kit.operator, { payer: payer!, payee: payee!, amount: '100', campaignId: nearCampaign }),
      'CAMPAIGN_EXHAUSTED',
    );
    const c = await gql(stack.gatewayUrl, campaignDoc, { id: empty }, kit.operator);
    expect(c.data!.campaign).toMatchObject({ spentAmount: '0', paymentsCount: 0 });
    await expectHealthy();
  });

  it('refuses bad splits and bad campaigns with a clear error and nothing written', async () => {
    const [payer, payee, split] = await spread('legs-bad', 3);
    await kit.fund(payer!, '1000');
    const other = await kit.open(unique('legs-eur'), { currency: 'EUR' });
    const closed = await kit.open(unique('legs-closed'));
    await closeInSql(stack.shards, closed);
    const ids = [payer!, payee!, split!];
    const cases: Array<[Split[], string]> = [
      [[{ accountId: split!, amount: '0' }], 'INVALID_INPUT'],
      [[{ accountId: split!, amount: '-5' }], 'INVALID_INPUT'],
      [[{ accountId: payer!, amount: '5' }], 'INVALID_INPUT'],
      [
        [
          { accountId: split!, amount: '5' },
          { accountId: split!, amount: '6' },
        ],
        'INVALID_INPUT',
      ],
      [Array.from({ length: 11 }, () => ({ accountId: split!, amount: '1' })), 'INVALID_INPUT'],
      [[{ accountId: newId('account', shardOf('account', split!)), amount: '5' }], 'ACCOUNT_NOT_FOUND'],
      [[{ accountId: closed, amount: '5' }], 'ACCOUNT_NOT_ACTIVE'],
      [[{ accountId: other, amount: '5' }], 'CURRENCY_MISMATCH'],
    ];
    for (const [splits, code] of cases)
      await refusedUnchanged(
        ids,
        () => pay(kit.operator, { payer: payer!, payee: payee!, amount: '100', splits }),
        code,
      );
    const badCampaigns: Array<Record<string, unknown>> = [
      { percentOffBps: 100, amountOff: '5' },
      {},
      { percentOffBps: 0 },
      { percentOffBps: 10001 },
      { amountOff: '0' },
      { percentOffBps: 100, endsAt: new Date(Date.now() - 1000).toISOString() },
    ];
    for (const terms of badCampaigns) {
      const answer = await campaign(kit.operator, { fundingAccountId: split!, ...terms });
      expect(answer.data!.createCampaign).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
    }
    const rows = await stack.shards.all[physicalOf(stack.shards, split!)]!.db.select()
      .from(campaigns)
      .where(eq(campaigns.fundingAccountId, split!));
    expect(rows).toEqual([]);
  });

  it("refuses an endsAt that is no RFC 3339 instant on a real date within DATETIME's years, as a bad request", async () => {
    const funding = await kit.open(unique('legs-ends'));
    // Each went through before: two named another instant than meant, the last two failed in the database (internal).
    for (const endsAt of [
      '2099-02-30T00:00:00Z',
      '1 March 2099',
      '2099-03-01T10:00:00',
      '+010000-01-01T00:00:00Z',
      '9999-12-31T23:30:00-01:00',
    ]) {
      const answer = await campaign(kit.operator, { fundingAccountId: funding, percentOffBps: 100, endsAt });
      expect(answer.errors?.[0]?.extensions?.code, endsAt).toBe('BAD_USER_INPUT');
      expect(answer.errors?.[0]?.message, endsAt).toMatch(/DateTime must be an RFC 3339 date-time with an offset/);
    }
    const rows = await stack.shards
      .of('account', funding)
      .db.select()
      .from(campaigns)
      .where(eq(campaigns.fundingAccountId, funding));
    expect(rows).toEqual([]);
    // An offset is taken, and the instant answered in UTC.
    const id = await newCampaign(funding, { percentOffBps: 100, endsAt: '2099-03-01T12:00:00.5+02:00' });
    const read = await gql(
      stack.gatewayUrl,
      'query C($id: ID!) { campaign(id: $id) { endsAt } }',
      { id },
      kit.operator,
    );
    expect(read.data!.campaign).toEqual({ endsAt: '2099-03-01T10:00:00.500Z' });
  });

  it('fails a payment whose paying leg cannot post after the campaign paid, reversing the campaign', async () => {
    const [payer, funding, payee] = await spread('legs-poor', 3);
    await kit.fund(payer!, '50');
    await kit.fund(funding!, '1000');
    const campaignId = await newCampaign(funding!, { amountOff: '100' });
    const answer = await pay(kit.operator, { payer: payer!, payee: payee!, amount: '500', campaignId });
    expect(answer.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'FAILED' });
    expect(await totals([payer!, funding!, payee!])).toEqual([50n, 1000n, 0n]);
    const c = await gql(stack.gatewayUrl, campaignDoc, { id: campaignId }, kit.operator);
    expect(c.data!.campaign).toMatchObject({ spentAmount: '0', paymentsCount: 0 });
    await expectHealthy();
  });

  it('reverses every posted leg when a receiving leg is refused after the others posted', async () => {
    const [payer, funding, payee, split] = await spread('legs-undo', 4);
    await kit.fund(payer!, '1000');
    await kit.fund(funding!, '1000');
    const campaignId = await newCampaign(funding!, { amountOff: '100' });
    // The payment's record, legs and outbox row, written as payLegs' first step (services/leg-payment.ts) writes
    // them; then the split closes before any leg posts, and the legs run.
    const home = stack.shards.of('account', payer!);
    const id = newId('payment', shardOf('account', payer!));
    const now = new Date();
    const legs: Array<[PaymentLegRow['role'], string, bigint]> = [
      ['PAYER', payer!, 400n],
      ['CAMPAIGN', funding!, 100n],
      ['PAYEE', payee!, 300n],
      ['SPLIT', split!, 200n],
    ];
    await inTransaction(home, async (tx) => {
      await tx.insert(payments).values({
        id,
        payerAccountId: payer!,
        payeeAccountId: payee!,
        creditAccountId: payee!,
        route: 'LEGS',
        amount: 500n,
        currency: 'USD',
        discountAmount: 100n,
        campaignId,
        status: 'PROCESSING',
        createdBy: 'test',
        createdAt: now,
      });
      await tx.insert(paymentLegs).values(
        legs.map(([role, accountId, amount], legIndex) => ({
          paymentId: id,
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
        id,
        step: 'PAYMENT_LEGS',
        status: 'PENDING',
        createdAt: now,
        nextAttemptAt: new Date(now.getTime() + 3_600_000),
      });
    });
    await closeInSql(stack.shards, split!);
    await driveLegPayment(stack.shards, home, id, () => new Date());
    const [row] = await home.db.select().from(payments).where(eq(payments.id, id));
    expect(row).toMatchObject({ status: 'FAILED', failureCode: 'ACCOUNT_NOT_ACTIVE' });
    expect(await totals([payer!, funding!, payee!, split!])).toEqual([1000n, 1000n, 0n, 0n]);
    // Every leg that posted has its reversal, on its own database.
    for (const [key, account] of [
      [`${id}:leg:1:reverse`, funding!],
      [`${id}:leg:2:reverse`, payee!],
      [`${id}:reverse`, payer!],
    ] as const) {
      const shard = stack.shards.of('account', account);
      expect((await shard.db.select().from(postings).where(eq(postings.dedupeKey, key))).length, key).toBe(1);
    }
    const refused = await stack.shards
      .of('account', split!)
      .db.select()
      .from(postingRejections)
      .where(like(postingRejections.dedupeKey, `${id}:leg:3`));
    expect(refused.length).toBe(1);
    // Running the legs again changes nothing.
    await driveLegPayment(stack.shards, home, id, () => new Date());
    expect(await totals([payer!, funding!, payee!, split!])).toEqual([1000n, 1000n, 0n, 0n]);
    await expectHealthy();
  });
});

describe('settlement of MERCHANT legs', () => {
  it("settles each merchant leg's received amount less what was refunded, the fee on its own gross", async () => {
    const merchant = await kit.open(unique('legs-settle-m'), { type: 'MERCHANT' });
    const platform = await kit.open(unique('legs-settle-p'), { type: 'MERCHANT' });
    const payer = await kit.openAwayFrom(unique('legs-settle-buyer'), [physicalOf(stack.shards, merchant)]);
    await kit.fund(payer, '20000');
    const payment = (
      await pay(kit.operator, {
        payer,
        payee: merchant,
        amount: '10000',
        splits: [{ accountId: platform, amount: '1000' }],
      })
    ).data!.createPayment;
    expect(payment.status).toBe('SUCCEEDED');
    const refund = await kit.refund(kit.operator, payment.id, '1000');
    expect(refund.data!.refundPayment.status).toBe('SUCCEEDED');
    const date = businessDateOf(new Date());
    const tomorrow = () => new Date(Date.now() + 86_400_000);
    const settled = await runSettlement(stack.shards, merchant, date, tomorrow, { feeBpsDefault: 250 });
    expect(settled.ok && settled.value).toMatchObject({
      status: 'SETTLED',
      grossAmount: 9000n,
      refundedAmount: 900n,
      feeAmount: 203n,
      netAmount: 7897n,
    });
    const cut = await runSettlement(stack.shards, platform, date, tomorrow, { feeBpsDefault: 250 });
    expect(cut.ok && cut.value).toMatchObject({
      status: 'SETTLED',
      grossAmount: 1000n,
      refundedAmount: 100n,
      feeAmount: 23n,
      netAmount: 877n,
    });
    expect(await kit.balance(merchant)).toMatchObject({ available: '7897', pending: '0' });
    expect(await kit.balance(platform)).toMatchObject({ available: '877', pending: '0' });
    // A refund after settlement comes out of available, and the next settlement counts it.
    const late = await kit.refund(kit.operator, payment.id, '2000');
    expect(late.data!.refundPayment.status).toBe('SUCCEEDED');
    expect(await kit.balance(merchant)).toMatchObject({ available: '6097' });
    expect(await kit.balance(platform)).toMatchObject({ available: '677' });
    const again = await runSettlement(stack.shards, merchant, date, tomorrow, { feeBpsDefault: 250 });
    expect(again.ok && again.value.status).toBe('SETTLED');
    await expectHealthy();
  });

  /** A merchant paid 10000 with a split of 1000 on a third database: the merchant's leg of 9000 in its stripe's pending. */
  async function paidWithRemoteSplit(prefix: string): Promise<{ merchant: string; paymentId: string }> {
    const merchant = await kit.open(unique(`${prefix}-m`), { type: 'MERCHANT' });
    const payer = await kit.openAwayFrom(unique(`${prefix}-buyer`), [physicalOf(stack.shards, merchant)]);
    // The split on a third database: the payment's leg there posts after its home posting credited the stripe.
    const split = await kit.openAwayFrom(unique(`${prefix}-split`), [
      physicalOf(stack.shards, merchant),
      physicalOf(stack.shards, payer),
    ]);
    await kit.fund(payer, '20000');
    const answer = await pay(kit.operator, {
      payer,
      payee: merchant,
      amount: '10000',
      splits: [{ accountId: split, amount: '1000' }],
    });
    expect(answer.data!.createPayment.status).toBe('SUCCEEDED');
    return { merchant, paymentId: answer.data!.createPayment.id as string };
  }

  /** A payment's status set in SQL: the window a crash between its legs leaves it in (legs-crash.test.ts). */
  async function setPaymentStatus(paymentId: string, status: 'PROCESSING' | 'SUCCEEDED'): Promise<void> {
    await stack.shards.of('payment', paymentId).db.update(payments).set({ status }).where(eq(payments.id, paymentId));
  }

  /** The merchant's settlement of today, run as if tomorrow had begun, at 250 bps. */
  function settleToday(merchant: string) {
    const tomorrow = () => new Date(Date.now() + 86_400_000);
    return runSettlement(stack.shards, merchant, businessDateOf(new Date()), tomorrow, { feeBpsDefault: 250 });
  }

  it('waits for a payment of the date still PROCESSING instead of settling without its merchant leg', async () => {
    const { merchant, paymentId } = await paidWithRemoteSplit('legs-wait');
    // The stripe credited, the split's leg not posted yet.
    await setPaymentStatus(paymentId, 'PROCESSING');
    const waits = await settleToday(merchant);
    expect(waits.ok ? waits.value : waits.error).toMatchObject({ kind: 'PaymentsInFlight', inFlightId: paymentId });
    expect(await kit.balance(merchant)).toMatchObject({ available: '0', pending: '9000' });
    // Nothing claimed: were the payment to fail now, no settlement would be left PROCESSING for a date with nothing due.
    const [claimed] = (await stack.shards
      .of('account', merchant)
      .db.execute(sql`SELECT id FROM settlements WHERE merchant_account_id = ${merchant}`)) as unknown as [unknown[]];
    expect(claimed).toEqual([]);
    // Its legs posted (the relay): the settlement, still PROCESSING, settles the leg on its next run.
    await setPaymentStatus(paymentId, 'SUCCEEDED');
    const settled = await settleToday(merchant);
    expect(settled.ok && settled.value).toMatchObject({ status: 'SETTLED', grossAmount: 9000n, feeAmount: 225n });
    expect(await kit.balance(merchant)).toMatchObject({ available: '8775', pending: '0' });
    await expectHealthy();
  });

  it('offers no advance on a merchant leg whose payment is still PROCESSING: its reversal takes the leg from pending', async () => {
    const { merchant, paymentId } = await paidWithRemoteSplit('legs-offer-wait');
    const terms = { merchantAccountId: merchant, maxAdvanceBps: 5_000, feeBps: 100, outstandingMax: '1000000' };
    const set = await gql(stack.gatewayUrl, contractOperation('SetAdvanceTerms'), { input: terms }, kit.operator);
    expect(set.data?.setAdvanceTerms.__typename, JSON.stringify(set)).toBe('AdvanceTerms');
    const allowed = async () => {
      const offer = await gql(
        stack.gatewayUrl,
        contractOperation('AdvanceOffer'),
        { merchantAccountId: merchant },
        kit.operator,
      );
      expect(offer.errors).toBeUndefined();
      return offer.data!.advanceOffer.allowedAmount as string;
    };
    expect(await allowed()).toBe('4500');
    await setPaymentStatus(paymentId, 'PROCESSING');
    expect(await kit.balance(merchant)).toMatchObject({ pending: '9000' });
    expect(await allowed()).toBe('0');
    await setPaymentStatus(paymentId, 'SUCCEEDED');
    expect(await allowed()).toBe('4500');
  });

  it('waits for a refund of such a payment still PROCESSING, whose share settlement would leave in pending', async () => {
    const { merchant, paymentId } = await paidWithRemoteSplit('legs-refund-wait');
    const refunded = (await kit.refund(kit.operator, paymentId, '300')).data!.refundPayment;
    expect(refunded.status).toBe('SUCCEEDED');
    const pending = BigInt((await kit.balance(merchant)).pending);
    // Reserved, its legs elsewhere not posted yet (a crash after the reservation: crash.test.ts).
    const home = stack.shards.of('refund', refunded.id).db;
    const setStatus = (status: 'PROCESSING' | 'SUCCEEDED') =>
      home.update(refunds).set({ status }).where(eq(refunds.id, refunded.id));
    await setStatus('PROCESSING');
    const waits = await settleToday(merchant);
    expect(waits.ok ? waits.value : waits.error).toMatchObject({ kind: 'PaymentsInFlight', inFlightId: refunded.id });
    expect(await kit.balance(merchant)).toMatchObject({ available: '0', pending: String(pending) });
    await setStatus('SUCCEEDED');
    const settled = await settleToday(merchant);
    // The fee rounded half up on what moves (feeOf).
    const fee = (pending * 250n + 5_000n) / 10_000n;
    expect(settled.ok && settled.value).toMatchObject({ status: 'SETTLED', netAmount: pending - fee });
    expect(await kit.balance(merchant)).toMatchObject({ available: String(pending - fee), pending: '0' });
    await expectHealthy();
  });

  it('settles a date whose payment with two splits was refunded all but a unit before it: the PAYEE gives back no more than its leg (simulator seed 1814216641)', async () => {
    const merchant = await kit.open(unique('legs-short-m'), { type: 'MERCHANT' });
    const payer = await kit.openAwayFrom(unique('legs-short-buyer'), [physicalOf(stack.shards, merchant)]);
    const [s1, s2] = [await kit.open(unique('legs-short-s1')), await kit.open(unique('legs-short-s2'))];
    await kit.fund(payer, '20000');
    // Another credit of the date on the merchant's stripe on the payer's database: its pending holds 126 for it.
    const other = (await pay(kit.operator, { payer, payee: merchant, amount: '126' })).data!.createPayment;
    expect(other.status).toBe('SUCCEEDED');
    const split = (
      await pay(kit.operator, {
        payer,
        payee: merchant,
        amount: '14281',
        splits: [
          { accountId: s1, amount: '2837' },
          { accountId: s2, amount: '7650' },
        ],
      })
    ).data!.createPayment;
    expect(split.status).toBe('SUCCEEDED');
    const refund = await kit.refund(kit.operator, split.id, '14280');
    expect(refund.data!.refundPayment.status).toBe('SUCCEEDED');
    const date = businessDateOf(new Date());
    const tomorrow = () => new Date(Date.now() + 86_400_000);
    // Splits rounding down alone (2836 + 7649) left the PAYEE 3795 of its 3794, the unit taken
    // from the 126 of the other payment, which settlement moves: the stripe's posting was refused.
    const settled = await runSettlement(stack.shards, merchant, date, tomorrow, { feeBpsDefault: 250 });
    const read = await gql(stack.gatewayUrl, docs.get, { id: split.id }, kit.operator);
    expect(read.data!.payment.legs.map((l: { refundedAmount: string }) => l.refundedAmount)).toEqual([
      '14280',
      '3794',
      '2837',
      '7649',
    ]);
    // Gross 126 + 3794, all of the leg refunded, the fee on the 126 moved: 3.15 rounded half up.
    expect(settled.ok && settled.value).toMatchObject({
      status: 'SETTLED',
      grossAmount: 3920n,
      refundedAmount: 3794n,
      feeAmount: 3n,
      netAmount: 123n,
    });
    expect(await kit.balance(merchant)).toMatchObject({ available: '123', pending: '0' });
    // The last unit comes back from the split that rounded down, none from the merchant.
    const last = await kit.refund(kit.operator, split.id, '1');
    expect(last.data!.refundPayment.status).toBe('SUCCEEDED');
    expect(await kit.balance(merchant)).toMatchObject({ available: '123', pending: '0' });
    expect(await totals([s1, s2])).toEqual([0n, 0n]);
    await expectHealthy();
  });
});

describe('refunds pro rata', () => {
  it('returns every leg by the cumulative rule, and a full refund restores every account exactly', async () => {
    const [payer, funding, payee, s1, s2] = await spread('legs-refund', 5);
    await kit.fund(payer!, '10000');
    await kit.fund(funding!, '10000');
    const campaignId = await newCampaign(funding!, { percentOffBps: 3333 });
    const ids = [payer!, funding!, payee!, s1!, s2!];
    const before = await totals(ids);
    const answer = await pay(kit.operator, {
      payer: payer!,
      payee: payee!,
      amount: '1001',
      campaignId,
      splits: [
        { accountId: s1!, amount: '333' },
        { accountId: s2!, amount: '334' },
      ],
    });
    const payment = answer.data!.createPayment;
    expect(payment.status).toBe('SUCCEEDED');
    const payeeToken = await token(unique('nobody'), 'customer');
    const denied = await kit.refund(payeeToken, payment.id, '1');
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    let refunded = 0n;
    for (const step of [1n, 1n, 250n, 7n, 400n, 342n]) {
      const r = await kit.refund(kit.operator, payment.id, step.toString());
      expect(r.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
      refunded += step;
      const read = await gql(stack.gatewayUrl, docs.get, { id: payment.id }, kit.operator);
      const legs = read.data!.payment.legs as Array<{ role: string; amount: string; refundedAmount: string }>;
      const rule = (leg: bigint) => (refunded * leg) / 1001n;
      // The campaign's share rounds up, in the funder's favour.
      const campaignRule = (leg: bigint) => (refunded * leg + 1000n) / 1001n;
      // The discount is floor(1001 * 3333 / 10000) = 333; PAYER and PAYEE take their side's remainder.
      expect(legs.map((l) => [l.role, l.amount])).toEqual([
        ['PAYER', '668'],
        ['CAMPAIGN', '333'],
        ['PAYEE', '334'],
        ['SPLIT', '333'],
        ['SPLIT', '334'],
      ]);
      expect(legs.map((l) => BigInt(l.refundedAmount))).toEqual([
        refunded - campaignRule(333n),
        campaignRule(333n),
        refunded - rule(333n) - rule(334n),
        rule(333n),
        rule(334n),
      ]);
    }
    expect(refunded).toBe(1001n);
    expect(await totals(ids)).toEqual(before);
    await expectHealthy();
  });

  it('fails a refund whose receiver already spent its share, leg by leg, with nothing half-applied', async () => {
    const [payer, payee, split] = await spread('legs-spent', 3);
    await kit.fund(payer!, '1000');
    const payment = (
      await pay(kit.operator, {
        payer: payer!,
        payee: payee!,
        amount: '1000',
        splits: [{ accountId: split!, amount: '400' }],
      })
    ).data!.createPayment;
    expect(payment.status).toBe('SUCCEEDED');
    // The split withdraws what it got; the payee keeps its 600.
    const w = await kit.withdraw(kit.operator, split!, '400');
    expect(w.data!.withdraw.__typename).toBe('Withdrawal');
    const r = await kit.refund(kit.operator, payment.id, '1000');
    expect(r.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'FAILED' });
    expect(await totals([payer!, payee!, split!])).toEqual([0n, 600n, 0n]);
    const read = await gql(stack.gatewayUrl, docs.get, { id: payment.id }, kit.operator);
    expect(read.data!.payment).toMatchObject({ refundedAmount: '0' });
    expect(read.data!.payment.legs.map((l: { refundedAmount: string }) => l.refundedAmount)).toEqual(['0', '0', '0']);
    await expectHealthy();
  });

  it("fails a refund whose funder, also its payee, cannot give its share back, wherever the funder's account lives (simulator seed 3401617778)", async () => {
    const [payer, split] = await spread('legs-funder', 2);
    // The funder pays the discount and receives the payee's leg: on the payer's database (its legs in the refund's
    // home posting) and on a database of its own (each leg a posting of its own): the same refund, the same answer.
    const funders = [
      await kit.open(unique('legs-funder'), { physical: physicalOf(stack.shards, payer!) }),
      await kit.openAwayFrom(unique('legs-funder'), [physicalOf(stack.shards, payer!)]),
    ];
    await kit.fund(payer!, '7912');
    for (const funder of funders) {
      const where = physicalOf(stack.shards, funder) === physicalOf(stack.shards, payer!) ? "payer's" : 'its own';
      await kit.fund(funder, '9198');
      const campaignId = await newCampaign(funder, { amountOff: '9198' });
      // 13154 with 9262 to the split: the payer pays 3956, the campaign 9198, the funder receives 3892 as the payee.
      const payment = (
        await pay(kit.operator, {
          payer: payer!,
          payee: funder,
          amount: '13154',
          campaignId,
          splits: [{ accountId: split!, amount: '9262' }],
        })
      ).data!.createPayment;
      expect(payment).toMatchObject({ status: 'SUCCEEDED', discountAmount: '9198' });
      const w = await kit.withdraw(kit.operator, funder, '3892');
      expect(w.data!.withdraw.__typename).toBe('Withdrawal');
      const before = await totals([payer!, funder, split!]);
      // Refunding 4106: the payee gives back 4106 - floor(4106 * 9262 / 13154) = 1215, which the funder (nothing
      // available) lacks, though the campaign's share, ceil(4106 * 9198 / 13154) = 2872, would come back to it.
      const r = await kit.refund(kit.operator, payment.id, '4106');
      expect(r.data!.refundPayment, `the funder on the ${where} database`).toMatchObject({
        __typename: 'Refund',
        status: 'FAILED',
      });
      expect(await totals([payer!, funder, split!])).toEqual(before);
      const read = await gql(stack.gatewayUrl, docs.get, { id: payment.id }, kit.operator);
      expect(read.data!.payment).toMatchObject({ refundedAmount: '0' });
      expect(read.data!.payment.legs.map((l: { refundedAmount: string }) => l.refundedAmount)).toEqual([
        '0',
        '0',
        '0',
        '0',
      ]);
    }
    await expectHealthy();
  });
});

describe("who may refund a payment with splits: the payee's owner takes back only its own money", () => {
  it("refuses the payee's owner a refund that would take a split back from another owner, and lets an operator make it", async () => {
    const [buyer, seller, shop] = [unique('split-buyer'), unique('split-seller'), unique('split-shop')];
    const payer = await kit.open(buyer);
    const payee = await kit.open(seller);
    const merchant = await kit.open(shop, { type: 'MERCHANT' });
    await kit.fund(payer, '1000');
    // The payer names another owner's merchant as a split: any active account may be one.
    const paid = await pay(await token(buyer, 'customer'), {
      payer,
      payee,
      amount: '1000',
      splits: [{ accountId: merchant, amount: '999' }],
    });
    expect(paid.data!.createPayment.status).toBe('SUCCEEDED');
    const paymentId = paid.data!.createPayment.id as string;
    const ids = [payer, payee, merchant];
    const before = await kit.snapshot(ids);
    // The merchant shipped; the payee's owner refunds it all, which would take the merchant's 999 back.
    const taken = await kit.refund(await token(seller, 'customer'), paymentId, '1000');
    expect(taken.data?.refundPayment ?? null).toBeNull();
    expect(taken.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await kit.snapshot(ids)).toEqual(before);
    const read = await gql(stack.gatewayUrl, docs.get, { id: paymentId }, kit.operator);
    expect(read.data!.payment).toMatchObject({ refundedAmount: '0', refunds: [] });
    // An operator refunds it as before: every account back where it was.
    const refunded = await kit.refund(kit.operator, paymentId, '1000');
    expect(refunded.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await totals(ids)).toEqual([1000n, 0n, 0n]);
    await expectHealthy();
  });

  it("lets the payee's owner refund a payment whose split went to another account of its own", async () => {
    const [buyer, seller] = [unique('own-split-buyer'), unique('own-split-seller')];
    const payer = await kit.open(buyer);
    const payee = await kit.open(seller);
    const second = await kit.open(seller, { type: 'MERCHANT' });
    await kit.fund(payer, '1000');
    const paid = await pay(await token(buyer, 'customer'), {
      payer,
      payee,
      amount: '1000',
      splits: [{ accountId: second, amount: '600' }],
    });
    expect(paid.data!.createPayment.status).toBe('SUCCEEDED');
    const refunded = await kit.refund(await token(seller, 'merchant'), paid.data!.createPayment.id, '1000');
    expect(refunded.errors).toBeUndefined();
    expect(refunded.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    expect(await totals([payer, payee, second])).toEqual([1000n, 0n, 0n]);
    await expectHealthy();
  });
});

describe('refunds of one payment go one at a time', () => {
  /** Keeps every relay off a refund's outbox row for an hour: the test decides when the refund in flight ends. */
  async function holdOffRelay(refundId: string): Promise<void> {
    const [result] = await stack.shards
      .of('refund', refundId)
      .db.update(transferOutbox)
      .set({ nextAttemptAt: new Date(Date.now() + 60 * 60 * 1000) })
      .where(and(eq(transferOutbox.id, refundId), eq(transferOutbox.status, 'PENDING')));
    expect(result.affectedRows).toBe(1);
  }

  /**
   * A refund of `amount` left PROCESSING: its completion meets the payee's row held locked, answers PROCESSING once
   * the lock wait times out, and no relay ends it until the test does.
   */
  async function refundLeftInFlight(paymentId: string, payee: string, amount: string, key: string): Promise<string> {
    const holder = await mysql.createConnection({ uri: stack.shards.topology.urls[physicalOf(stack.shards, payee)]! });
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [payee]);
      const answer = kit.refund(kit.operator, paymentId, amount, { key });
      const id = await eventually('the refund is reserved', 10_000, async () => {
        const [row] = await stack.shards
          .of('payment', paymentId)
          .db.select()
          .from(refunds)
          .where(eq(refunds.paymentId, paymentId));
        return row?.id;
      });
      await holdOffRelay(id);
      expect((await answer).data!.refundPayment).toMatchObject({ id, status: 'PROCESSING' });
      return id;
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  }

  it('refuses a refund while another is in flight (LOCK_TIMEOUT, retryable), so one that fails leaves every leg on the rule', async () => {
    const payer = await kit.open(unique('serial-payer'));
    // The payee on another database, with an id that sorts first there: the refund waiting on its row holds no shared
    // row meanwhile (insertEarlyAccountOn).
    const payeeOn = (physicalOf(stack.shards, payer) + 1) % stack.shards.all.length;
    const payee = await insertEarlyAccountOn(stack.shards, payeeOn, unique('serial-payee'));
    const [s1, s2] = [await kit.open(unique('serial-s1')), await kit.open(unique('serial-s2'))];
    await kit.fund(payer, '10');
    const paid = await pay(kit.operator, {
      payer,
      payee,
      amount: '10',
      splits: [
        { accountId: s1, amount: '3' },
        { accountId: s2, amount: '3' },
      ],
    });
    const paymentId = paid.data!.createPayment.id as string;
    expect(paid.data!.createPayment.status).toBe('SUCCEEDED');
    // X refunds 3, all from the payee (the splits' floor(3 × 3 / 10) is 0), and stays in flight.
    const xKey = unique('serial-x');
    const x = await refundLeftInFlight(paymentId, payee, '3', xKey);
    // The payee spends its 4: X will fail.
    expect((await kit.withdraw(kit.operator, payee, '4')).data!.withdraw.__typename).toBe('Withdrawal');
    const ids = [payer, payee, s1, s2];
    const before = await totals(ids);
    // Y, of 1, would reserve on top of X's shares (the payee −1, each split +1) and keep them when X fails.
    const yKey = unique('serial-y');
    const refused = await kit.refund(kit.operator, paymentId, '1', { key: yKey });
    expect(refused.data?.refundPayment ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'LOCK_TIMEOUT', retryable: true });
    expect(refused.errors?.[0]?.message).toContain(x);
    expect(await totals(ids)).toEqual(before);
    const during = await gql(stack.gatewayUrl, docs.get, { id: paymentId }, kit.operator);
    expect(during.data!.payment).toMatchObject({ refundedAmount: '3', refunds: [{ id: x, status: 'PROCESSING' }] });
    // X's own key while X is in flight answers X (not the refusal), and drives it: the payee cannot give 3 back.
    const replay = await kit.refund(kit.operator, paymentId, '3', { key: xKey });
    expect(replay.data!.refundPayment).toMatchObject({ id: x, status: 'FAILED' });
    // X ended, Y's retry with its key proceeds, its shares the rule's at R = 1: the payee 1, the splits 0.
    await kit.fund(payee, '1');
    const y = await kit.refund(kit.operator, paymentId, '1', { key: yKey });
    expect(y.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'SUCCEEDED' });
    const read = await gql(stack.gatewayUrl, docs.get, { id: paymentId }, kit.operator);
    expect(read.data!.payment.refundedAmount).toBe('1');
    expect(
      read.data!.payment.legs.map((l: { role: string; refundedAmount: string }) => [l.role, l.refundedAmount]),
    ).toEqual([
      ['PAYER', '1'],
      ['PAYEE', '1'],
      ['SPLIT', '0'],
      ['SPLIT', '0'],
    ]);
    expect(await totals(ids)).toEqual([1n, 0n, 3n, 3n]);
    await expectHealthy();
  });
});

describe('hostile payers: a campaign pays only for what it was funded for (issue 31)', () => {
  const campaignState = async (id: string) =>
    (await gql(stack.gatewayUrl, campaignDoc, { id }, kit.operator)).data!.campaign as {
      spentAmount: string;
      paymentsCount: number;
    };

  async function refusedNotApplicable(
    ids: string[],
    campaignId: string,
    send: () => Promise<{ data?: Record<string, any> | null }>,
  ) {
    const before = await kit.snapshot(ids);
    const answer = await send();
    expect(answer.data!.createPayment).toMatchObject({ code: 'CAMPAIGN_NOT_APPLICABLE' });
    expect(await kit.snapshot(ids)).toEqual(before);
    expect(await campaignState(campaignId)).toMatchObject({ spentAmount: '0', paymentsCount: 0 });
  }

  it("refuses a shop's 50% campaign on a payment whose split of the whole amount goes to the payer's own second account", async () => {
    const merchant = unique('drain-shop');
    const shop = await kit.open(merchant, { type: 'MERCHANT' });
    await kit.fund(shop, '10000');
    const campaignId = await newCampaign(shop, { percentOffBps: 5000, payeeAccountIds: [shop] });
    const customer = unique('drain-customer');
    const wallet = await kit.openAwayFrom(customer, [physicalOf(stack.shards, shop)]);
    const pocket = await kit.openAwayFrom(customer, [physicalOf(stack.shards, wallet)]);
    await kit.fund(wallet, '1000');
    const bearer = await token(customer, 'customer');
    await refusedNotApplicable([shop, wallet, pocket], campaignId, () =>
      pay(bearer, {
        payer: wallet,
        payee: shop,
        amount: '1000',
        splits: [{ accountId: pocket, amount: '1000' }],
        campaignId,
      }),
    );
    // A split of any part, and the payee itself: the payer's owner receives, so nothing is discounted.
    await refusedNotApplicable([shop, wallet, pocket], campaignId, () =>
      pay(bearer, {
        payer: wallet,
        payee: shop,
        amount: '1000',
        splits: [{ accountId: pocket, amount: '1' }],
        campaignId,
      }),
    );
    await expectHealthy();
  });

  it("refuses an open campaign on a transfer between one owner's accounts", async () => {
    const funding = await kit.open(unique('drain-funder'));
    await kit.fund(funding, '10000');
    const campaignId = await newCampaign(funding, { percentOffBps: 5000 });
    const customer = unique('drain-self');
    const wallet = await kit.open(customer);
    const pocket = await kit.openAwayFrom(customer, [physicalOf(stack.shards, wallet)]);
    await kit.fund(wallet, '1000');
    const bearer = await token(customer, 'customer');
    await refusedNotApplicable([funding, wallet, pocket], campaignId, () =>
      pay(bearer, { payer: wallet, payee: pocket, amount: '1000', campaignId }),
    );
    await expectHealthy();
  });

  it('discounts only the eligible share when a split goes to another owner the campaign does not name, and refunds restore every account', async () => {
    const [buyer, shop, platform] = await spread('share', 3);
    await kit.fund(buyer!, '5000');
    await kit.fund(shop!, '5000'); // the shop funds its own promotion
    const campaignId = await newCampaign(shop!, { percentOffBps: 5000, payeeAccountIds: [shop] });
    const ids = [buyer!, shop!, platform!];
    const before = await totals(ids);
    const answer = await pay(kit.operator, {
      payer: buyer!,
      payee: shop!,
      amount: '1001',
      splits: [{ accountId: platform!, amount: '400' }],
      campaignId,
    });
    const paid = answer.data!.createPayment;
    // The shop receives 601, of which the campaign pays floor(601 / 2) = 300; the platform's 400 is not discounted.
    expect(paid).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', amount: '1001', discountAmount: '300' });
    expect(paid.legs).toEqual([
      { account: { id: buyer }, role: 'PAYER', amount: '701' },
      { account: { id: shop }, role: 'CAMPAIGN', amount: '300' },
      { account: { id: shop }, role: 'PAYEE', amount: '601' },
      { account: { id: platform }, role: 'SPLIT', amount: '400' },
    ]);
    expect(await totals(ids)).toEqual([before[0]! - 701n, before[1]! - 300n + 601n, before[2]! + 400n]);
    expect(await campaignState(campaignId)).toMatchObject({ spentAmount: '300', paymentsCount: 1 });
    // One-unit refunds never return more to the payer and the campaign together than was refunded.
    for (let refunded = 1n; refunded <= 3n; refunded++) {
      expect((await kit.refund(kit.operator, paid.id, '1')).data!.refundPayment.status).toBe('SUCCEEDED');
      const [buyerNow, shopNow] = await totals(ids);
      const campaignBack = (refunded * 300n + 1000n) / 1001n; // rounded up: the funder's favour
      expect(buyerNow).toBe(before[0]! - 701n + refunded - campaignBack);
      expect(shopNow! - before[1]!).toBe(-300n + campaignBack + 601n - (refunded - (refunded * 400n) / 1001n));
    }
    expect((await kit.refund(kit.operator, paid.id, '998')).data!.refundPayment.status).toBe('SUCCEEDED');
    expect(await totals(ids)).toEqual(before);
    await expectHealthy();
  });
});

describe('campaigns: who may create and read them', () => {
  it("lets the funding account's owner or an operator create one, idempotently, and only them read it", async () => {
    const owner = unique('legs-owner');
    const ownerToken = await token(owner, 'merchant');
    const strangerToken = await token(unique('legs-stranger'), 'customer');
    const funding = await kit.open(owner, { type: 'MERCHANT' });
    const stolen = await campaign(strangerToken, { fundingAccountId: funding, percentOffBps: 100 });
    expect(stolen.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const key = unique('cmp-key');
    const first = await campaign(ownerToken, { idempotencyKey: key, fundingAccountId: funding, percentOffBps: 100 });
    const again = await campaign(ownerToken, { idempotencyKey: key, fundingAccountId: funding, percentOffBps: 100 });
    expect(first.data!.createCampaign).toMatchObject({
      __typename: 'Campaign',
      status: 'ACTIVE',
      percentOffBps: 100,
      amountOff: null,
    });
    expect(again.data!.createCampaign.id).toBe(first.data!.createCampaign.id);
    const reused = await campaign(ownerToken, { idempotencyKey: key, fundingAccountId: funding, percentOffBps: 200 });
    expect(reused.data!.createCampaign.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const id = first.data!.createCampaign.id as string;
    expect((await gql(stack.gatewayUrl, campaignDoc, { id }, ownerToken)).data!.campaign.id).toBe(id);
    const peek = await gql(stack.gatewayUrl, campaignDoc, { id }, strangerToken);
    expect(peek.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(peek.data?.campaign ?? null).toBeNull();
    // A payer needs no permission of the funding owner's to use it: paying is enough.
    const buyer = unique('legs-buyer');
    const buyerAccount = await kit.open(buyer);
    await kit.fund(buyerAccount, '1000');
    await kit.fund(funding, '100');
    const used = await pay(await token(buyer, 'customer'), {
      payer: buyerAccount,
      payee: funding,
      amount: '1000',
      campaignId: id,
    });
    expect(used.data!.createPayment).toMatchObject({ status: 'SUCCEEDED', discountAmount: '10' });
  });

  it('lets one account fund at most campaignsPerFundingAccountMax campaigns, ended ones counted, when creations race at the bound', async () => {
    const funding = await kit.open(unique('legs-many-campaigns'));
    // An ended campaign still counts: rows are kept.
    const endsAt = new Date(clock.now().getTime() + 60_000).toISOString();
    const ending = await newCampaign(funding, { percentOffBps: 100, endsAt });
    for (let made = 1; made < campaignsPerFundingAccountMax - 1; made += 25) {
      const batch = Math.min(25, campaignsPerFundingAccountMax - 1 - made);
      await Promise.all(Array.from({ length: batch }, () => newCampaign(funding, { percentOffBps: 100 })));
    }
    clock.advanceTo(new Date(clock.now().getTime() + 120_000));
    const ended = await gql(stack.gatewayUrl, campaignDoc, { id: ending }, kit.operator);
    expect(ended.data!.campaign.status).toBe('ENDED');
    // Four at once for the last place: one is made, whichever; the others are refused, nothing written for them.
    const keys = Array.from({ length: 4 }, () => unique('cmp-last'));
    const racing = await Promise.all(
      keys.map((idempotencyKey) =>
        campaign(kit.operator, { idempotencyKey, fundingAccountId: funding, percentOffBps: 100 }),
      ),
    );
    const answers = racing.map((r) => r.data!.createCampaign as { __typename: string; id?: string });
    const made = answers.findIndex((a) => a.__typename === 'Campaign');
    expect(answers.filter((a) => a.__typename === 'Campaign')).toHaveLength(1);
    for (const refusal of answers.filter((a) => a.__typename !== 'Campaign'))
      expect(refusal).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        message: `an account may fund at most ${campaignsPerFundingAccountMax} campaigns (ended ones count)`,
      });
    // A replay of the one made is answered with it at the bound, not refused.
    const replay = await campaign(kit.operator, {
      idempotencyKey: keys[made],
      fundingAccountId: funding,
      percentOffBps: 100,
    });
    expect(replay.data!.createCampaign).toMatchObject({ __typename: 'Campaign', id: answers[made]!.id });
    const rows = await stack.shards
      .of('account', funding)
      .db.select({ id: campaigns.id })
      .from(campaigns)
      .where(eq(campaigns.fundingAccountId, funding));
    expect(rows).toHaveLength(campaignsPerFundingAccountMax);
  });

  it('gives exactly as many discounts as its funding account can pay when 24 payments race for 10', async () => {
    const funding = await kit.open(unique('legs-race-fund'));
    await kit.fund(funding, '1000');
    const campaignId = await newCampaign(funding, { amountOff: '100' });
    const payee = await kit.open(unique('legs-race-payee'));
    const payers = await Promise.all(Array.from({ length: 24 }, () => kit.open(unique('legs-race'))));
    await Promise.all(payers.map((p) => kit.fund(p, '1000')));
    const answers = await Promise.all(
      payers.map((p) => pay(kit.operator, { payer: p, payee, amount: '1000', campaignId })),
    );
    const outcomes = answers.map((a) => a.data!.createPayment);
    const discounted = outcomes.filter((o) => o.__typename === 'Payment' && o.status === 'SUCCEEDED');
    expect(discounted.length).toBe(10);
    expect(discounted.every((o) => o.discountAmount === '100')).toBe(true);
    expect(outcomes.filter((o) => o.code === 'CAMPAIGN_EXHAUSTED').length).toBe(14);
    expect(await totals([funding, payee])).toEqual([0n, 10_000n]);
    const charged = await totals(payers);
    expect(charged.filter((t) => t === 100n).length).toBe(10);
    expect(charged.filter((t) => t === 1000n).length).toBe(14);
    const c = await gql(stack.gatewayUrl, campaignDoc, { id: campaignId }, kit.operator);
    expect(c.data!.campaign).toMatchObject({ spentAmount: '1000', paymentsCount: 10 });
    const rows = await stack.shards.all[physicalOf(stack.shards, funding)]!.db.select()
      .from(campaigns)
      .where(inArray(campaigns.id, [campaignId]));
    expect(rows[0]!.paymentsCount).toBe(10);
    await expectHealthy();
  });
});

describe('npm run verify over legs and campaigns', () => {
  it("finds nothing after the payments above, and finds a leg changed behind the ledger's back", async () => {
    expect(await legFindings(stack.shards)).toEqual([]);
    const [payer, payee, split] = await spread('legs-verify', 3);
    await kit.fund(payer!, '100');
    const payment = (
      await pay(kit.operator, {
        payer: payer!,
        payee: payee!,
        amount: '100',
        splits: [{ accountId: split!, amount: '10' }],
      })
    ).data!.createPayment;
    const home = stack.shards.of('account', payer!);
    const where = and(eq(paymentLegs.paymentId, payment.id), eq(paymentLegs.legIndex, 2));
    await home.db.update(paymentLegs).set({ amount: 11n }).where(where);
    expect(await legFindings(stack.shards)).toMatchObject([{ kind: 'LEG_SUMS_MISMATCH', paymentId: payment.id }]);
    await home.db.update(paymentLegs).set({ amount: 10n }).where(where);
    expect(await legFindings(stack.shards)).toEqual([]);
  });
});
