import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { eq } from 'drizzle-orm';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import { listen } from '@paygraph/shared/server/http';
import { payments } from '@paygraph/transaction/db/schema/transactions';
import { createGateway } from '../gateway/src/server';
import { subgraphConnectionsMax, subgraphRequestTimeoutMs } from '../gateway/src/limits';
import { startGuardedGateway, type GuardedGateway } from '../gateway/test/support/guarded-gateway';
import { startStubSubgraph } from '../gateway/test/support/stub-subgraph';
import { startStack, type Stack } from './support/stack';
import { detailDocs, moneyKit, moneyDocs, type Answer, type MoneyKit } from './support/money';
import { contractOperation, gql } from './support/graphql';
import {
  testConfig,
  testSecurityOptions,
  testSettlementSettings,
  testSubgraphSecrets,
  testTokens,
  testTrusts,
  token,
  unique,
} from './support/env';
import { freePort, spawnService } from './support/processes';
import { finishAdvancesLeftDue, settleDue } from '@paygraph/settlement/services/worker';
import { eventually } from './support/bank';
import { startTcpProxy, targetOf, throughProxy, type TcpProxy } from './support/tcp-proxy';

/**
 * The whole system with one shard's database behind a TCP proxy (support/tcp-proxy.ts): what a
 * client sees while that shard is blackholed (answers, fail-fast, health, the retry that
 * answers the final outcome), and what it sees while a subgraph does not answer at all.
 */
const urls = (process.env.MYSQL_SHARDS ?? '').split(',');
const faultedIndex = 1;
/** The contract: an operation that needs an unreachable shard answers within 3 s. */
const answerWithinMs = 3_000;
/** An open breaker answers without a network wait; the rest is the gateway and the subgraph under load. */
const fastFailMs = 1_000;
/** Service returns within this of the shard's recovery. */
const recoveryWithinMs = 5_000;
/** A client's usual timeout: the gateway must answer well before it. */
const clientTimeoutMs = 10_000;

let proxy: TcpProxy;
let shards: ShardSet;
let stack: Stack;
let production: GuardedGateway;
let kit: MoneyKit;
/** Accounts on the faulted shard and on a healthy one (two there, funded, for a local payment). */
let onFaulted: string;
let healthyPayer: string;
let healthyPayee: string;

beforeAll(async () => {
  proxy = await startTcpProxy(targetOf(urls[faultedIndex]!));
  shards = openShards({
    urls: urls.map((u, i) => (i === faultedIndex ? throughProxy(u, proxy) : u)).join(','),
    poolSize: 4,
    posting: testConfig().posting,
  });
  stack = await startStack({ shards });
  // The same subgraphs behind a gateway in production mode: no stack traces, no suggestions.
  const auditLogFile = join(mkdtempSync(join(tmpdir(), 'paygraph-unavailable-')), 'audit.jsonl');
  production = await startGuardedGateway(stack, {
    production: true,
    security: { auditShards: null, redisUrl: null, auditLogFile },
  });
  kit = await moneyKit(stack);
  onFaulted = await kit.open(unique('faulted'), { physical: faultedIndex });
  healthyPayer = await kit.open(unique('healthy-payer'), { physical: 0 });
  healthyPayee = await kit.open(unique('healthy-payee'), { physical: 0 });
  await kit.fund(healthyPayer, '100000');
});

afterAll(async () => {
  await production?.stop();
  await stack?.stop();
  await proxy?.close();
});

afterEach(async () => {
  proxy.setMode('pass');
  await untilClosed();
});

function faultedName(): string {
  return shards.all[faultedIndex]!.name;
}

