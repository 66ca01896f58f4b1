import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { MemoryRateLimiter, RedisRateLimiter, slidingWindowFit } from '../src/security/rate-limit';
import { startStack, type Stack } from '../../test/support/stack';
import { contractOperation } from '../../test/support/graphql';
import { testRedisUrl, token, unique } from '../../test/support/env';
import { codes, post, startGuardedGateway, type GuardedGateway, type RawResponse } from './support/guarded-gateway';

/**
 * Rate limits per principal: one caller over its budget is refused with RATE_LIMITED, HTTP 429
 * and Retry-After, before any subgraph is called, while another caller is still served. In
 * memory (one process), and through Redis (shared by two gateways).
 */
const redisUrl = testRedisUrl();
const moneyBudget = 3;
const readsBudget = 4;

let stack: Stack;
let auditDir: string;

beforeAll(async () => {
  stack = await startStack();
  auditDir = mkdtempSync(join(tmpdir(), 'paygraph-rate-'));
});

afterAll(async () => {
  await stack?.stop();
});

function guarded(name: string, extra: { redisUrl?: string; redisKeyPrefix?: string } = {}): Promise<GuardedGateway> {
  return startGuardedGateway(stack, {
    security: {
      budgets: { moneyPerMinute: moneyBudget, readsPerMinute: readsBudget },
      auditShards: null,
      auditLogFile: join(auditDir, `${name}.jsonl`),
      redisUrl: null,
      ...extra,
    },
  });
}

interface Customer {
  bearer: string;
  accountId: string;
}

/** What each customer starts with: enough for every withdrawal its money budget allows, and one more. */
const funding = 100 * (moneyBudget + 1);

/**
 * A customer with one funded USD account, opened and funded (by an operator: customers do not
 * record deposits) through the stack's own gateway, not the one under test.
 */
async function customer(): Promise<Customer> {
  const ownerId = unique('rate');
  const bearer = await token(ownerId, 'customer');
  const opened = await post(
    stack.gatewayUrl,
    { query: contractOperation('OpenAccount'), variables: { input: { ownerId, type: 'PERSONAL', currency: 'USD' } } },
    bearer,
  );
  const accountId = opened.body.data?.openAccount?.id as string | undefined;
  if (!accountId) throw new Error(`could not open an account: ${JSON.stringify(opened.body)}`);
  const input = { idempotencyKey: unique('fund'), accountId, amount: String(funding), currency: 'USD' };
  const funded = await post(
    stack.gatewayUrl,
    { query: contractOperation('Deposit'), variables: { input } },
    await token('rate-operator', 'operator'),
  );
  if (funded.body.data?.deposit?.__typename !== 'Deposit')
    throw new Error(`could not fund the account: ${JSON.stringify(funded.body)}`);
  return { bearer, accountId };
}

/** A money mutation of the customer's own: 100 out of its account. */
function withdraw(gateway: GuardedGateway, who: Customer): Promise<RawResponse> {
  const input = { idempotencyKey: unique('wdr'), accountId: who.accountId, amount: '100', currency: 'USD' };
  return post(gateway.url, { query: contractOperation('Withdraw'), variables: { input } }, who.bearer);
}

function readAccount(gateway: GuardedGateway, who: Customer): Promise<RawResponse> {
  return post(gateway.url, { query: contractOperation('GetAccount'), variables: { id: who.accountId } }, who.bearer);
}

