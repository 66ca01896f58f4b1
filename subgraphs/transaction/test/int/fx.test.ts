import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { newId, parseId, toLogicalShard } from '@paygraph/shared/ids';
import { insertQuotes, quotesByIds } from '../../src/db/fx';
import { fxQuotes, fxRates } from '../../src/db/schema/fx';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { moneyKit, physicalOf, type MoneyKit } from '../../../../test/support/money';
import { systemKindTotal } from '../../../../test/support/ledger';
import { assert } from '@paygraph/shared/result';
import { createPayment } from '../../src/services/payment';
import { createFxQuote } from '../../src/services/fx-quotes';
import { serviceContext } from '../support/service-context';

/**
 * FX through the gateway (issue 24): rates, quotes, FX payments same-shard and cross-shard,
 * single use under races, expiry, refunds by the cumulative rule, and conservation per currency
 * on every shard. The stack's clock runs `skewMs` ahead of the wall clock, so a test can make a
 * quote expire without waiting.
 */
let skewMs = 0;
let stack: Stack;
let kit: MoneyKit;
let operator: string;

const docs = {
  setRate: contractOperation('SetFxRate'),
  quote: contractOperation('CreateFxQuote'),
  fxPayment: contractOperation('GetFxPayment'),
  pay: contractOperation('CreatePayment'),
  health: contractOperation('LedgerHealth'),
  readQuote: 'query($id: ID!) { fxQuote(id: $id) { id sellAmount buyAmount rate spreadBps paymentId } }',
  positions: 'query { fxPositions { currency amount } }',
  legs: 'query($id: ID!) { payment(id: $id) { legs { role amount currency refundedAmount account { id } } } }',
  payDetail: `mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename
    ... on Payment { id status amount currency route }
    ... on UserError { code message }
    ... on FxQuoteMismatch { field } ... on InvalidInput { field } } }`,
};

const q = (doc: string, variables: Record<string, unknown>, as = operator) => gql(stack.gatewayUrl, doc, variables, as);

async function setRate(base: string, quote: string, rate: string, spreadBps?: number, as = operator) {
  return q(
    docs.setRate,
    { input: { baseCurrency: base, quoteCurrency: quote, rate, ...(spreadBps === undefined ? {} : { spreadBps }) } },
    as,
  );
}

async function quote(
  as: string,
  sellCurrency: string,
  buyCurrency: string,
  amounts: { sellAmount?: string; buyAmount?: string },
) {
  return (await q(docs.quote, { input: { sellCurrency, buyCurrency, ...amounts } }, as)).data!.createFxQuote;
}