/** Waits until the faulted shard's breaker has closed again (its own probe finds the shard). */
async function untilClosed(): Promise<void> {
  const faulted = shards.all[faultedIndex]!;
  const deadline = Date.now() + 10_000;
  while (faulted.pool.state !== 'closed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(faulted.pool.state).toBe('closed');
}

/** No address, port, SQL or socket error anywhere in an answer. */
function expectNothingInternal(answer: unknown): void {
  const text = JSON.stringify(answer);
  expect(text).not.toContain(String(proxy.port));
  expect(text).not.toContain('127.0.0.1');
  expect(text).not.toContain('mysql://');
  expect(text).not.toMatch(/\b(select|insert|update)\b/i);
  expect(text).not.toMatch(/socket|ETIMEDOUT|ECONN|PROTOCOL_/);
}

function healthUrl(graphqlUrl: string, path: string): string {
  return graphqlUrl.replace(/\/graphql$/, path);
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { ms: performance.now() - started, result };
}

describe.each([
  { mode: 'development', gatewayUrl: () => stack.gatewayUrl },
  { mode: 'production', gatewayUrl: () => production.url },
])('with one shard blackholed ($mode)', ({ mode, gatewayUrl }) => {
  it('answers SHARD_UNAVAILABLE within 3 s, then fast, without internals; serves the other shards; and heals', async () => {
    const key = unique('dep-fault');
    const deposit = (): Promise<Answer> =>
      gql(
        gatewayUrl(),
        moneyDocs.deposit,
        {
          input: { idempotencyKey: key, accountId: onFaulted, amount: '100', currency: 'USD' },
        },
        kit.operator,
      );
    proxy.setMode('blackhole');
    const first = await timed(deposit);
    console.log(`${mode}: a deposit on the blackholed shard answered after ${Math.round(first.ms)} ms`);
    expect(first.ms).toBeLessThan(answerWithinMs);
    expect(first.result.errors?.[0]?.extensions).toMatchObject({
      code: 'SHARD_UNAVAILABLE',
      retryable: true,
      shard: faultedName(),
    });
    expectNothingInternal(first.result);
    if (mode === 'production') expect(JSON.stringify(first.result)).not.toContain('stacktrace');

    // The breaker is open: the next operation on the shard meets no network wait.
    const again = await timed(() => gql(gatewayUrl(), moneyDocs.getAccount, { id: onFaulted }, kit.operator));
    console.log(`${mode}: a read with the breaker open answered after ${Math.round(again.ms)} ms`);
    expect(again.result.errors?.[0]?.extensions).toMatchObject({
      code: 'SHARD_UNAVAILABLE',
      retryable: true,
      shard: faultedName(),
    });
    expect(again.ms).toBeLessThan(fastFailMs);
    expectNothingInternal(again.result);

    // Operations that need only a healthy shard go on: reading a personal account there (one
    // statement on its own shard), a payment between two of its accounts, and reading it back.
    const account = await gql(gatewayUrl(), moneyDocs.getAccount, { id: healthyPayee }, kit.operator);
    expect(account.errors).toBeUndefined();
    expect(account.data?.account).toMatchObject({ id: healthyPayee, status: 'ACTIVE' });
    const paid = await gql(
      gatewayUrl(),
      detailDocs.createPayment,
      {
        input: {
          idempotencyKey: unique('pay-healthy'),
          payerAccountId: healthyPayer,
          payeeAccountId: healthyPayee,
          amount: '10',
          currency: 'USD',
        },
      },
      kit.operator,
    );
    expect(paid.errors).toBeUndefined();
    expect(paid.data?.createPayment).toMatchObject({
      __typename: 'Payment',
      paymentStatus: 'SUCCEEDED',
      route: 'SAME_SHARD',
    });
    const read = await gql(gatewayUrl(), detailDocs.paymentDetail, { id: paid.data!.createPayment.id }, kit.operator);
    expect(read.errors).toBeUndefined();
    expect(read.data?.payment).toMatchObject({ status: 'SUCCEEDED', amount: '10' });

    // The shard comes back: the same request (same key) answers its final outcome, once.
    proxy.setMode('pass');
    const healed = performance.now();
    let retried = await deposit();
    while (retried.errors && performance.now() - healed < recoveryWithinMs) {
      await new Promise((r) => setTimeout(r, 100));
      retried = await deposit();
    }
    console.log(
      `${mode}: the deposit succeeded ${Math.round(performance.now() - healed)} ms after the shard answered again`,
    );
    expect(retried.errors).toBeUndefined();
    expect(retried.data?.deposit).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED', amount: '100' });
    const once = await deposit();
    expect(once.data?.deposit.id).toBe(retried.data?.deposit.id);
  });
});

describe('the settlement and advance workers with one shard blackholed', () => {
  it('read the other databases and finish their pass instead of failing it for every merchant', async () => {
    // A clock long past: nothing is due anywhere, so the pass only reads; before, the blackholed database's read failed
    // the whole pass (Promise.all), every pass, and no merchant on a healthy database settled until it returned.
    const long = () => new Date('2000-01-10T00:00:00Z');
    proxy.setMode('blackhole');
    await expect(settleDue(shards, long, 1, testSettlementSettings())).resolves.toBe(0);
    await expect(finishAdvancesLeftDue(shards, long)).resolves.toBe(0);
    expect(shards.all[faultedIndex]!.pool.state).not.toBe('closed');
  });
});

describe('ledgerHealth with one shard blackholed', () => {
  it("answers within 3 s the other databases' health, naming the one away and balanced false, instead of failing", async () => {
    proxy.setMode('blackhole');
    // The contract's document, which does not ask which databases were left out. Before, the database away failed the
    // whole answer (SHARD_UNAVAILABLE) and no database's health was told.
    const contract = await timed(() => gql(stack.gatewayUrl, contractOperation('LedgerHealth'), {}, kit.operator));
    console.log(`ledgerHealth with a database blackholed answered after ${Math.round(contract.ms)} ms`);
    expect(contract.ms).toBeLessThan(answerWithinMs);
    expect(contract.result.errors).toBeUndefined();
    expect(contract.result.data!.ledgerHealth.balanced).toBe(false);
    const asked = await gql(
      stack.gatewayUrl,
      `{ ledgerHealth { balanced unreachableShards shards { shard } inTransit { currency } frozenMismatches { accountId } } }`,
      {},
      kit.operator,
    );
    expect(asked.errors).toBeUndefined();
    const health = asked.data!.ledgerHealth;
    const named = (health.shards as Array<{ shard: string }>).map((s) => s.shard);
    expect(health.unreachableShards).toEqual([faultedName()]);
    expect(health.balanced).toBe(false);
    expect(named).not.toContain(faultedName());
    expect(named).toContain(shards.all[0]!.name);
    expectNothingInternal(asked);
    expectNothingInternal(contract.result);

    proxy.setMode('pass');
    await untilClosed();
    const back = await gql(stack.gatewayUrl, `{ ledgerHealth { unreachableShards } }`, {}, kit.operator);
    expect(back.data!.ledgerHealth.unreachableShards).toEqual([]);
  });
});

describe('health with one shard blackholed', () => {
  it('is live, and ready but degraded naming the down shard, on every subgraph and the gateway; by database name only', async () => {
    proxy.setMode('blackhole');
    // Let the shard's breaker find out, as a client's request would.
    await kit.deposit(onFaulted, '1');
    for (const [name, url] of Object.entries(stack.subgraphUrls)) {
      const live = await fetch(healthUrl(url, '/health/live'));
      expect(live.status, name).toBe(200);
      expect(await live.json()).toEqual({ service: name, status: 'live' });
      for (const path of ['/health/ready', '/health']) {
        const started = performance.now();
        const ready = await fetch(healthUrl(url, path));
        expect(performance.now() - started, `${name} ${path}`).toBeLessThan(answerWithinMs);
        expect(ready.status, `${name} ${path}`).toBe(200);
        const body = (await ready.json()) as {
          service: string;
          status: string;
          down: string[];
          shards: Array<Record<string, unknown>>;
        };
        expect(body).toMatchObject({ service: name, status: 'degraded', down: [faultedName()] });
        expect(body.shards).toHaveLength(shards.all.length);
        for (const shard of body.shards) {
          const down = shard.shard === faultedName();
          expect(shard).toEqual({
            shard: expect.any(String),
            state: down ? expect.stringMatching(/^(down|breaker-open)$/) : 'up',
            ok: !down,
          });
        }
        expectNothingInternal(body);
      }
    }
    const live = await fetch(healthUrl(stack.gatewayUrl, '/health/live'));
    expect(live.status).toBe(200);
    const ready = await fetch(healthUrl(stack.gatewayUrl, '/health/ready'));
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      status: string;
      subgraphs: Array<{ subgraph: string; ok: boolean; status: string; down: string[] }>;
    };
    expect(body.status).toBe('degraded');
    for (const subgraph of body.subgraphs)
      expect(subgraph).toEqual({ subgraph: subgraph.subgraph, ok: true, status: 'degraded', down: [faultedName()] });
    expectNothingInternal(body);

    proxy.setMode('pass');
    await untilClosed();
    const back = await fetch(healthUrl(stack.subgraphUrls.account, '/health/ready'));
    expect(await back.json()).toMatchObject({ status: 'ready', down: [] });
  });
});

