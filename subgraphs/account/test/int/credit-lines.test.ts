import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { accounts } from '@paygraph/shared/ledger/store/schema';
import { balanceMismatches } from '@paygraph/shared/ledger/store/health';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { systemAccountId } from '@paygraph/shared/ledger/index';
import { accountSealIntact } from '@paygraph/shared/ledger/rules/tamper';
import { creditExposureMinorUnits } from '@paygraph/shared/metrics';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { accountRowOf, detailDocs, physicalOf, useMoneyStack, type MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';

/**
 * Credit lines (issue 33, item 4) through the gateway on the default stack: an operator sets a
 * limit, available goes below zero down to minus it and not one unit further, money arriving
 * repays first, and the exposure adds up. Every refusal is checked to write nothing (the account
 * row, seal and version included). Exposure is asserted as a change made by this file's own
 * accounts, never as an absolute figure: other files' accounts share the databases.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const docs = {
  setLimit: contractOperation('SetCreditLimit'),
  credit: contractOperation('GetAccountCredit'),
  exposure: contractOperation('CreditExposure'),
  setLimitDetail: `mutation SetCreditLimitDetail($input: SetCreditLimitInput!) {
    setCreditLimit(input: $input) { __typename ... on Account { id balance { available creditLimit creditUsed } }
      ... on UserError { code message } ... on InvalidInput { field } ... on AccountNotFound { accountId } } }`,
};

async function setLimit(accountId: string, limit: string, bearer = kit.operator) {
  return gql(stack.gatewayUrl, docs.setLimitDetail, { input: { accountId, limit } }, bearer);
}

async function limited(accountId: string, limit: string): Promise<void> {
  const answer = await setLimit(accountId, limit);
  expect(answer.errors).toBeUndefined();
  expect(answer.data?.setCreditLimit).toMatchObject({
    __typename: 'Account',
    id: accountId,
    balance: { creditLimit: limit },
  });
}

async function credit(accountId: string): Promise<{ available: string; creditLimit: string; creditUsed: string }> {
  const answer = await gql(stack.gatewayUrl, docs.credit, { id: accountId }, kit.operator);
  expect(answer.errors).toBeUndefined();
  return answer.data!.account.balance;
}

async function exposureUsd(): Promise<{ used: bigint; limit: bigint; accounts: number }> {
  const answer = await gql(stack.gatewayUrl, docs.exposure, {}, kit.operator);
  expect(answer.errors).toBeUndefined();
  const line = (
    answer.data!.creditExposure as Array<{ currency: string; used: string; limit: string; accounts: number }>
  ).find((l) => l.currency === 'USD');
  return line
    ? { used: BigInt(line.used), limit: BigInt(line.limit), accounts: line.accounts }
    : { used: 0n, limit: 0n, accounts: 0 };
}

/** A customer with an account of its own (its token, its account id). */
async function customer(options: { physical?: number } = {}): Promise<{ bearer: string; id: string; owner: string }> {
  const owner = unique('credit');
  return { bearer: await token(owner, 'customer'), id: await kit.open(owner, options), owner };
}

describe('credit lines', () => {
  it('spends down to minus the limit and refuses one unit more, writing nothing; money arriving repays first', async () => {
    const before = await exposureUsd();
    const a = await customer();
    const b = await customer();
    await kit.fund(a.id, '100');
    await limited(a.id, '500');
    expect(await credit(a.id)).toMatchObject({ available: '100', creditLimit: '500', creditUsed: '0' });
    await kit.paid(a.bearer, { payer: a.id, payee: b.id, amount: '600' });
    expect(await credit(a.id)).toMatchObject({ available: '-500', creditUsed: '500' });
    const snapshot = await kit.snapshot([a.id, b.id]);
    const beyond = await kit.pay(a.bearer, { payer: a.id, payee: b.id, amount: '1' }, detailDocs.createPayment);
    expect(beyond.data?.createPayment).toMatchObject({
      __typename: 'InsufficientFunds',
      code: 'INSUFFICIENT_FUNDS',
      accountId: a.id,
      available: '-500',
    });
    expect(await kit.snapshot([a.id, b.id])).toEqual(snapshot);
    // A withdrawal beyond the line is refused the same way.
    const withdrawn = await kit.withdraw(a.bearer, a.id, '1');
    expect(withdrawn.data?.withdraw).toMatchObject({ __typename: 'InsufficientFunds' });
    expect((await exposureUsd()).used - before.used).toBe(500n);
    await kit.fund(a.id, '200');
    expect(await credit(a.id)).toMatchObject({ available: '-300', creditUsed: '300' });
    expect((await exposureUsd()).used - before.used).toBe(300n);
  });

  it('refuses a customer, a merchant and a partner (FORBIDDEN) and every bad input with a typed error, writing nothing', async () => {
    const a = await customer();
    const merchantOwner = unique('credit-m');
    const merchant = await kit.open(merchantOwner, { type: 'MERCHANT' });
    const before = await accountRowOf(stack.shards, a.id);
    for (const [sub, role, id] of [
      [a.owner, 'customer', a.id],
      [merchantOwner, 'merchant', merchant],
      [unique('p'), 'partner', a.id],
    ] as const) {
      const answer = await setLimit(id, '100', await token(sub, role));
      expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    }
    const forbiddenRead = await gql(stack.gatewayUrl, docs.exposure, {}, a.bearer);
    expect(forbiddenRead.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const system = await systemAccountId(stack.shards, stack.shards.all[0]!, 'RESERVE', 'USD');
    const systemBefore = await accountRowOf(stack.shards, system);
    const cases: Array<[string, string, Record<string, unknown>]> = [
      [a.id, '-1', { code: 'INVALID_INPUT', field: 'limit' }],
      [a.id, '1000000000000001', { code: 'INVALID_INPUT', field: 'limit' }],
      ['payment_not-an-account', '100', { code: 'INVALID_INPUT', field: 'accountId' }],
      [system, '100', { code: 'INVALID_INPUT', field: 'accountId' }],
      [newId('account', toLogicalShard(3)), '100', { code: 'ACCOUNT_NOT_FOUND' }],
    ];
    for (const [accountId, limit, expected] of cases) {
      const answer = await setLimit(accountId, limit);
      expect(answer.errors, `${accountId} ${limit}`).toBeUndefined();
      expect(answer.data?.setCreditLimit, `${accountId} ${limit}`).toMatchObject(expected);
    }
    // Not an integer a balance can hold: the Amount scalar refuses the request whole.
    for (const limit of ['12.5', '99999999999999999999']) {
      expect((await setLimit(a.id, limit)).errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await accountRowOf(stack.shards, a.id)).toEqual(before);
    expect(await accountRowOf(stack.shards, system)).toEqual(systemBefore);
    // A closed account stays closed: no line for it.
    const closed = await customer();
    const closing = await gql(
      stack.gatewayUrl,
      'mutation C($id: ID!) { closeAccount(id: $id) { __typename } }',
      { id: closed.id },
      kit.operator,
    );
    expect(closing.data?.closeAccount.__typename).toBe('Account');
    const closedBefore = await accountRowOf(stack.shards, closed.id);
    expect((await setLimit(closed.id, '100')).data?.setCreditLimit).toMatchObject({ code: 'ACCOUNT_NOT_ACTIVE' });
    expect(await accountRowOf(stack.shards, closed.id)).toEqual(closedBefore);
  });

  it('lets no one pay themselves into more credit than the limit: two own accounts, a self-payment, a lowered limit', async () => {
    const owner = unique('credit-self');
    const bearer = await token(owner, 'customer');
    const [a, b] = [await kit.open(owner), await kit.open(owner)];
    await limited(a, '100');
    const self = await kit.pay(bearer, { payer: a, payee: a, amount: '50' }, detailDocs.createPayment);
    expect(self.data?.createPayment.__typename).toBe('AccountsMustBeDifferent');
    await kit.paid(bearer, { payer: a, payee: b, amount: '100' });
    // Paying it back and borrowing again never goes past the line.
    await kit.paid(bearer, { payer: b, payee: a, amount: '100' });
    await kit.paid(bearer, { payer: a, payee: b, amount: '100' });
    expect(
      (await kit.pay(bearer, { payer: a, payee: b, amount: '1' }, detailDocs.createPayment)).data?.createPayment.code,
    ).toBe('INSUFFICIENT_FUNDS');
    // Lowered below the debt: the debt stays, nothing more may be spent, arrivals repay it.
    await limited(a, '40');
    expect(await credit(a)).toMatchObject({ available: '-100', creditLimit: '40', creditUsed: '100' });
    expect(
      (await kit.pay(bearer, { payer: a, payee: b, amount: '1' }, detailDocs.createPayment)).data?.createPayment.code,
    ).toBe('INSUFFICIENT_FUNDS');
    await kit.paid(bearer, { payer: b, payee: a, amount: '30' });
    expect(await credit(a)).toMatchObject({ available: '-70', creditUsed: '70' });
    expect(
      (await kit.pay(bearer, { payer: a, payee: b, amount: '1' }, detailDocs.createPayment)).data?.createPayment.code,
    ).toBe('INSUFFICIENT_FUNDS');
    await kit.paid(bearer, { payer: b, payee: a, amount: '70' });
    await kit.paid(bearer, { payer: a, payee: b, amount: '40' });
    expect(await credit(a)).toMatchObject({ available: '-40', creditUsed: '40' });
  });

  it('lets a payer below a lowered limit pay nothing with a campaign that covers the whole amount, and not one unit more', async () => {
    // Payer and funding account on one database: a refusal is then one local posting's, writing nothing.
    const a = await customer({ physical: 0 });
    const b = await customer();
    const shop = await customer();
    await limited(a.id, '100');
    await kit.paid(a.bearer, { payer: a.id, payee: b.id, amount: '100' });
    await limited(a.id, '40');
    expect(await credit(a.id)).toMatchObject({ available: '-100', creditLimit: '40', creditUsed: '100' });
    const funder = await kit.open(unique('credit-funder'), { physical: 0 });
    await kit.fund(funder, '1000');
    const created = await gql(
      stack.gatewayUrl,
      contractOperation('CreateCampaign'),
      {
        input: {
          idempotencyKey: unique('cmp'),
          fundingAccountId: funder,
          amountOff: '250',
          payeeAccountIds: [shop.id],
        },
      },
      kit.operator,
    );
    expect(created.data?.createCampaign.__typename).toBe('Campaign');
    const campaignId = created.data!.createCampaign.id as string;
    const pay = (amount: string) =>
      gql(
        stack.gatewayUrl,
        contractOperation('CreateMarketplacePayment'),
        {
          input: {
            idempotencyKey: unique('cmp-pay'),
            payerAccountId: a.id,
            payeeAccountId: shop.id,
            amount,
            currency: 'USD',
            campaignId,
          },
        },
        a.bearer,
      );
    // Only a debit is held to the floor: the payer moves nothing, and owes no more after.
    expect((await pay('250')).data?.createPayment).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
      discountAmount: '250',
      legs: expect.arrayContaining([{ account: { id: a.id }, role: 'PAYER', amount: '0' }]),
    });
    expect(await credit(a.id)).toMatchObject({ available: '-100', creditUsed: '100' });
    const before = await kit.snapshot([a.id, funder, shop.id]);
    expect((await pay('251')).data?.createPayment).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await kit.snapshot([a.id, funder, shop.id])).toEqual(before);
    expect((await kit.balance(shop.id)).available).toBe('250');
    expect((await kit.balance(funder)).available).toBe('750');
  });

  it('never exceeds the limit when 24 payments race against it', async () => {
    const a = await customer();
    const b = await customer();
    await limited(a.id, '1000');
    const answers = await Promise.all(
      Array.from({ length: 24 }, () =>
        kit.pay(a.bearer, { payer: a.id, payee: b.id, amount: '100' }, detailDocs.createPayment),
      ),
    );
    const kinds = answers.map((r) => r.data?.createPayment.__typename);
    expect(kinds.filter((k) => k === 'Payment')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'InsufficientFunds')).toHaveLength(14);
    expect(await credit(a.id)).toMatchObject({ available: '-1000', creditUsed: '1000' });
    expect((await kit.balance(b.id)).available).toBe('1000');
  });

  it("takes a refund give-back from the payee's credit line, and refuses one beyond it writing nothing", async () => {
    // On one database, so the refund is one local posting and its refusal a typed error.
    const payer = await customer({ physical: 0 });
    const payee = await customer({ physical: 0 });
    const elsewhere = await customer();
    await kit.fund(payer.id, '300');
    const paymentId = await kit.paid(payer.bearer, { payer: payer.id, payee: payee.id, amount: '300' });
    await kit.paid(payee.bearer, { payer: payee.id, payee: elsewhere.id, amount: '300' });
    await limited(payee.id, '100');
    const refunded = await kit.refund(kit.operator, paymentId, '100', { doc: detailDocs.refundPayment });
    expect(refunded.data?.refundPayment).toMatchObject({ __typename: 'Refund', refundStatus: 'SUCCEEDED' });
    expect(await credit(payee.id)).toMatchObject({ available: '-100', creditUsed: '100' });
    const snapshot = await kit.snapshot([payer.id, payee.id]);
    const beyond = await kit.refund(kit.operator, paymentId, '1', { doc: detailDocs.refundPayment });
    expect(beyond.data?.refundPayment).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await kit.snapshot([payer.id, payee.id])).toEqual(snapshot);
    const payment = await gql(stack.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator);
    expect(payment.data?.payment).toMatchObject({ refundedAmount: '100' });
  });

  it('uses and repays a credit line across shards, and the exposure, its metric and every stored balance agree', async () => {
    const before = await exposureUsd();
    const a = await customer({ physical: 0 });
    const b = await customer({ physical: 1 });
    expect(physicalOf(stack.shards, a.id)).not.toBe(physicalOf(stack.shards, b.id));
    await limited(a.id, '700');
    await kit.paid(a.bearer, { payer: a.id, payee: b.id, amount: '650' });
    expect(await credit(a.id)).toMatchObject({ available: '-650', creditUsed: '650' });
    expect(
      (await kit.pay(a.bearer, { payer: a.id, payee: b.id, amount: '51' }, detailDocs.createPayment)).data
        ?.createPayment.code,
    ).toBe('INSUFFICIENT_FUNDS');
    const during = await exposureUsd();
    expect(during.used - before.used).toBe(650n);
    expect(during.limit - before.limit).toBe(700n);
    expect(during.accounts - before.accounts).toBe(1);
    // The metric, per home shard, adds up to what the query answered.
    const series = (await creditExposureMinorUnits.get()).values.filter((v) => v.labels.currency === 'USD');
    expect(BigInt(series.reduce((sum, v) => sum + v.value, 0))).toBe(during.used);
    await kit.paid(b.bearer, { payer: b.id, payee: a.id, amount: '650' });
    expect(await credit(a.id)).toMatchObject({ available: '0', creditUsed: '0' });
    // Each scrape reads the ledger: repaid, the metric is back where it was, with no query read between.
    const repaid = (await creditExposureMinorUnits.get()).values.filter((v) => v.labels.currency === 'USD');
    expect(BigInt(repaid.reduce((sum, v) => sum + v.value, 0))).toBe(before.used);
    const after = await exposureUsd();
    expect([after.used - before.used, after.accounts - before.accounts]).toEqual([0n, 0]);
    for (const id of [a.id, b.id]) {
      expect((await balanceMismatches(stack.shards.of('account', id).db)).filter((m) => m.accountId === id)).toEqual(
        [],
      );
    }
  });

  it("seals the limit: a limit written by direct SQL fails the row's MAC, and the real one passes it again", async () => {
    const a = await customer();
    await limited(a.id, '100');
    const db = stack.shards.of('account', a.id).db;
    const intact = async () => {
      const [row] = await db.select().from(accounts).where(eq(accounts.id, a.id));
      return accountSealIntact(row!, row!);
    };
    expect(await intact()).toBe(true);
    await db.update(accounts).set({ creditLimit: 1_000_000_000n }).where(eq(accounts.id, a.id));
    expect(await intact()).toBe(false);
    await db.update(accounts).set({ creditLimit: null }).where(eq(accounts.id, a.id));
    expect(await intact()).toBe(false);
    await db.update(accounts).set({ creditLimit: 100n }).where(eq(accounts.id, a.id));
    expect(await intact()).toBe(true);
  });
});