async function fxPay(
  as: string,
  payer: string,
  payee: string,
  amount: string,
  currency: string,
  fxQuoteId: string,
  key = unique('fxpay'),
) {
  const r = await q(
    docs.payDetail,
    { input: { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amount, currency, fxQuoteId } },
    as,
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.createPayment;
}

/** A payment's legs as [role, amount, currency, refundedAmount], read by `as`. */
async function legsOf(paymentId: string, as: string): Promise<Array<[string, string, string, string]>> {
  const r = await q(docs.legs, { id: paymentId }, as);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return (
    r.data!.payment.legs as Array<{ role: string; amount: string; currency: string; refundedAmount: string }>
  ).map((l) => [l.role, l.amount, l.currency, l.refundedAmount]);
}

async function positions(): Promise<Map<string, bigint>> {
  const r = await q(docs.positions, {});
  return new Map(
    (r.data!.fxPositions as Array<{ currency: string; amount: string }>).map((p) => [p.currency, BigInt(p.amount)]),
  );
}

async function available(id: string): Promise<bigint> {
  return BigInt((await kit.balance(id)).available);
}

async function rateRows(pairKey: string): Promise<number> {
  const [row] = await stack.shards
    .byLogical(toLogicalShard(0))
    .db.select({ n: count() })
    .from(fxRates)
    .where(eq(fxRates.pairKey, pairKey));
  return row!.n;
}

/** A customer with a funded USD account and a JPY payee (of another customer) where asked. */
async function parties(options: { samePhysical: boolean; fund?: string }) {
  const owner = unique('fxcust');
  const bearer = await token(owner, 'customer');
  const payer = await kit.open(owner, { currency: 'USD' });
  await kit.fund(payer, options.fund ?? '100000', 'USD');
  const physical = physicalOf(stack.shards, payer);
  const payee = options.samePhysical
    ? await kit.open(unique('fxpayee'), { currency: 'JPY', physical })
    : await kit.openAwayFrom(unique('fxpayee'), [physical], { currency: 'JPY' });
  return { owner, bearer, payer, payee };
}

/** Every shard's entries net to zero per currency, and FX positions are minus the customer side of FX flows. */
async function expectConserved(): Promise<void> {
  const health = (await q(docs.health, {})).data!.ledgerHealth;
  expect(health.balanced).toBe(true);
  for (const row of health.shards as Array<{ balanced: boolean }>) expect(row.balanced).toBe(true);
}

beforeAll(async () => {
  stack = await startStack({ now: () => new Date(Date.now() + skewMs) });
  kit = await moneyKit(stack);
  operator = kit.operator;
  expect((await setRate('USD', 'JPY', '150.25')).data!.setFxRate).toMatchObject({
    __typename: 'FxRate',
    rate: '150.25',
    spreadBps: 0,
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('setFxRate', () => {
  it('is for operators only, and refuses bad rates writing nothing (its audit: gateway/test/audit.test.ts)', async () => {
    const customer = await token(unique('c'), 'customer');
    expect(errorCodes(await setRate('EUR', 'GBP', '0.86', 0, customer))).toEqual(['FORBIDDEN']);
    const before = await rateRows('EUR/GBP');
    const bad: Array<[string, string, string, number | undefined, string, string]> = [
      ['EUR', 'GBP', '0', undefined, 'InvalidInput', 'rate'],
      ['EUR', 'GBP', '-1', undefined, 'InvalidInput', 'rate'],
      ['EUR', 'GBP', 'abc', undefined, 'InvalidInput', 'rate'],
      ['EUR', 'GBP', '1.23456789012345', undefined, 'InvalidInput', 'rate'],
      ['EUR', 'GBP', '1e3', undefined, 'InvalidInput', 'rate'],
      ['EUR', 'GBP', '0.86', -1, 'InvalidInput', 'spreadBps'],
      ['EUR', 'GBP', '0.86', 10_001, 'InvalidInput', 'spreadBps'],
      ['EUR', 'EUR', '1', undefined, 'InvalidInput', 'quoteCurrency'],
      ['EUR', 'XYZ', '0.86', undefined, 'UnsupportedCurrency', ''],
    ];
    for (const [base, quoteCurrency, rate, spread, typename] of bad) {
      const r = await setRate(base, quoteCurrency, rate, spread);
      expect(r.data!.setFxRate.__typename, `${base}/${quoteCurrency} ${rate} ${spread}`).toBe(typename);
    }
    expect(await rateRows('EUR/GBP')).toBe(before);
    const set = await setRate('EUR', 'GBP', '0.86', 25);
    expect(set.data!.setFxRate).toMatchObject({
      __typename: 'FxRate',
      baseCurrency: 'EUR',
      quoteCurrency: 'GBP',
      rate: '0.86',
      spreadBps: 25,
    });
    expect(await rateRows('EUR/GBP')).toBe(before + 1);
  });
});

describe('createFxQuote', () => {
  it('computes the other amount exactly, rounding for the platform, both directions from one rate', async () => {
    const bearer = await token(unique('quoter'), 'customer');
    expect(await quote(bearer, 'USD', 'JPY', { sellAmount: '333' })).toMatchObject({
      __typename: 'FxQuote',
      sellAmount: '333',
      buyAmount: '500',
      rate: '150.25',
    });
    expect(await quote(bearer, 'USD', 'JPY', { buyAmount: '500' })).toMatchObject({
      sellAmount: '333',
      buyAmount: '500',
    });
    // The inverse from the same row: 1000 JPY → 6.6555… USD → 665 cents.
    expect(await quote(bearer, 'JPY', 'USD', { sellAmount: '1000' })).toMatchObject({
      sellAmount: '1000',
      buyAmount: '665',
    });
  });

  it('refuses both or neither amount, a zero result, an unknown pair and an unknown currency, writing no quote', async () => {
    const maker = unique('quoter');
    const bearer = await token(maker, 'customer');
    expect(await quote(bearer, 'USD', 'JPY', { sellAmount: '1', buyAmount: '1' })).toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect(await quote(bearer, 'USD', 'JPY', {})).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await quote(bearer, 'JPY', 'USD', { sellAmount: '1' })).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await quote(bearer, 'USD', 'USD', { sellAmount: '100' })).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await quote(bearer, 'USD', 'KWD', { sellAmount: '100' })).toMatchObject({
      __typename: 'FxRateUnavailable',
      code: 'FX_RATE_UNAVAILABLE',
    });
    expect(await quote(bearer, 'USD', 'ABC', { sellAmount: '100' })).toMatchObject({
      __typename: 'UnsupportedCurrency',
      code: 'UNSUPPORTED_CURRENCY',
    });
    const written = await Promise.all(
      stack.shards.all.map((shard) =>
        shard.db.select({ n: count() }).from(fxQuotes).where(eq(fxQuotes.createdBy, maker)),
      ),
    );
    expect(written.reduce((sum, [row]) => sum + row!.n, 0)).toBe(0);
  });

  it('is readable by its maker only, and a later rate never changes it', async () => {
    const maker = await token(unique('maker'), 'customer');
    const made = await quote(maker, 'USD', 'JPY', { sellAmount: '10000' });
    expect(made.buyAmount).toBe('15025');
    await setRate('JPY', 'USD', '0.0065');
    try {
      expect((await q(docs.readQuote, { id: made.id }, maker)).data!.fxQuote).toMatchObject({
        id: made.id,
        buyAmount: '15025',
        rate: '150.25',
      });
      expect(errorCodes(await q(docs.readQuote, { id: made.id }, await token(unique('other'), 'customer')))).toEqual([
        'FORBIDDEN',
      ]);
      // New quotes take the new row, in either direction: 100 USD = 10000 / 0.0065 JPY.
      expect(await quote(maker, 'USD', 'JPY', { sellAmount: '10000' })).toMatchObject({
        buyAmount: '15384',
        rate: '0.0065',
      });
    } finally {
      await setRate('USD', 'JPY', '150.25');
    }
  });
});

describe('FX payments', () => {
  for (const samePhysical of [true, false]) {
    it(`debits sellAmount in the payer's currency and credits buyAmount in the payee's (${samePhysical ? 'same shard' : 'cross-shard'})`, async () => {
      const { bearer, payer, payee } = await parties({ samePhysical });
      const before = await positions();
      const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '333' });
      const key = unique('fxpay');
      const paid = await fxPay(bearer, payer, payee, '333', 'USD', made.id, key);
      expect(paid).toMatchObject({
        __typename: 'Payment',
        status: 'SUCCEEDED',
        amount: '333',
        currency: 'USD',
        route: samePhysical ? 'SAME_SHARD' : 'CROSS_SHARD',
      });
      expect(await available(payer)).toBe(100000n - 333n);
      expect(await available(payee)).toBe(500n);
      const read = (await q(docs.fxPayment, { id: paid.id }, bearer)).data!.payment;
      expect(read.fx).toEqual({
        quoteId: made.id,
        rate: '150.25',
        sellAmount: '333',
        sellCurrency: 'USD',
        buyAmount: '500',
        buyCurrency: 'JPY',
      });
      expect(read.payee).toMatchObject({ id: payee, currency: 'JPY' });
      // Its two legs, each in its own currency: the payer's sell side, the payee's buy side.
      const legs = await q(docs.legs, { id: paid.id }, bearer);
      expect(legs.data!.payment.legs).toEqual([
        { role: 'PAYER', amount: '333', currency: 'USD', refundedAmount: '0', account: { id: payer } },
        { role: 'PAYEE', amount: '500', currency: 'JPY', refundedAmount: '0', account: { id: payee } },
      ]);
      // The same key answers the same payment; another key finds the quote used.
      expect((await fxPay(bearer, payer, payee, '333', 'USD', made.id, key)).id).toBe(paid.id);
      expect(await fxPay(bearer, payer, payee, '333', 'USD', made.id)).toMatchObject({
        __typename: 'FxQuoteUsed',
        code: 'FX_QUOTE_USED',
      });
      expect(await available(payer)).toBe(100000n - 333n);
      const after = await positions();
      expect((after.get('USD') ?? 0n) - (before.get('USD') ?? 0n)).toBe(333n);
      expect((after.get('JPY') ?? 0n) - (before.get('JPY') ?? 0n)).toBe(-500n);
      await expectConserved();
    });
  }

  it('answers FX_QUOTE_MISMATCH, FX_QUOTE_EXPIRED, CURRENCY_MISMATCH and INVALID_INPUT with nothing written', async () => {
    const { bearer, payer, payee } = await parties({ samePhysical: false });
    const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '1000' });
    const usdPayee = await kit.open(unique('usdpayee'), { currency: 'USD' });
    const before = await kit.snapshot([payer, payee, usdPayee]);
    expect(await fxPay(bearer, payer, payee, '999', 'USD', made.id)).toMatchObject({
      code: 'FX_QUOTE_MISMATCH',
      field: 'amount',
    });
    expect(await fxPay(bearer, payer, usdPayee, '1000', 'USD', made.id)).toMatchObject({
      code: 'FX_QUOTE_MISMATCH',
      field: 'payeeAccountId',
    });
    expect(await fxPay(bearer, payer, payee, '1000', 'EUR', made.id)).toMatchObject({
      code: 'FX_QUOTE_MISMATCH',
      field: 'currency',
    });
    expect(await fxPay(bearer, payer, payee, '1000', 'USD', 'fxq_not-a-quote')).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'fxQuoteId',
    });
    // An FX payment has two legs: no splits, no campaign.
    const split = await q(
      docs.payDetail,
      {
        input: {
          idempotencyKey: unique('fxsplit'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '1000',
          currency: 'USD',
          fxQuoteId: made.id,
          splits: [{ accountId: usdPayee, amount: '10' }],
        },
      },
      bearer,
    );
    expect(split.data!.createPayment).toMatchObject({ code: 'INVALID_INPUT', field: 'splits' });
    const campaign = await q(
      docs.payDetail,
      {
        input: {
          idempotencyKey: unique('fxcampaign'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '1000',
          currency: 'USD',
          fxQuoteId: made.id,
          campaignId: newId('campaign', toLogicalShard(0)),
        },
      },
      bearer,
    );
    expect(campaign.data!.createPayment, JSON.stringify(campaign)).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'campaignId',
    });
    const someoneElses = await quote(await token(unique('other'), 'customer'), 'USD', 'JPY', { sellAmount: '1000' });
    expect(await fxPay(bearer, payer, payee, '1000', 'USD', someoneElses.id)).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'fxQuoteId',
    });
    // Without a quote, a payment across currencies is CURRENCY_MISMATCH, as it always was.
    expect(
      (await kit.pay(bearer, { payer, payee, amount: '1000', currency: 'USD' }, docs.payDetail)).data!.createPayment
        .code,
    ).toBe('CURRENCY_MISMATCH');
    skewMs = 61_000;
    try {
      expect(await fxPay(bearer, payer, payee, '1000', 'USD', made.id)).toMatchObject({
        __typename: 'FxQuoteExpired',
        code: 'FX_QUOTE_EXPIRED',
      });
    } finally {
      skewMs = 0;
    }
    expect(await kit.snapshot([payer, payee, usdPayee])).toEqual(before);
    // Refused by the ledger: nothing moves, and the quote stays the refused payment's, so that a
    // replay of its key answers the same refusal; another payment needs a new quote.
    const poor = await parties({ samePhysical: true, fund: '10' });
    const big = await quote(poor.bearer, 'USD', 'JPY', { sellAmount: '5000' });
    const poorKey = unique('poor');
    const poorBefore = await kit.snapshot([poor.payer, poor.payee]);
    expect(await fxPay(poor.bearer, poor.payer, poor.payee, '5000', 'USD', big.id, poorKey)).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(await kit.snapshot([poor.payer, poor.payee])).toEqual(poorBefore);
    await kit.fund(poor.payer, '5000', 'USD');
    expect(await fxPay(poor.bearer, poor.payer, poor.payee, '5000', 'USD', big.id, poorKey)).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(await fxPay(poor.bearer, poor.payer, poor.payee, '5000', 'USD', big.id)).toMatchObject({
      code: 'FX_QUOTE_USED',
    });
    const fresh = await quote(poor.bearer, 'USD', 'JPY', { sellAmount: '5000' });
    expect(await fxPay(poor.bearer, poor.payer, poor.payee, '5000', 'USD', fresh.id)).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
    });
  });

  it("pays with a quote another replica made: its terms read from the quote's shard, its maker checked", async () => {
    // A quote this process made is not read back (services/fx-quotes.ts, quoteTerms); one written by
    // another process is: here a copy of a made quote under a new id, which this process never saw.
    const { bearer, payer, payee } = await parties({ samePhysical: false });
    const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '400' });
    const shard = stack.shards.of('fxQuote', made.id);
    const [row] = await quotesByIds(shard.db, [made.id]);
    const copy = { ...row!, id: newId('fxQuote', parseId('fxQuote', made.id)!.shard) };
    const strangers = {
      ...row!,
      id: newId('fxQuote', parseId('fxQuote', made.id)!.shard),
      createdBy: unique('stranger'),
    };
    await insertQuotes(shard, [copy, strangers]);
    expect(await fxPay(bearer, payer, payee, '400', 'USD', strangers.id)).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'fxQuoteId',
    });
    expect(await fxPay(bearer, payer, payee, '400', 'USD', copy.id)).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
    });
    expect(await fxPay(bearer, payer, payee, '400', 'USD', copy.id)).toMatchObject({ code: 'FX_QUOTE_USED' });
    expect(await available(payer)).toBe(100000n - 400n);
    expect(await available(payee)).toBe(601n);
  });

  it('pays one payment per quote: 20 payments racing with one quote, one succeeds, 19 answer FX_QUOTE_USED', async () => {
    const { bearer, payer, payee } = await parties({ samePhysical: false });
    const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '700' });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fxPay(bearer, payer, payee, '700', 'USD', made.id)),
    );
    const typenames = answers.map((a) => a.__typename as string);
    expect(typenames.filter((t) => t === 'Payment')).toHaveLength(1);
    expect(typenames.filter((t) => t === 'FxQuoteUsed')).toHaveLength(19);
    expect(await available(payer)).toBe(100000n - 700n);
    expect(await available(payee)).toBe(1051n);
    await expectConserved();
  });
});