describe("a cross-shard payment whose payee's shard is blackholed after the debit", () => {
  it('answers PROCESSING or a retryable error; a retry with the same key answers SUCCEEDED, same payment, money moved once', async () => {
    const payer = await kit.open(unique('near-payer'), { physical: 0 });
    await kit.fund(payer, '1000');
    const payee = await kit.open(unique('far-payee'), { physical: faultedIndex });
    const input = {
      idempotencyKey: unique('pay-cross'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '700',
      currency: 'USD',
    };
    // A session of our own, straight to the payee's database (not through the proxy), holds the
    // payee's row: the payment debits its payer, then its credit waits on that lock, and the
    // shard goes dark under it.
    const holder = await mysql.createConnection({ uri: urls[faultedIndex]! });
    let first: Answer;
    let debited: string | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [payee]);
      const answering = gql(stack.gatewayUrl, detailDocs.createPayment, { input }, kit.operator);
      // The payment row appears on the payer's shard when the debit commits.
      const payerShard = stack.shards.all[0]!;
      const deadline = performance.now() + 5_000;
      while (!debited && performance.now() < deadline) {
        const rows = await payerShard.db
          .select({ id: payments.id })
          .from(payments)
          .where(eq(payments.payerAccountId, payer));
        debited = rows[0]?.id;
        if (!debited) await new Promise((r) => setTimeout(r, 10));
      }
      proxy.setMode('blackhole');
      first = await answering;
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(debited, 'the debit committed').toBeDefined();
    console.log(
      `the cross-shard payment first answered ${JSON.stringify(first.data?.createPayment ?? first.errors?.[0]?.extensions?.code)}`,
    );
    expectNothingInternal(first);
    if (first.errors) {
      expect(first.errors[0]!.extensions).toMatchObject({ retryable: true });
      expect(['SHARD_UNAVAILABLE', 'SUBGRAPH_UNAVAILABLE']).toContain(first.errors[0]!.extensions?.code);
    } else {
      expect(first.data?.createPayment).toMatchObject({
        __typename: 'Payment',
        id: debited,
        paymentStatus: 'PROCESSING',
      });
    }

    proxy.setMode('pass');
    await untilClosed();
    const retry = (): Promise<Answer> => gql(stack.gatewayUrl, detailDocs.createPayment, { input }, kit.operator);
    let final = await retry();
    const healed = performance.now();
    while (
      (final.errors || final.data?.createPayment.paymentStatus !== 'SUCCEEDED') &&
      performance.now() - healed < recoveryWithinMs
    ) {
      await new Promise((r) => setTimeout(r, 100));
      final = await retry();
    }
    expect(final.errors).toBeUndefined();
    expect(final.data?.createPayment).toMatchObject({
      __typename: 'Payment',
      id: debited,
      paymentStatus: 'SUCCEEDED',
      route: 'CROSS_SHARD',
    });
    expect((await retry()).data?.createPayment).toMatchObject({ id: debited, paymentStatus: 'SUCCEEDED' });
    // Money moved once: the payer paid 700 and the payee holds 700.
    expect((await kit.balance(payer)).available).toBe('300');
    expect((await kit.balance(payee)).available).toBe('700');
  });
});

