import { randomBytes } from 'node:crypto';
import { describe, it, expect, beforeAll } from 'vitest';
import { newId, type LogicalShard } from '@paygraph/shared/ids';
import { backfillOwnerDirectories, insertAccount, ownerHomeShard } from '@paygraph/shared/ledger/index';
import type { Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { freshIban, linkDocs, registeredChannel } from '../../../../test/support/links';
import { token, unique } from '../../../../test/support/env';
import { type Answer, type MoneyKit, physicalOf, useMoneyStack } from '../../../../test/support/money';

/**
 * One view of an owner's money (ownerPortfolio, issue 48 item 5) through the gateway, every shard
 * a real database: every account of the owner on the shards it lives on, and no other shard
 * asked (the owner directory); totals per currency with linked accounts' reports beside the
 * ledger's; the reporting total at current rates, each conversion rounded down, platform assets
 * at their registry exponents, unconverted what has no rate. And what a hostile customer tries:
 * another owner's portfolio.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const portfolioDoc = contractOperation('OwnerPortfolio');
let operator: string;
let channel: string;
beforeAll(async () => {
  operator = await token(unique('portfolio-operator'), 'operator');
  channel = await registeredChannel(operator, stack.gatewayUrl);
});

function portfolio(bearer: string, ownerId: string, reportingCurrency = 'PLN'): Promise<Answer> {
  return gql(stack.gatewayUrl, portfolioDoc, { ownerId, reportingCurrency }, bearer);
}

/** A verified link of the owner's in `currency`, its channel having reported `balance`. */
async function reportedLink(ownerId: string, bearer: string, currency: string, balance: string): Promise<string> {
  const input = {
    idempotencyKey: unique('k'),
    ownerId,
    kind: 'BANK_ACCOUNT',
    channel,
    identifier: freshIban(),
    currency,
  };
  const linked = await gql(stack.gatewayUrl, linkDocs.link, { input }, bearer);
  const id = linked.data!.linkExternalAccount.id as string;
  const byChannel = await token(channel, 'channel');
  await gql(stack.gatewayUrl, linkDocs.verify, { input: { externalAccountId: id, verified: true } }, byChannel);
  const report = { externalAccountId: id, balance, asOf: new Date(Date.now() - 1_000).toISOString() };
  const reported = await gql(stack.gatewayUrl, linkDocs.report, { input: report }, byChannel);
  expect(reported.data!.reportExternalBalance.reportedBalance.amount).toBe(balance);
  return id;
}

/** An asset code no other test or run uses: the prefix, then random capitals, 8 letters (never ISO 4217). */
function assetCode(prefix: string): string {
  const letters = [...randomBytes(8)].map((b) => String.fromCharCode(65 + (b % 26))).join('');
  return (prefix + letters).slice(0, 8);
}

async function defineAsset(code: string, exponent: number): Promise<void> {
  const input = { code, exponent, name: `${code} test asset` };
  const defined = await gql(stack.gatewayUrl, contractOperation('DefineAsset'), { input }, operator);
  expect(defined.data!.defineAsset).toEqual({ __typename: 'Asset', ...input });
}

async function setRate(input: { baseCurrency: string; quoteCurrency: string; rate: string }): Promise<void> {
  const set = await gql(stack.gatewayUrl, contractOperation('SetFxRate'), { input }, operator);
  expect(set.data!.setFxRate.__typename).toBe('FxRate');
}

const fxPaymentDoc = `mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename
  ... on Payment { status } ... on UserError { code message } } }`;

/** Buys `bought` (minor units) of the asset with `cents` of the owner's USD account, into a new account of the asset. */
async function buyAsset(bearer: string, owner: string, usd: string, cents: string, asset: string, bought: string) {
  const account = await kit.open(owner, { currency: asset });
  const quoteInput = { sellCurrency: 'USD', buyCurrency: asset, sellAmount: cents };
  const quoted = await gql(stack.gatewayUrl, contractOperation('CreateFxQuote'), { input: quoteInput }, bearer);
  expect(quoted.data!.createFxQuote).toMatchObject({ __typename: 'FxQuote', buyAmount: bought });
  const input = {
    idempotencyKey: unique('pf-buy'),
    payerAccountId: usd,
    payeeAccountId: account,
    amount: cents,
    currency: 'USD',
    fxQuoteId: quoted.data!.createFxQuote.id as string,
  };
  const paid = await gql(stack.gatewayUrl, fxPaymentDoc, { input }, bearer);
  expect(paid.data!.createPayment).toEqual({ __typename: 'Payment', status: 'SUCCEEDED' });
}

function databaseOf(logical: LogicalShard): number {
  return stack.shards.topology.physicalOf[logical]!;
}

describe('ownerPortfolio', () => {
  it('lists every account of the owner, asking only its home database and the ones its accounts live on', async () => {
    const owner = unique('pf-shards');
    const bearer = await token(owner, 'customer');
    const first = await kit.open(owner, { currency: 'PLN' });
    const second = await kit.open(owner, { currency: 'PLN' });
    await kit.fund(first, '700', 'PLN');
    const expected = new Set([
      databaseOf(ownerHomeShard(owner)),
      physicalOf(stack.shards, first),
      physicalOf(stack.shards, second),
    ]);
    // At most three of the databases: the others must not be asked at all.
    expect(stack.shards.all.length).toBeGreaterThan(expected.size);

    for (const shard of stack.shards.all) shard.queryCount = 0;
    const answer = await portfolio(bearer, owner);
    const counts = stack.shards.all.map((s) => s.queryCount);
    expect(answer.errors).toBeUndefined();
    console.log(`[portfolio] statements per database ${JSON.stringify(counts)}, expected ${[...expected].join(',')}`);
    stack.shards.all.forEach((shard, i) => {
      if (expected.has(shard.index)) expect(counts[i], `database ${shard.index}`).toBeGreaterThan(0);
      else expect(counts[i], `database ${shard.index}`).toBe(0);
    });
    // The home database: the directory and the links; each account's: one statement (no conversion, no rate read).
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2 + expected.size);
    expect(answer.data!.ownerPortfolio).toEqual({
      ownerId: owner,
      accounts: [first, second].sort().map((id) => ({
        id,
        type: 'PERSONAL',
        currency: 'PLN',
        balance: {
          available: id === first ? '700' : '0',
          frozen: '0',
          pending: '0',
          total: id === first ? '700' : '0',
        },
      })),
      externalAccounts: [],
      totals: [{ currency: 'PLN', ledger: '700', external: null }],
      reportingTotal: { currency: 'PLN', amount: '700', rates: [], unconverted: [] },
    });
  });

  it('totals per currency, links beside the ledger; the reporting total converts each rounded down, lists rates and what has none', async () => {
    const owner = unique('pf-totals');
    const bearer = await token(owner, 'customer');
    // Pairs no other test sets: CZK priced as set, HUF from the pair set the other way, RON with no rate.
    const rates = [
      { baseCurrency: 'CZK', quoteCurrency: 'PLN', rate: '0.1725', spreadBps: 40 },
      { baseCurrency: 'PLN', quoteCurrency: 'HUF', rate: '91.5' },
    ];
    for (const input of rates) {
      const set = await gql(stack.gatewayUrl, contractOperation('SetFxRate'), { input }, operator);
      expect(set.data!.setFxRate.__typename).toBe('FxRate');
    }
    const funded: Array<[string, string]> = [
      ['PLN', '500'],
      ['CZK', '12345'],
      ['HUF', '100000'],
      ['RON', '3000'],
    ];
    for (const [currency, amount] of funded) await kit.fund(await kit.open(owner, { currency }), amount, currency);
    await reportedLink(owner, bearer, 'PLN', '9999');
    const unlinked = await reportedLink(owner, bearer, 'PLN', '5');
    await gql(stack.gatewayUrl, linkDocs.unlink, { id: unlinked }, bearer);

    const answer = await portfolio(bearer, owner);
    expect(answer.errors).toBeUndefined();
    const view = answer.data!.ownerPortfolio;
    expect(view.accounts).toHaveLength(4);
    expect(view.externalAccounts.map((l: { status: string }) => l.status).sort()).toEqual(['UNLINKED', 'VERIFIED']);
    expect(view.totals).toEqual([
      { currency: 'CZK', ledger: '12345', external: null },
      { currency: 'HUF', ledger: '100000', external: null },
      // The reported 9999 beside the ledger's 500, never added to it; the unlinked link's report not counted.
      { currency: 'PLN', ledger: '500', external: '9999' },
      { currency: 'RON', ledger: '3000', external: null },
    ]);
    // 12345 CZK minor × 0.1725 = 2129.5125 → 2129 (no spread: indicative); 100000 HUF minor / 91.5 = 1092.89… → 1092.
    expect(view.reportingTotal).toEqual({
      currency: 'PLN',
      amount: String(500 + 2129 + 1092),
      rates: [
        { from: 'CZK', rate: '0.1725' },
        { from: 'HUF', rate: '1/91.5' },
      ],
      unconverted: [{ currency: 'RON', amount: '3000' }],
    });
  });

  it('converts platform assets at their own exponents where a rate exists; an asset with no rate stays unconverted', async () => {
    const owner = unique('pf-assets');
    const bearer = await token(owner, 'customer');
    // Fresh codes, so no other test has a rate for them: points (exponent 0) and gems (exponent 3, USD's is 2).
    const [points, gems] = [assetCode('PFA'), assetCode('PFB')];
    await defineAsset(points, 0);
    await defineAsset(gems, 3);
    await setRate({ baseCurrency: points, quoteCurrency: 'USD', rate: '0.0123' });
    await setRate({ baseCurrency: 'USD', quoteCurrency: gems, rate: '3.3333' }); // set the other way
    const usd = await kit.open(owner, { currency: 'USD' });
    await kit.fund(usd, '2001', 'USD');
    // Bought with all the dollars (assets are bought, never deposited), no spread:
    // 1000 cents / 100 / 0.0123 = 813.008… points → 813; 1001 cents / 100 × 3.3333 = 33.366333… gems → 33366 thousandths.
    await buyAsset(bearer, owner, usd, '1000', points, '813');
    await buyAsset(bearer, owner, usd, '1001', gems, '33366');

    const inUsd = (await portfolio(bearer, owner, 'USD')).data!.ownerPortfolio;
    expect(inUsd.totals).toEqual([
      { currency: points, ledger: '813', external: null },
      { currency: gems, ledger: '33366', external: null },
      { currency: 'USD', ledger: '0', external: null },
    ]);
    // 813 points × 0.0123 = 9.9999 USD → 999 cents; 33366 thousandths / 1000 / 3.3333 = 10.0099… USD → 1000 cents.
    expect(inUsd.reportingTotal).toEqual({
      currency: 'USD',
      amount: String(999 + 1000),
      rates: [
        { from: points, rate: '0.0123' },
        { from: gems, rate: '1/3.3333' },
      ],
      unconverted: [],
    });
    // No rate between either asset and EUR: both listed as held, never guessed.
    expect((await portfolio(bearer, owner, 'EUR')).data!.ownerPortfolio.reportingTotal).toEqual({
      currency: 'EUR',
      amount: '0',
      rates: [],
      unconverted: [
        { currency: points, amount: '813' },
        { currency: gems, amount: '33366' },
      ],
    });
  });

  it("refuses another owner's portfolio (FORBIDDEN) with no ownerId or balance of it; operators read any", async () => {
    const owner = unique('pf-victim');
    const account = await kit.open(owner, { currency: 'PLN' });
    await kit.fund(account, '4242', 'PLN');
    const attacker = unique('pf-attacker');
    await kit.open(attacker, { currency: 'PLN' });
    for (const bearer of [
      await token(attacker, 'customer'),
      await token(attacker, 'merchant'),
      await token(attacker, 'partner'),
      await token(channel, 'channel'),
    ]) {
      const answer = await portfolio(bearer, owner);
      expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
      expect(answer.data?.ownerPortfolio ?? null).toBeNull();
      expect(JSON.stringify(answer)).not.toContain('4242');
      expect(JSON.stringify(answer)).not.toContain(account);
    }
    // An owner with no account at all is refused the same way, so the answer tells nothing of it.
    expect(errorCodes(await portfolio(await token(attacker, 'customer'), unique('nobody')))).toEqual(['FORBIDDEN']);
    const byOperator = await portfolio(operator, owner);
    expect(byOperator.data!.ownerPortfolio.totals).toEqual([{ currency: 'PLN', ledger: '4242', external: null }]);
    const bad = await portfolio(operator, owner, 'XXX');
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
  });

  it('finds accounts opened before the owner directory once the migration data step has run', async () => {
    const owner = unique('pf-backfill');
    const logical = ((ownerHomeShard(owner) + 1) % stack.shards.topology.physicalOf.length) as LogicalShard;
    const id = newId('account', logical);
    // Opened as before the directory: the row alone.
    await insertAccount(stack.shards.byLogical(logical).db, { id, ownerId: owner, type: 'PERSONAL', currency: 'PLN' });
    const bearer = await token(owner, 'customer');
    expect((await portfolio(bearer, owner)).data!.ownerPortfolio.accounts).toEqual([]);
    await backfillOwnerDirectories(stack.shards);
    const after = await portfolio(bearer, owner);
    expect(after.data!.ownerPortfolio.accounts.map((a: { id: string }) => a.id)).toEqual([id]);
  });
});