describe('what an FX payment costs the databases', () => {
  /** Statements over every shard while `run` runs. */
  async function statementsOf(run: () => Promise<void>): Promise<number> {
    const before = stack.shards.all.reduce((n, shard) => n + shard.queryCount, 0);
    await run();
    return stack.shards.all.reduce((n, shard) => n + shard.queryCount, 0) - before;
  }

  it('makes its quotes with their rate reads and inserts shared per shard, and prints what quotes and FX payments cost beside plain ones', async () => {
    const units = 16;
    const ctx = serviceContext(
      stack.shards,
      { sub: unique('fxcost-operator'), role: 'operator' },
      () => new Date(Date.now() + skewMs),
    );
    const payers = await Promise.all(
      Array.from({ length: units }, async () => {
        const payer = await kit.open(unique('fxcost'), { currency: 'USD' });
        await kit.fund(payer, '10000', 'USD');
        const away = [physicalOf(stack.shards, payer)];
        return {
          payer,
          usd: await kit.openAwayFrom(unique('fxcost-usd'), away, { currency: 'USD' }),
          jpy: await kit.openAwayFrom(unique('fxcost-jpy'), away, { currency: 'JPY' }),
        };
      }),
    );
    const pay = async (payer: string, payee: string, amount: string, fxQuoteId?: string) => {
      const paid = await createPayment(ctx, {
        idempotencyKey: unique('fxcost'),
        payerAccountId: payer,
        payeeAccountId: payee,
        amount,
        currency: 'USD',
        fxQuoteId: fxQuoteId ?? null,
      });
      assert(
        paid.ok && paid.value.status === 'SUCCEEDED',
        `payment refused: ${JSON.stringify(paid.ok ? paid.value.status : paid.error)}`,
      );
    };
    const quotes = () =>
      Promise.all(
        payers.map(async () => {
          const made = await createFxQuote(ctx, { sellCurrency: 'USD', buyCurrency: 'JPY', sellAmount: '100' });
          assert(made.ok, 'quote refused');
          return made.value.id;
        }),
      );
    // Each kind once first, so that the system accounts they use (clearing and FX positions per
    // shard and currency, opened on first use) are open and known to this process.
    await Promise.all(payers.map((p) => pay(p.payer, p.usd, '100')));
    const warm = await quotes();
    await Promise.all(payers.map((p, i) => pay(p.payer, p.jpy, '100', warm[i])));
    // Called in one turn each, as concurrent requests are: their statements may share.
    const plain = await statementsOf(async () => {
      await Promise.all(payers.map((p) => pay(p.payer, p.usd, '100')));
    });
    let made: string[] = [];
    const quoting = await statementsOf(async () => {
      made = await quotes();
    });
    const paying = await statementsOf(async () => {
      await Promise.all(payers.map((p, i) => pay(p.payer, p.jpy, '100', made[i])));
    });
    console.log(
      `${units} cross-shard payments at once: plain ${plain} statements; FX: quotes ${quoting}, payments ${paying}`,
    );
    // A statement per quote for the rate read and one for its insert would be 2 per quote;
    // shared, they are the rate's read and an insert per shard for each wave of them (one or two).
    expect(quoting).toBeLessThanOrEqual(units);
    // The payments' quote reads and claims share per shard only with those made at the same
    // moment, and the claims follow each payer shard's key claims in waves: no bound is
    // asserted on them here; the figures are printed (docs/PERFORMANCE.md, FX).
  });
});