describe("a payment of many legs with one leg's shard down", () => {
  it('answers SHARD_UNAVAILABLE (retryable) with nothing written; a retry with the same key after the shard is back pays every leg once', async () => {
    const payer = await kit.open(unique('legs-payer'), { physical: 0 });
    await kit.fund(payer, '1000');
    const payee = await kit.open(unique('legs-payee'), { physical: 0 });
    const split = await kit.open(unique('legs-split'), { physical: faultedIndex });
    const input = {
      idempotencyKey: unique('legs-down'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '600',
      currency: 'USD',
      splits: [{ accountId: split, amount: '100' }],
    };
    const pay = (): Promise<Answer> => gql(stack.gatewayUrl, detailDocs.createPayment, { input }, kit.operator);
    proxy.setMode('blackhole');
    let first: Answer;
    try {
      first = await pay();
    } finally {
      proxy.setMode('pass');
    }
    expectNothingInternal(first);
    expect(first.errors?.[0]?.extensions).toMatchObject({ code: 'SHARD_UNAVAILABLE', retryable: true });
    expect((await kit.balance(payer)).available).toBe('1000');
    await untilClosed();
    expect(await kit.paymentIds(payer)).toEqual([]);
    let final = await pay();
    const healed = performance.now();
    while (
      (final.errors || final.data?.createPayment.paymentStatus !== 'SUCCEEDED') &&
      performance.now() - healed < recoveryWithinMs
    ) {
      await new Promise((r) => setTimeout(r, 100));
      final = await pay();
    }
    expect(final.data?.createPayment).toMatchObject({
      __typename: 'Payment',
      paymentStatus: 'SUCCEEDED',
      route: 'LEGS',
    });
    expect((await pay()).data?.createPayment).toMatchObject({
      id: final.data?.createPayment.id,
      paymentStatus: 'SUCCEEDED',
    });
    expect((await kit.balance(payer)).available).toBe('400');
    expect((await kit.balance(payee)).available).toBe('500');
    expect((await kit.balance(split)).available).toBe('100');
  });
});

/**
 * A gateway whose transaction subgraph accepts connections and never answers, for `work`; closed after, once the calls
 * `work` left in flight have ended.
 */
async function withHungTransaction(
  work: (port: number, hungPort: number) => Promise<ReadonlyArray<Promise<unknown>> | void>,
): Promise<void> {
  const hung = http.createServer(() => {
    // Never answers.
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', () => resolve()));
  const hungPort = (hung.address() as AddressInfo).port;
  const gateway = await createGateway(
    testTokens(),
    { ...stack.subgraphUrls, transaction: `http://127.0.0.1:${hungPort}/graphql` },
    testTrusts(),
    { security: testSecurityOptions() },
  );
  const port = await listen(gateway.http, 0, '127.0.0.1');
  let inFlight: ReadonlyArray<Promise<unknown>> = [];
  try {
    inFlight = (await work(port, hungPort)) ?? [];
  } finally {
    // The hung subgraph's connections first: calls still waiting on it then fail at once, and the gateway stops.
    hung.closeAllConnections();
    hung.close();
    await Promise.allSettled(inFlight);
    gateway.http.closeAllConnections();
    gateway.http.close();
    await gateway.stop();
  }
}

describe('a subgraph that does not answer', () => {
  it("answers SUBGRAPH_UNAVAILABLE (retryable) after the gateway's subgraph timeout, well before a client's 10 s, without its address", async () => {
    await withHungTransaction(async (port, hungPort) => {
      const { ms, result } = await timed(async () =>
        gql(
          `http://127.0.0.1:${port}/graphql`,
          moneyDocs.deposit,
          {
            input: { idempotencyKey: unique('dep-hung'), accountId: healthyPayee, amount: '1', currency: 'USD' },
          },
          await token('operator', 'operator'),
        ),
      );
      console.log(
        `a hung subgraph answered after ${Math.round(ms)} ms (subgraphRequestTimeoutMs ${subgraphRequestTimeoutMs})`,
      );
      expect(ms).toBeGreaterThanOrEqual(subgraphRequestTimeoutMs - 50);
      expect(ms).toBeLessThan(subgraphRequestTimeoutMs + 2_000);
      expect(subgraphRequestTimeoutMs + 2_000).toBeLessThan(clientTimeoutMs);
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: 'SUBGRAPH_UNAVAILABLE',
        retryable: true,
        subgraph: 'transaction',
      });
      expect(JSON.stringify(result)).not.toContain(String(hungPort));
      // The gateway stays ready, degraded: its other subgraphs serve.
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as {
        status: string;
        subgraphs: Array<{ subgraph: string; ok: boolean; status: string }>;
      };
      expect(body.status).toBe('degraded');
      expect(body.subgraphs.find((s) => s.subgraph === 'transaction')).toMatchObject({
        ok: false,
        status: 'unreachable',
      });
      expect(JSON.stringify(body)).not.toContain(String(hungPort));
    });
  });

  it('answers a call waiting for a connection within its own limit, whatever the limits of the calls ahead', async () => {
    // Every connection taken by a bulk createPayments (its limit bulkPaymentsTimeoutMs, 30 s), then deposits (5 s):
    // undici starts a call's timers once it has a connection, so the deposits waited for the bulk calls' 30 s.
    await withHungTransaction(async (port) => {
      const operator = await token('operator', 'operator');
      const url = `http://127.0.0.1:${port}/graphql`;
      const input = () => ({ idempotencyKey: unique('queued'), accountId: healthyPayee, amount: '1', currency: 'USD' });
      const bulkDoc = `mutation Bulk($inputs: [CreatePaymentInput!]!) { createPayments(inputs: $inputs) { __typename } }`;
      const payment = () => ({
        idempotencyKey: unique('queued-bulk'),
        payerAccountId: healthyPayer,
        payeeAccountId: healthyPayee,
        amount: '1',
        currency: 'USD',
      });
      const bulk = Array.from({ length: subgraphConnectionsMax }, () =>
        gql(url, bulkDoc, { inputs: [payment()] }, operator),
      );
      // The bulk calls first, on every connection.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const deposits = await Promise.all(
        Array.from({ length: 16 }, () => timed(() => gql(url, moneyDocs.deposit, { input: input() }, operator))),
      );
      const slowest = Math.max(...deposits.map((c) => c.ms));
      console.log(
        `16 calls queued behind ${bulk.length} bulk calls to a hung subgraph: the slowest took ${Math.round(slowest)} ms`,
      );
      expect(slowest).toBeLessThan(subgraphRequestTimeoutMs + 2_000);
      for (const { result } of deposits)
        expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', retryable: true });
      return bulk;
    });
  });
});

