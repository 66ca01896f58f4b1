import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { inArray, sql } from 'drizzle-orm';
import { storeAsset } from '@paygraph/shared/ledger/index';
import { assetExponentMax, assetsMax } from '@paygraph/shared/limits';
import { isKnownAsset } from '@paygraph/shared/money';
import { assets } from '@paygraph/shared/ledger/store/schema';
import { insertAssetIfMissing } from '@paygraph/shared/ledger/store/assets';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * Platform assets through the gateway (issue 48 items 4 and 7): operators define an asset; PERSONAL
 * accounts open in it; rates and quotes are set and priced as between currencies; an FX payment
 * between one owner's accounts converts both ways, exact and rounded for the platform, both legs
 * or neither; every shard nets to zero per currency and per asset. And what a hostile customer
 * tries: defining an asset, paying itself, a payment with no quote between a currency and an asset
 * (a default 1:1 it must not get), deposits and withdrawals in an asset.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const docs = {
  define: contractOperation('DefineAsset'),
  defineDetail: `mutation($input: DefineAssetInput!) { defineAsset(input: $input) { __typename
    ... on Asset { code exponent name } ... on UserError { code message } ... on InvalidInput { field } } }`,
  open: `mutation($input: OpenAccountInput!) { openAccount(input: $input) { __typename
    ... on Account { id currency type } ... on UserError { code message } ... on InvalidInput { field } } }`,
  setRate: contractOperation('SetFxRate'),
  quote: contractOperation('CreateFxQuote'),
  health: contractOperation('LedgerHealth'),
  positions: 'query { fxPositions { currency amount } }',
  pay: `mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename
    ... on Payment { id status amount currency }
    ... on UserError { code message } ... on InvalidInput { field } ... on FxQuoteMismatch { field } } }`,
};

/** An asset code no other test file or run uses: a prefix and random capitals, 4-8 letters, so never ISO 4217. */
function assetCode(prefix: string): string {
  const letters = [...randomBytes(8)].map((b) => String.fromCharCode(65 + (b % 26))).join('');
  return (prefix + letters).slice(0, 8);
}

const q = (doc: string, variables: Record<string, unknown>, as = kit.operator) =>
  gql(stack.gatewayUrl, doc, variables, as);

async function define(code: string, exponent: number, name = `${code} points`, as = kit.operator) {
  const answer = await q(docs.defineDetail, { input: { code, exponent, name } }, as);
  return answer;
}

/** The control shard's asset rows among `codes`. */
async function assetRows(codes: string[]): Promise<Array<{ code: string; exponent: number }>> {
  return stack.shards.all[0]!.db.select({ code: assets.code, exponent: assets.exponent })
    .from(assets)
    .where(inArray(assets.code, codes));
}

async function available(id: string): Promise<bigint> {
  return BigInt((await kit.balance(id)).available);
}

async function quote(as: string, sellCurrency: string, buyCurrency: string, amounts: Record<string, string>) {
  const answer = await q(docs.quote, { input: { sellCurrency, buyCurrency, ...amounts } }, as);
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data!.createFxQuote;
}

async function fxPay(as: string, payer: string, payee: string, amount: string, currency: string, fxQuoteId?: string) {
  const input = { idempotencyKey: unique('apay'), payerAccountId: payer, payeeAccountId: payee, amount, currency };
  const answer = await q(docs.pay, { input: fxQuoteId ? { ...input, fxQuoteId } : input }, as);
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data!.createPayment;
}

/** ledgerHealth balanced, every shard's row for every currency and asset balanced; answers the rows' currencies. */
async function expectNetsToZero(): Promise<Set<string>> {
  const health = (await q(docs.health, {})).data!.ledgerHealth;
  expect(health.balanced).toBe(true);
  const rows = health.shards as Array<{ currency: string; debits: string; credits: string; balanced: boolean }>;
  for (const row of rows) {
    expect(row.balanced, JSON.stringify(row)).toBe(true);
    expect(row.debits, JSON.stringify(row)).toBe(row.credits);
  }
  return new Set(rows.map((r) => r.currency));
}