/** Asserts a RATE_LIMITED refusal that reached no subgraph. */
async function expectLimited(
  gateway: GuardedGateway,
  send: () => Promise<RawResponse>,
  bucket: 'money' | 'other',
): Promise<RawResponse> {
  const before = gateway.subgraphCalls();
  const response = await send();
  expect(gateway.subgraphCalls()).toBe(before);
  expect(response.status).toBe(429);
  expect(codes(response)).toEqual(['RATE_LIMITED']);
  const extensions = response.body.errors![0]!.extensions!;
  expect(extensions.bucket).toBe(bucket);
  expect(extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  // A full current window waits for the next one and part of it: at most two windows.
  expect(extensions.retryAfterSeconds).toBeLessThanOrEqual(2 * 60);
  expect(response.headers.get('retry-after')).toBe(String(extensions.retryAfterSeconds));
  expect(response.body.data ?? null).toBeNull();
  return response;
}

describe('the sliding window', () => {
  it('fits a request while the weighted count stays within the budget, and says when it will fit', () => {
    expect(slidingWindowFit(0, 2, 0.5, 1, 3, 60_000)).toEqual({ fits: true });
    expect(slidingWindowFit(0, 3, 0.5, 1, 3, 60_000)).toEqual({ fits: false, retryAfterMs: 30_000 + 20_000 });
    // Half of the previous window's 4 still counts: 2 + 1 + 1 > 3 until 3/4 of this window is gone.
    expect(slidingWindowFit(4, 1, 0.5, 1, 3, 60_000)).toEqual({ fits: false, retryAfterMs: 15_000 });
    expect(slidingWindowFit(4, 1, 0.75, 1, 3, 60_000)).toEqual({ fits: true });
    expect(slidingWindowFit(0, 0, 0, 5, 3, 60_000)).toEqual({ fits: false, retryAfterMs: null });
  });

  it('keeps at most countersMax counters in memory, forgetting the least recently used', async () => {
    const limiter = new MemoryRateLimiter(60_000, 10);
    for (let i = 0; i < 100; i++)
      await limiter.take(`customer:p${i}`, [{ bucket: 'other', weight: 1, limit: 1 }], 1_000);
    expect(limiter.size()).toBe(10);
    // p99 is remembered (its one unit is taken); p0 was forgotten, so it starts afresh.
    expect((await limiter.take('customer:p99', [{ bucket: 'other', weight: 1, limit: 1 }], 1_000)).allowed).toBe(false);
    expect((await limiter.take('customer:p0', [{ bucket: 'other', weight: 1, limit: 1 }], 1_000)).allowed).toBe(true);
  });
});

describe('rate limits in memory', () => {
  let gateway: GuardedGateway;
  beforeAll(async () => {
    gateway = await guarded('memory');
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('refuses a principal over its money budget while another is served, and keeps its reads apart', async () => {
    const [a, b] = await Promise.all([customer(), customer()]);
    for (let i = 0; i < moneyBudget; i++) {
      const ok = await withdraw(gateway, a);
      expect(ok.status).toBe(200);
      expect(ok.body.data?.withdraw.__typename).toBe('Withdrawal');
    }
    await expectLimited(gateway, () => withdraw(gateway, a), 'money');

    const other = await withdraw(gateway, b);
    expect(other.status).toBe(200);
    expect(other.body.data?.withdraw.__typename).toBe('Withdrawal');
    // Reads have their own budget: the money refusal leaves them alone.
    const read = await readAccount(gateway, a);
    expect(read.status).toBe(200);
    expect(read.body.data?.account.balance.available).toBe(String(funding - 100 * moneyBudget));
  });

  it('refuses reads over the reads budget', async () => {
    const a = await customer();
    const forwarded = gateway.gateway.metrics.operationPaths().forwarded;
    for (let i = 0; i < readsBudget; i++) expect((await readAccount(gateway, a)).status).toBe(200);
    // GetAccount went straight to the account subgraph (pass-through), and still counted.
    expect(gateway.gateway.metrics.operationPaths().forwarded).toBe(forwarded + readsBudget);
    await expectLimited(gateway, () => readAccount(gateway, a), 'other');
  });

  it('counts createFxQuote against the money budget, per caller, as the money mutations it prices', async () => {
    const rate = { baseCurrency: 'USD', quoteCurrency: 'THB', rate: '36.5' };
    const set = await post(
      stack.gatewayUrl,
      { query: contractOperation('SetFxRate'), variables: { input: rate } },
      await token('rate-operator', 'operator'),
    );
    expect(set.body.data?.setFxRate?.__typename).toBe('FxRate');
    const [a, b] = await Promise.all([customer(), customer()]);
    const quote = (who: Customer) =>
      post(
        gateway.url,
        {
          query: contractOperation('CreateFxQuote'),
          variables: { input: { sellCurrency: 'USD', buyCurrency: 'THB', sellAmount: '100' } },
        },
        who.bearer,
      );
    for (let i = 0; i < moneyBudget; i++) {
      const made = await quote(a);
      expect(made.status).toBe(200);
      expect(made.body.data?.createFxQuote.__typename).toBe('FxQuote');
    }
    // The refusal a money mutation gets (429, RATE_LIMITED, bucket money, Retry-After), and the
    // budget is the one money mutations share: a's withdrawal is refused the same way.
    await expectLimited(gateway, () => quote(a), 'money');
    await expectLimited(gateway, () => withdraw(gateway, a), 'money');
    const other = await quote(b);
    expect(other.status).toBe(200);
    expect(other.body.data?.createFxQuote.__typename).toBe('FxQuote');
  });

  it('weighs createPayments by its number of inputs', async () => {
    const [payer, payee] = await Promise.all([customer(), customer()]);
    const bulk = `mutation Bulk($inputs: [CreatePaymentInput!]!) { createPayments(inputs: $inputs) { __typename } }`;
    const inputs = (count: number) =>
      Array.from({ length: count }, () => ({
        idempotencyKey: unique('bulk'),
        payerAccountId: payer.accountId,
        payeeAccountId: payee.accountId,
        amount: '1',
        currency: 'USD',
      }));
    // More inputs than the whole budget: refused for good, with no Retry-After.
    const before = gateway.subgraphCalls();
    const tooBig = await post(
      gateway.url,
      { query: bulk, variables: { inputs: inputs(moneyBudget + 1) } },
      payer.bearer,
    );
    expect(gateway.subgraphCalls()).toBe(before);
    expect(tooBig.status).toBe(429);
    expect(codes(tooBig)).toEqual(['RATE_LIMITED']);
    expect(tooBig.body.errors![0]!.extensions!.retryAfterSeconds).toBeNull();
    expect(tooBig.headers.get('retry-after')).toBeNull();

    const two = await post(gateway.url, { query: bulk, variables: { inputs: inputs(2) } }, payer.bearer);
    expect(two.status).toBe(200);
    expect(two.body.data?.createPayments).toHaveLength(2);
    // Two of three units are gone: one more input fits, two do not.
    await expectLimited(
      gateway,
      () => post(gateway.url, { query: bulk, variables: { inputs: inputs(2) } }, payer.bearer),
      'money',
    );
    expect((await post(gateway.url, { query: bulk, variables: { inputs: inputs(1) } }, payer.bearer)).status).toBe(200);
  });
});

describe('rate limits through Redis', () => {
  const prefix = unique('paygraph-test-ratelimit');
  let first: GuardedGateway;
  let second: GuardedGateway;
  beforeAll(async () => {
    first = await guarded('redis-1', { redisUrl, redisKeyPrefix: prefix });
    second = await guarded('redis-2', { redisUrl, redisKeyPrefix: prefix });
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
  });

  it('shares one budget between two gateways, per principal', async () => {
    const [a, b] = await Promise.all([customer(), customer()]);
    for (let i = 0; i < moneyBudget; i++)
      expect((await withdraw(i % 2 === 0 ? first : second, a)).body.data?.withdraw.__typename).toBe('Withdrawal');
    await expectLimited(first, () => withdraw(first, a), 'money');
    await expectLimited(second, () => withdraw(second, a), 'money');
    expect((await withdraw(second, b)).body.data?.withdraw.__typename).toBe('Withdrawal');
  });

  it('counts in Redis, atomically across concurrent requests', async () => {
    const limiter = new RedisRateLimiter({ url: redisUrl, keyPrefix: unique('paygraph-test-ratelimit') });
    try {
      // Until it is connected the limiter decides in memory, which would count the same here.
      expect(await limiter.ready(5_000)).toBe(true);
      const now = Date.now();
      const decisions = await Promise.all(
        Array.from({ length: 20 }, () =>
          limiter.take('customer:racer', [{ bucket: 'money', weight: 1, limit: 7 }], now),
        ),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(7);
    } finally {
      await limiter.close();
    }
  });

  it('falls back to per-process budgets while Redis does not answer', async () => {
    // Nothing listens on port 1, so every command fails at once.
    const limiter = new RedisRateLimiter({ url: 'redis://127.0.0.1:1', keyPrefix: 'unused' });
    try {
      expect(await limiter.ready(200)).toBe(false);
      const charge = [{ bucket: 'money' as const, weight: 1, limit: 2 }];
      const now = Date.now();
      expect((await limiter.take('customer:offline', charge, now)).allowed).toBe(true);
      expect((await limiter.take('customer:offline', charge, now)).allowed).toBe(true);
      expect(await limiter.take('customer:offline', charge, now)).toMatchObject({ allowed: false, bucket: 'money' });
    } finally {
      await limiter.close();
    }
  });
});