/** What a failing subgraph says: an address and SQL, for the log and never for a client. */
const failureDetail = 'lost connection to 10.20.30.40:3306 during SELECT * FROM payments';

/** A transaction subgraph that fails in one way, at `url`; `port` must not reach clients. */
interface Fault {
  url: string;
  port: number;
  close(): Promise<void>;
}

const faults: Record<string, () => Promise<Fault>> = {
  'refuses connections': async () => {
    const port = await freePort();
    return { url: `http://127.0.0.1:${port}/graphql`, port, close: async () => {} };
  },
  'resets connections': async () => {
    const server = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}/graphql`,
      port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  'answers HTTP 500': () =>
    startStubSubgraph({
      status: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errors: [{ message: failureDetail }] }),
    }),
  'answers HTTP 503': () =>
    startStubSubgraph({ status: 503, headers: { 'content-type': 'text/plain' }, body: failureDetail }),
};

describe('a subgraph that refuses, resets or fails', () => {
  it.each(Object.keys(faults))(
    'that %s: answers SUBGRAPH_UNAVAILABLE (retryable) at once, without its address or what it said',
    async (name) => {
      const fault = await faults[name]!();
      const gateway = await createGateway(
        testTokens(),
        { ...stack.subgraphUrls, transaction: fault.url },
        testTrusts(),
        {
          security: { auditShards: null, redisUrl: null },
        },
      );
      const port = await listen(gateway.http, 0, '127.0.0.1');
      try {
        const { ms, result } = await timed(async () =>
          gql(
            `http://127.0.0.1:${port}/graphql`,
            moneyDocs.deposit,
            {
              input: { idempotencyKey: unique('dep-fault'), accountId: healthyPayee, amount: '1', currency: 'USD' },
            },
            await token('operator', 'operator'),
          ),
        );
        expect(ms).toBeLessThan(subgraphRequestTimeoutMs);
        expect(result.errors).toHaveLength(1);
        expect(result.errors?.[0]?.extensions).toMatchObject({
          code: 'SUBGRAPH_UNAVAILABLE',
          retryable: true,
          subgraph: 'transaction',
        });
        const text = JSON.stringify(result);
        expect(text).not.toContain(String(fault.port));
        expect(text).not.toContain('10.20.30.40');
        expect(text).not.toContain('SELECT');
      } finally {
        gateway.http.closeAllConnections();
        gateway.http.close();
        await gateway.stop();
        await fault.close();
      }
    },
  );

  it('is logged by the gateway with what the client is not told: the refused address, and what a failing subgraph answered', async () => {
    const refused = await faults['refuses connections']!();
    const failing = await faults['answers HTTP 500']!();
    const logFile = join(mkdtempSync(join(tmpdir(), 'paygraph-subgraph-faults-')), 'gateway.log');
    const child = await spawnService(
      'gateway',
      {
        ACCOUNT_URL: stack.subgraphUrls.account,
        TRANSACTION_URL: failing.url,
        SETTLEMENT_URL: refused.url,
        WEBHOOKS_URL: stack.subgraphUrls.webhooks,
        SUBGRAPH_SECRET_ACCOUNT: testSubgraphSecrets.account,
        SUBGRAPH_SECRET_TRANSACTION: testSubgraphSecrets.transaction,
        SUBGRAPH_SECRET_SETTLEMENT: testSubgraphSecrets.settlement,
        SUBGRAPH_SECRET_WEBHOOKS: testSubgraphSecrets.webhooks,
        REDIS_URL: '',
        AUDIT_LOG_FILE: join(tmpdir(), 'paygraph-test-audit.jsonl'),
        LOG_LEVEL: 'info',
      },
      undefined,
      logFile,
    );
    try {
      const operator = await token('operator', 'operator');
      const payment = await gql(
        child.graphqlUrl,
        'query { payment(id: "pay_00000000000000000000000000_00") { id } }',
        {},
        operator,
      );
      expect(payment.errors?.[0]?.extensions).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', subgraph: 'transaction' });
      const settlement = await gql(
        child.graphqlUrl,
        'query { settlement(id: "stl_00000000000000000000000000_00") { id } }',
        {},
        operator,
      );
      expect(settlement.errors?.[0]?.extensions).toMatchObject({
        code: 'SUBGRAPH_UNAVAILABLE',
        subgraph: 'settlement',
      });
      expect(JSON.stringify([payment, settlement])).not.toMatch(
        new RegExp(`${refused.port}|${failing.port}|10\\.20\\.30\\.40`),
      );
      const lines = (): Array<{ msg?: string; detail?: string; err?: { message?: string } }> =>
        readFileSync(logFile, 'utf8')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { msg?: string });
      const answered = await eventually('the 500 in the log', 5_000, async () =>
        lines().find((l) => l.msg === 'subgraph transaction answered HTTP 500'),
      );
      expect(answered.detail).toContain(failureDetail);
      const unanswered = await eventually('the refusal in the log', 5_000, async () =>
        lines().find((l) => l.msg === 'subgraph settlement did not answer'),
      );
      expect(unanswered.err?.message).toContain(String(refused.port));
    } finally {
      await child.kill();
      await failing.close();
    }
  });
});

describe('a gateway none of whose subgraphs answers', () => {
  it('is live, and not ready (503)', async () => {
    const refused = http.createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', () => resolve()));
    const deadPort = (refused.address() as AddressInfo).port;
    await new Promise<void>((resolve) => refused.close(() => resolve()));
    const dead = `http://127.0.0.1:${deadPort}/graphql`;
    const gateway = await createGateway(
      testTokens(),
      { account: dead, transaction: dead, settlement: dead, webhooks: dead },
      testTrusts(),
      { security: testSecurityOptions() },
    );
    const port = await listen(gateway.http, 0, '127.0.0.1');
    try {
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
      for (const path of ['/health/ready', '/health']) {
        const ready = await fetch(`http://127.0.0.1:${port}${path}`);
        expect(ready.status, path).toBe(503);
        const body = (await ready.json()) as { status: string };
        expect(body.status).toBe('unavailable');
        expect(JSON.stringify(body)).not.toContain(String(deadPort));
      }
    } finally {
      gateway.http.closeAllConnections();
      gateway.http.close();
      await gateway.stop();
    }
  });
});