describe('quote expiry under races', () => {
  it('refuses an expired quote to 20 racing payments alike: all FX_QUOTE_EXPIRED, nothing moved, the quote still unpaid', async () => {
    const { bearer, payer, payee } = await parties({ samePhysical: false });
    const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '700' });
    const before = await kit.snapshot([payer, payee]);
    skewMs = 61_000;
    let answers: Array<Record<string, unknown>>;
    try {
      answers = await Promise.all(Array.from({ length: 20 }, () => fxPay(bearer, payer, payee, '700', 'USD', made.id)));
    } finally {
      skewMs = 0;
    }
    expect(answers.map((a) => a.code)).toEqual(Array.from({ length: 20 }, () => 'FX_QUOTE_EXPIRED'));
    expect(await kit.snapshot([payer, payee])).toEqual(before);
    expect((await q(docs.readQuote, { id: made.id }, bearer)).data!.fxQuote).toMatchObject({
      id: made.id,
      paymentId: null,
    });
  });
});

describe('holds across currencies', () => {
  it('are not taken: a hold between accounts of two currencies is CURRENCY_MISMATCH in either currency, and moves nothing', async () => {
    const { bearer, payer, payee } = await parties({ samePhysical: false });
    const before = await kit.snapshot([payer, payee]);
    for (const currency of ['USD', 'JPY']) {
      const r = await q(
        contractOperation('CreateHold'),
        {
          input: {
            idempotencyKey: unique('fxhold'),
            payerAccountId: payer,
            payeeAccountId: payee,
            amount: '333',
            currency,
          },
        },
        bearer,
      );
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      expect(r.data!.createHold).toMatchObject({ __typename: 'CurrencyMismatch', code: 'CURRENCY_MISMATCH' });
    }
    expect(await kit.snapshot([payer, payee])).toEqual(before);
    expect((await kit.balance(payer)).frozen).toBe('0');
  });
});