describe('defining an asset', () => {
  it('answers the asset, the same again as stored, and refuses another exponent naming it; nothing else is written', async () => {
    const code = assetCode('PT');
    const made = await define(code, 2, 'Loyalty points');
    expect(made.data!.defineAsset).toEqual({ __typename: 'Asset', code, exponent: 2, name: 'Loyalty points' });
    // The contract's own document answers it too.
    const again = await q(docs.define, { input: { code, exponent: 2, name: 'Another name' } });
    expect(again.data!.defineAsset).toEqual({ __typename: 'Asset', code, exponent: 2, name: 'Loyalty points' });
    const other = await define(code, 3);
    expect(other.data!.defineAsset).toMatchObject({
      __typename: 'InvalidInput',
      code: 'INVALID_INPUT',
      field: 'exponent',
    });
    expect(await assetRows([code])).toEqual([{ code, exponent: 2 }]);
  });

  it('refuses an ISO code, a malformed code, an exponent out of range and an empty name, naming the field; writes nothing', async () => {
    const fresh = assetCode('BD');
    const cases: Array<[string, number, string, string]> = [
      ['USD', 2, 'n', 'code'],
      ['XAU', 0, 'n', 'code'], // on ISO's list, though no account holds gold
      ['XTS', 0, 'n', 'code'],
      ['pts', 0, 'n', 'code'],
      ['P1NTS', 0, 'n', 'code'],
      ['AB', 0, 'n', 'code'],
      ['ABCDEFGHI', 0, 'n', 'code'],
      [fresh, -1, 'n', 'exponent'],
      [fresh, assetExponentMax + 1, 'n', 'exponent'],
      [fresh, 0, '   ', 'name'],
      [fresh, 0, 'x'.repeat(201), 'name'],
    ];
    for (const [code, exponent, name, field] of cases) {
      const answer = await define(code, exponent, name);
      expect(answer.errors, code).toBeUndefined();
      expect(answer.data!.defineAsset, `${code} ${exponent}`).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        field,
      });
    }
    expect(await assetRows([...new Set(cases.map((c) => c[0]))])).toEqual([]);
  });

  it('is FORBIDDEN to a customer, a merchant, a partner and a channel; nothing is written', async () => {
    const code = assetCode('FB');
    for (const role of ['customer', 'merchant', 'partner', 'channel'] as const) {
      const answer = await define(code, 0, 'mine', await token(unique(`assets-${role}`), role));
      expect(errorCodes(answer), role).toEqual(['FORBIDDEN']);
    }
    expect(await assetRows([code])).toEqual([]);
    expect(isKnownAsset(code)).toBe(false);
  });

  it('bounds the assets per platform: a new code past the limit is refused, one already defined still answers', async () => {
    const shard = stack.shards.all[0]!;
    const [row] = (await shard.db.execute(sql`SELECT COUNT(*) AS n FROM assets`)) as unknown as [Array<{ n: number }>];
    const defined = Number(row[0]!.n);
    expect(assetsMax).toBeGreaterThan(defined);
    const [first, second] = [assetCode('LA'), assetCode('LB')];
    const asset = (code: string) => ({ code, exponent: 0, name: code, createdBy: 'test' });
    // A limit of one more than there are: the first new code fits, the second is full and writes nothing.
    expect(await insertAssetIfMissing(shard, asset(first), defined + 1, new Date())).toMatchObject({ kind: 'stored' });
    expect(await insertAssetIfMissing(shard, asset(second), defined + 1, new Date())).toEqual({
      kind: 'full',
      assetsMax: defined + 1,
    });
    expect(await insertAssetIfMissing(shard, asset(first), defined + 1, new Date())).toMatchObject({ kind: 'stored' });
    expect(await assetRows([first, second])).toEqual([{ code: first, exponent: 0 }]);
  });

  it('is seen by a process that did not define it, without a restart: its first miss reads the registry', async () => {
    // Another process defines it: its row is written, this process has not heard of it.
    const code = assetCode('RM');
    await stack.shards.all[0]!.db.insert(assets).values({ code, exponent: 6, name: 'elsewhere', createdBy: 'other' });
    expect(isKnownAsset(code)).toBe(false);
    const opened = await q(docs.open, {
      input: { ownerId: unique('assets-remote'), type: 'PERSONAL', currency: code },
    });
    expect(opened.data!.openAccount).toMatchObject({ __typename: 'Account', currency: code });
    expect(isKnownAsset(code)).toBe(true);
    // Its exponent is the registry's: 1 USD at 2 units a dollar is 2.000000 of it, six digits.
    expect((await q(docs.setRate, { input: { baseCurrency: 'USD', quoteCurrency: code, rate: '2' } })).errors).toBe(
      undefined,
    );
    expect(await quote(kit.operator, 'USD', code, { sellAmount: '100' })).toMatchObject({ buyAmount: '2000000' });
  });
});

