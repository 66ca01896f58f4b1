import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { inArray } from 'drizzle-orm';
import { postingRejections } from '@paygraph/shared/ledger/store/schema';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql, type GraphQLResponse } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { moneyKit, physicalOf, type MoneyKit } from '../../../../test/support/money';
import { postingsByDedupeKey, resourceOfKey, sleep } from '../../../../test/support/bank';

/**
 * An FX payment whose quote was taken but whose debit never posted (here LOCK_TIMEOUT: the payer's row held by another
 * session, as in lock-timeout.test.ts), replayed with its key: before the quote's deadline the replay pays, once (the
 * retry a LOCK_TIMEOUT asks for); after it, the replay is FX_QUOTE_EXPIRED and that refusal is final for the key, so
 * that neither a later replay nor a copy of the request from before the deadline still in flight ever posts at the
 * quote's rate (services/post-payment.ts debitSpec). The stack's clock runs `skewMs` ahead of the wall clock, so a
 * quote expires without waiting (as in fx.test.ts).
 */
let skewMs = 0;
let stack: Stack;
let kit: MoneyKit;

/** A minute past the default FX_QUOTE_TTL_SECONDS (60 s). */
const pastDeadlineMs = 61_000;

const docs = {
  setRate: contractOperation('SetFxRate'),
  quote: contractOperation('CreateFxQuote'),
  pay: contractOperation('CreatePayment'),
  readQuote: 'query($id: ID!) { fxQuote(id: $id) { id paymentId expiresAt } }',
  payDetail: `mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename
    ... on Payment { id status amount currency }
    ... on UserError { code message }
    ... on FxQuoteExpired { quoteId expiresAt } } }`,
};

beforeAll(async () => {
  stack = await startStack({ now: () => new Date(Date.now() + skewMs) });
  kit = await moneyKit(stack);
  const rate = await gql(
    stack.gatewayUrl,
    docs.setRate,
    { input: { baseCurrency: 'USD', quoteCurrency: 'JPY', rate: '150.25' } },
    kit.operator,
  );
  expect(rate.data!.setFxRate).toMatchObject({ __typename: 'FxRate' });
});

afterAll(async () => {
  skewMs = 0;
  await stack?.stop();
});

interface Case {
  owner: string;
  bearer: string;
  payer: string;
  payee: string;
  quoteId: string;
  expiresAt: string;
  input: Record<string, string>;
}

/** A customer's funded USD payer, a JPY payee on another database, a quote selling 1000 cents, and its payment's input. */
async function fxCase(): Promise<Case> {
  const owner = unique('fxreplay');
  const bearer = await token(owner, 'customer');
  const payer = await kit.open(owner, { currency: 'USD' });
  await kit.fund(payer, '100000', 'USD');
  const payee = await kit.openAwayFrom(unique('fxreplay-payee'), [physicalOf(stack.shards, payer)], {
    currency: 'JPY',
  });
  const made = await gql(
    stack.gatewayUrl,
    docs.quote,
    { input: { sellCurrency: 'USD', buyCurrency: 'JPY', sellAmount: '1000' } },
    bearer,
  );
  const quote = made.data!.createFxQuote as { id: string; expiresAt: string };
  const input = {
    idempotencyKey: unique('fxreplay-key'),
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: '1000',
    currency: 'USD',
    fxQuoteId: quote.id,
  };
  return { owner, bearer, payer, payee, quoteId: quote.id, expiresAt: quote.expiresAt, input };
}

function pay(c: Case, doc = docs.payDetail): Promise<GraphQLResponse<Record<string, any>>> {
  return gql(stack.gatewayUrl, doc, { input: c.input }, c.bearer);
}

/** Runs `during` while another session holds the payer's row with SELECT … FOR UPDATE, then lets go. */
async function withPayerLocked<T>(c: Case, during: () => Promise<T>): Promise<T> {
  const holder = await mysql.createConnection({ uri: stack.shards.topology.urls[physicalOf(stack.shards, c.payer)]! });
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [c.payer]);
    return await during();
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
}

/** The refusals kept under these dedupe keys, on any shard. */
async function keptRefusals(keys: readonly string[]): Promise<Array<{ dedupeKey: string; code: string }>> {
  const found = await Promise.all(
    stack.shards.all.map((s) =>
      s.db
        .select({ dedupeKey: postingRejections.dedupeKey, code: postingRejections.code })
        .from(postingRejections)
        .where(inArray(postingRejections.dedupeKey, [...keys])),
    ),
  );
  return found.flat();
}

/**
 * The payment meets the held payer row: LOCK_TIMEOUT after its quote was taken for it (its key claimed first), its
 * debit written nowhere. Answers the payment's id, as the key names it.
 */
async function timedOutAfterTake(c: Case): Promise<string> {
  const before = await kit.snapshot([c.payer, c.payee]);
  const response = await withPayerLocked(c, () => pay(c, docs.pay));
  expect(response.data?.createPayment ?? null).toBeNull();
  expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['LOCK_TIMEOUT']);
  const paymentId = await resourceOfKey(stack.shards, c.owner, c.input.idempotencyKey!);
  expect(paymentId).toBeDefined();
  const quote = await gql(stack.gatewayUrl, docs.readQuote, { id: c.quoteId }, c.bearer);
  expect(quote.data!.fxQuote).toMatchObject({ id: c.quoteId, paymentId });
  expect(await postingsByDedupeKey(stack.shards, [paymentId!])).toEqual([]);
  expect(await keptRefusals([paymentId!])).toEqual([]);
  expect(await kit.snapshot([c.payer, c.payee])).toEqual(before);
  return paymentId!;
}