describe('refunds of an FX payment', () => {
  for (const samePhysical of [true, false]) {
    it(`return the payer's currency and take back the cumulative pro-rata share of buyAmount (333 cents at 150.25, ${samePhysical ? 'same shard' : 'cross-shard'})`, async () => {
      const { bearer, payer, payee } = await parties({ samePhysical });
      const payeeOwner = await token(
        (await q(contractOperation('GetAccount'), { id: payee })).data!.account.ownerId,
        'customer',
      );
      const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '333' });
      const paid = await fxPay(bearer, payer, payee, '333', 'USD', made.id);
      const before = await positions();
      // The payee's shares round up, in the platform's favour (issue 31): ceil(100 × 500 / 333) = 151 first.
      const steps: Array<[string, bigint]> = [
        ['100', 151n],
        ['100', 150n],
        ['133', 199n],
      ];
      let payeeLeft = 500n;
      let refunded = 0n;
      for (const [amount, share] of steps) {
        const r = await kit.refund(payeeOwner, paid.id, amount);
        expect(r.data!.refundPayment, JSON.stringify(r)).toMatchObject({
          __typename: 'Refund',
          status: 'SUCCEEDED',
          amount,
        });
        payeeLeft -= share;
        refunded += BigInt(amount);
        expect(await available(payee)).toBe(payeeLeft);
        // Each leg refunded in its own currency: the payer's by the refunds, the payee's by the shares they took.
        expect(await legsOf(paid.id, bearer)).toEqual([
          ['PAYER', '333', 'USD', String(refunded)],
          ['PAYEE', '500', 'JPY', String(500n - payeeLeft)],
        ]);
      }
      expect(await available(payer)).toBe(100000n);
      expect(await available(payee)).toBe(0n);
      const after = await positions();
      expect((after.get('USD') ?? 0n) - (before.get('USD') ?? 0n)).toBe(-333n);
      expect((after.get('JPY') ?? 0n) - (before.get('JPY') ?? 0n)).toBe(500n);
      expect((await kit.refund(payeeOwner, paid.id, '1')).data!.refundPayment.code).toBe('REFUND_EXCEEDS_PAYMENT');
      await expectConserved();
    });
  }

  it("a refund the payee cannot pay back FAILS, moves nothing, and adds nothing to either leg's refundedAmount (cross-shard)", async () => {
    const { bearer, payer, payee } = await parties({ samePhysical: false });
    const payeeOwner = await token(
      (await q(contractOperation('GetAccount'), { id: payee })).data!.account.ownerId,
      'customer',
    );
    const made = await quote(bearer, 'USD', 'JPY', { sellAmount: '333' });
    const paid = await fxPay(bearer, payer, payee, '333', 'USD', made.id);
    expect((await kit.refund(payeeOwner, paid.id, '100')).data!.refundPayment).toMatchObject({ status: 'SUCCEEDED' });
    // The payee spends what it has left (500 − 151 = 349 yen), so the next refund's share (199 yen) cannot be taken
    // back.
    expect((await kit.withdraw(payeeOwner, payee, '349', { currency: 'JPY' })).data!.withdraw).toMatchObject({
      status: 'SUCCEEDED',
    });
    const before = await kit.snapshot([payer, payee]);
    const failed = await kit.refund(payeeOwner, paid.id, '133');
    expect(failed.data!.refundPayment, JSON.stringify(failed)).toMatchObject({
      __typename: 'Refund',
      status: 'FAILED',
    });
    expect(await kit.snapshot([payer, payee])).toEqual(before);
    expect(await legsOf(paid.id, bearer)).toEqual([
      ['PAYER', '333', 'USD', '100'],
      ['PAYEE', '500', 'JPY', '151'],
    ]);
    await expectConserved();
  });

  for (const samePhysical of [true, false]) {
    it(`pays no remainder to the payee: all but one unit refunded leaves it at most its claim and the platform not short (ISK → NZD, ${samePhysical ? 'same shard' : 'cross-shard'})`, async () => {
      // ISK (exponent 0) → NZD (exponent 2), a pair no other test trades, so fxPositions' totals
      // move only by this test's payments. 1 ISK = 0.0123 NZD: 1000 ISK buys 1230 cents.
      expect((await setRate('ISK', 'NZD', '0.0123')).data!.setFxRate).toMatchObject({
        __typename: 'FxRate',
        rate: '0.0123',
      });
      const owner = unique('fxisk');
      const bearer = await token(owner, 'customer');
      const payer = await kit.open(owner, { currency: 'ISK' });
      await kit.fund(payer, '1000', 'ISK');
      const physical = physicalOf(stack.shards, payer);
      const payee = samePhysical
        ? await kit.open(unique('fxnzd'), { currency: 'NZD', physical })
        : await kit.openAwayFrom(unique('fxnzd'), [physical], { currency: 'NZD' });
      const made = await quote(bearer, 'ISK', 'NZD', { sellAmount: '1000' });
      expect(made).toMatchObject({ __typename: 'FxQuote', sellAmount: '1000', buyAmount: '1230' });
      const before = await positions();
      const moved = async () => {
        const after = await positions();
        return [
          (after.get('ISK') ?? 0n) - (before.get('ISK') ?? 0n),
          (after.get('NZD') ?? 0n) - (before.get('NZD') ?? 0n),
        ];
      };
      const paid = await fxPay(bearer, payer, payee, '1000', 'ISK', made.id);
      expect(paid).toMatchObject({ status: 'SUCCEEDED' });
      expect(await moved()).toEqual([1000n, -1230n]);
      expect((await kit.refund(kit.operator, paid.id, '999')).data!.refundPayment).toMatchObject({
        __typename: 'Refund',
        status: 'SUCCEEDED',
      });
      // The payee's claim on the 1 ISK not refunded is 1.23 cents: it keeps 1, giving back
      // ceil(999 × 1230 / 1000) = 1229 (rounding down gave back 1228, and it kept 2).
      expect(await available(payee)).toBe(1n);
      expect(await available(payer)).toBe(999n);
      const [isk, nzd] = await moved();
      expect([isk, nzd]).toEqual([1n, -1n]);
      // Valued at the quote's price (1230 cents per 1000 ISK), the platform's position is not negative.
      expect(isk! * 1230n + nzd! * 1000n >= 0n).toBe(true);
      expect(await legsOf(paid.id, bearer)).toEqual([
        ['PAYER', '1000', 'ISK', '999'],
        ['PAYEE', '1230', 'NZD', '1229'],
      ]);
      expect((await kit.refund(kit.operator, paid.id, '1')).data!.refundPayment).toMatchObject({
        __typename: 'Refund',
        status: 'SUCCEEDED',
      });
      expect(await available(payee)).toBe(0n);
      expect(await available(payer)).toBe(1000n);
      expect(await moved()).toEqual([0n, 0n]);
      await expectConserved();
    });
  }

  it("fxPositions sums every shard's FX position accounts, for operators only", async () => {
    const total = await positions();
    expect(total.get('USD') ?? 0n).toBe(await systemKindTotal(stack.shards, 'FX_POSITION', 'USD'));
    expect(total.get('JPY') ?? 0n).toBe(await systemKindTotal(stack.shards, 'FX_POSITION', 'JPY'));
    expect(errorCodes(await q(docs.positions, {}, await token(unique('c'), 'customer')))).toEqual(['FORBIDDEN']);
  });
});