describe('accounts, rates and FX payments in an asset', () => {
  let code: string;
  beforeAll(async () => {
    code = assetCode('GM');
    expect((await define(code, 3, 'Gems')).data!.defineAsset).toMatchObject({ code, exponent: 3 });
    // 1 USD = 3.3333 gems, a 50 bps spread: neither direction is exact.
    const rate = await q(docs.setRate, {
      input: { baseCurrency: 'USD', quoteCurrency: code, rate: '3.3333', spreadBps: 50 },
    });
    expect(rate.data!.setFxRate).toMatchObject({ __typename: 'FxRate', rate: '3.3333', spreadBps: 50 });
  });

  /** An owner with a funded USD account and an account in the asset, on whichever shards they land. */
  async function owner(fund = '100000') {
    const ownerId = unique('assets-owner');
    const bearer = await token(ownerId, 'customer');
    const usd = await kit.open(ownerId, { currency: 'USD' });
    await kit.fund(usd, fund, 'USD');
    const gems = await kit.open(ownerId, { currency: code });
    return { ownerId, bearer, usd, gems };
  }

  it('opens only PERSONAL accounts in it; an unknown asset-shaped code is UnsupportedCurrency', async () => {
    const ownerId = unique('assets-open');
    const merchant = await q(docs.open, { input: { ownerId, type: 'MERCHANT', currency: code } });
    expect(merchant.data!.openAccount).toMatchObject({ __typename: 'InvalidInput', field: 'type' });
    const unknown = await q(docs.open, { input: { ownerId, type: 'PERSONAL', currency: assetCode('NO') } });
    expect(unknown.data!.openAccount).toMatchObject({ __typename: 'UnsupportedCurrency' });
  });

  it('converts both ways between one owner’s accounts, exact and rounded down for the owner; every shard nets to zero', async () => {
    const { bearer, usd, gems } = await owner();
    // USD → gems: 10.01 USD buys floor(1001 × 33333 × 10^3 × 9950 / (10^4 × 10^2 × 10^4)) = 33198 (33.198 gems).
    const sellCents = 1001n;
    const forward = (sellCents * 33333n * 1000n * 9950n) / (10000n * 100n * 10000n);
    const q1 = await quote(bearer, 'USD', code, { sellAmount: sellCents.toString() });
    expect(q1).toMatchObject({ __typename: 'FxQuote', sellAmount: '1001', buyAmount: forward.toString() });
    expect(await fxPay(bearer, usd, gems, '1001', 'USD', q1.id)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await available(usd)).toBe(100000n - 1001n);
    expect(await available(gems)).toBe(forward);
    // Back: all the gems for floor(33198 × 10^4 × 10^2 × 9950 / (33333 × 10^3 × 10^4)) cents, less than was paid.
    const back = (forward * 10000n * 100n * 9950n) / (33333n * 1000n * 10000n);
    const q2 = await quote(bearer, code, 'USD', { sellAmount: forward.toString() });
    expect(q2).toMatchObject({ sellAmount: forward.toString(), buyAmount: back.toString() });
    expect(await fxPay(bearer, gems, usd, forward.toString(), code, q2.id)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await available(gems)).toBe(0n);
    expect(await available(usd)).toBe(100000n - 1001n + back);
    expect(back).toBeLessThan(sellCents);
    // Given what is bought, what is sold rounds up: 1 gem-thousandth costs a whole cent.
    expect(await quote(bearer, 'USD', code, { buyAmount: '1' })).toMatchObject({ sellAmount: '1', buyAmount: '1' });
    const currencies = await expectNetsToZero();
    expect(currencies.has(code)).toBe(true);
    // The platform's FX position in the asset is what it issued and took back: minus what customers hold.
    const positions = (await q(docs.positions, {})).data!.fxPositions as Array<{ currency: string; amount: string }>;
    expect(positions.find((p) => p.currency === code)).toBeDefined();
  });

  it('moves both legs or neither: a payment its payer cannot cover moves nothing in either account', async () => {
    const { bearer, usd, gems } = await owner('500');
    const big = await quote(bearer, 'USD', code, { sellAmount: '501' });
    const refused = await fxPay(bearer, usd, gems, '501', 'USD', big.id);
    expect(refused).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect([await available(usd), await available(gems)]).toEqual([500n, 0n]);
    await expectNetsToZero();
  });

  it('refuses the hostile shapes: paying itself, no quote between a currency and an asset, another’s quote, money in and out in an asset', async () => {
    const { bearer, usd, gems } = await owner();
    const good = await quote(bearer, 'USD', code, { sellAmount: '1000' });
    expect(await fxPay(bearer, usd, gems, '1000', 'USD', good.id)).toMatchObject({ status: 'SUCCEEDED' });
    const held = await available(gems);
    const before = await kit.snapshot([usd, gems]);
    // Paying itself, account to the same account, in the asset.
    expect(await fxPay(bearer, gems, gems, '1', code)).toMatchObject({ code: 'SAME_ACCOUNT' });
    // No quote: no default rate of 1:1 between dollars and gems, whichever currency the payment names.
    expect(await fxPay(bearer, usd, gems, '100', 'USD')).toMatchObject({ code: 'CURRENCY_MISMATCH' });
    expect(await fxPay(bearer, usd, gems, '100', code)).toMatchObject({ code: 'CURRENCY_MISMATCH' });
    expect(await fxPay(bearer, gems, usd, '100', code)).toMatchObject({ code: 'CURRENCY_MISMATCH' });
    // A code shaped like an asset but defined nowhere.
    expect(await fxPay(bearer, gems, usd, '1', assetCode('ZZ'))).toMatchObject({ code: 'CURRENCY_MISMATCH' });
    // Another customer's quote, and a quote paid a second time.
    const stranger = await token(unique('assets-stranger'), 'customer');
    const theirs = await quote(stranger, 'USD', code, { sellAmount: '100' });
    // Another's quote is no quote of the payer's (INVALID_INPUT: whether it exists is not told).
    expect(await fxPay(bearer, usd, gems, '100', 'USD', theirs.id)).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await fxPay(bearer, usd, gems, '1000', 'USD', good.id)).toMatchObject({ code: 'FX_QUOTE_USED' });
    // Deposits and withdrawals are ISO 4217 only: no channel holds gems.
    const deposited = await kit.deposit(gems, '1000', { currency: code });
    expect(deposited.data!.deposit).toMatchObject({ code: 'INVALID_INPUT' });
    const withdrawn = await kit.withdraw(bearer, gems, '1', { currency: code });
    expect(withdrawn.data!.withdraw).toMatchObject({ code: 'INVALID_INPUT' });
    const asDollars = await kit.deposit(gems, '1000', { currency: 'USD' });
    expect(asDollars.data!.deposit).toMatchObject({ code: 'CURRENCY_MISMATCH' });
    expect(await kit.snapshot([usd, gems])).toEqual(before);
    expect(await available(gems)).toBe(held);
    await expectNetsToZero();
  });

  it('records the asset where a payment is kept: the payment and its legs name the full code', async () => {
    const { bearer, usd, gems } = await owner();
    const made = await quote(bearer, 'USD', code, { sellAmount: '250' });
    const paid = await fxPay(bearer, usd, gems, '250', 'USD', made.id);
    expect(paid).toMatchObject({ status: 'SUCCEEDED', currency: 'USD' });
    const legs = await q(
      'query($id: ID!) { payment(id: $id) { legs { role currency amount } } }',
      { id: paid.id },
      bearer,
    );
    expect(legs.data!.payment.legs).toEqual([
      { role: 'PAYER', currency: 'USD', amount: '250' },
      { role: 'PAYEE', currency: code, amount: made.buyAmount },
    ]);
    const stored = await storeAsset(stack.shards, { code, exponent: 3, name: 'Gems', createdBy: 'x' }, new Date());
    expect(stored).toMatchObject({ kind: 'stored', asset: { code, exponent: 3 } });
    expect(await assetRows([code])).toHaveLength(1);
  });
});