async function pastDeadline<T>(run: () => Promise<T>): Promise<T> {
  skewMs = pastDeadlineMs;
  try {
    return await run();
  } finally {
    skewMs = 0;
  }
}

describe('an FX payment replayed after LOCK_TIMEOUT took its quote', () => {
  it('after the deadline: FX_QUOTE_EXPIRED, nothing moved, and final for the key, also for a copy from before it', async () => {
    const c = await fxCase();
    const before = await kit.snapshot([c.payer, c.payee]);
    const paymentId = await timedOutAfterTake(c);

    const expired = { __typename: 'FxQuoteExpired', code: 'FX_QUOTE_EXPIRED', quoteId: c.quoteId };
    const late = await pastDeadline(() => pay(c));
    expect(late.errors).toBeUndefined();
    expect(late.data!.createPayment).toMatchObject(expired);
    expect(new Date(late.data!.createPayment.expiresAt as string).getTime()).toBe(new Date(c.expiresAt).getTime());
    expect(await kit.snapshot([c.payer, c.payee])).toEqual(before);
    // Kept under the debit's key, where the ledger reads a repeat's earlier outcome.
    expect(await keptRefusals([paymentId])).toEqual([{ dedupeKey: paymentId, code: 'TERMS_LAPSED' }]);

    // Replayed again days later, and as a copy of the request from before the deadline (one still in flight would
    // post its debit without the lapse): each meets the refusal kept under the key, and posts nothing.
    skewMs = 5 * 24 * 60 * 60 * 1000;
    try {
      expect((await pay(c)).data!.createPayment).toMatchObject(expired);
    } finally {
      skewMs = 0;
    }
    expect((await pay(c)).data!.createPayment).toMatchObject(expired);
    expect(await postingsByDedupeKey(stack.shards, [paymentId])).toEqual([]);
    expect(await kit.snapshot([c.payer, c.payee])).toEqual(before);
  });

  it('before the deadline: pays once, and a replay after the deadline answers that payment', async () => {
    const c = await fxCase();
    const before = await kit.snapshot([c.payer, c.payee]);
    const paymentId = await timedOutAfterTake(c);

    const retried = await pay(c, docs.pay);
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.createPayment).toMatchObject({ __typename: 'Payment', id: paymentId, status: 'SUCCEEDED' });
    const paid = { available: before[c.payer]!.balance.available, payee: before[c.payee]!.balance.available };
    const moved = async () => [
      BigInt((await kit.balance(c.payer)).available) - BigInt(paid.available),
      BigInt((await kit.balance(c.payee)).available) - BigInt(paid.payee),
    ];
    // 1000 cents at 150.25 JPY/USD: 1502 yen.
    expect(await moved()).toEqual([-1000n, 1502n]);

    expect((await pay(c)).data!.createPayment).toMatchObject({ __typename: 'Payment', id: paymentId });
    const late = await pastDeadline(() => pay(c));
    expect(late.data!.createPayment).toMatchObject({ __typename: 'Payment', id: paymentId, status: 'SUCCEEDED' });
    expect(await moved()).toEqual([-1000n, 1502n]);
    expect(await postingsByDedupeKey(stack.shards, [paymentId])).toHaveLength(1);
    expect(await keptRefusals([paymentId])).toEqual([]);
  });

  it('a replay after the deadline racing its original still in flight: one outcome for both, money moved at most once', async () => {
    const c = await fxCase();
    const before = await kit.snapshot([c.payer, c.payee]);
    const [original, replay] = await withPayerLocked(c, async () => {
      // The original takes the quote before the deadline, then waits for the payer's row.
      const first = pay(c);
      for (let tries = 0; ; tries++) {
        const quote = await gql(stack.gatewayUrl, docs.readQuote, { id: c.quoteId }, c.bearer);
        if (quote.data!.fxQuote.paymentId !== null) break;
        expect(tries).toBeLessThan(100);
        await sleep(10);
      }
      // Its replay comes after the deadline, and waits for the same row.
      skewMs = pastDeadlineMs;
      const second = pay(c);
      await sleep(300);
      return [first, second] as const;
    }).finally(() => (skewMs = 0));
    const answers = [(await original).data!.createPayment, (await replay).data!.createPayment];
    skewMs = 0;
    const paymentId = await resourceOfKey(stack.shards, c.owner, c.input.idempotencyKey!);
    const payerNow = BigInt((await kit.balance(c.payer)).available);
    const payerBefore = BigInt(before[c.payer]!.balance.available);
    if (answers[0].__typename === 'Payment') {
      // The original locked first and posted: the replay met its debit.
      expect(answers[1]).toMatchObject({ __typename: 'Payment', id: paymentId });
      expect(payerNow).toBe(payerBefore - 1000n);
      expect(await keptRefusals([paymentId!])).toEqual([]);
    } else {
      // The replay's refusal was kept first: the original met it and posted nothing.
      expect(answers).toEqual([answers[1], answers[1]]);
      expect(answers[1]).toMatchObject({ __typename: 'FxQuoteExpired' });
      expect(payerNow).toBe(payerBefore);
      expect(await postingsByDedupeKey(stack.shards, [paymentId!])).toEqual([]);
    }
  });
});
