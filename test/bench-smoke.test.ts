import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dropDatabases, recreateDatabases } from '../scripts/bench/bench-stack';
import {
  advancePendingPerMerchant,
  openAndFund,
  prepareAdvanceMerchants,
  prepareFxPayees,
  type Fixtures,
} from '../scripts/bench/fixtures';
import { LoadClient } from '../scripts/bench/load';
import {
  AdvanceOps,
  accountsByOwnerOps,
  bulkPaymentOps,
  fxQuotedPaymentOps,
  FxQuotePool,
  getAccountOps,
  holdCaptureOps,
  marketplaceOps,
  runScenario,
  singlePaymentOps,
  type BenchContext,
} from '../scripts/bench/scenarios';
import { prepareReadAccounts } from '../scripts/bench/read-fixtures';
import { contractOperation, dataField, requestBody } from '../scripts/bench/documents';
import { startStack, type Stack } from './support/stack';
import { testConfig, testPoolSizeDefault, token } from './support/env';
import { runEngineScenario } from '../scripts/bench/engine';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import { runEventDelivery } from '../scripts/bench/event-delivery';

/**
 * A few seconds of the benchmark (scripts/bench) in npm test, so that it keeps working as the
 * system changes: scenario (a); holds against the hot merchant, FX payments (b-fx-quoted, and b-fx
 * with its quotes made ahead), marketplace payments and settlement advances (b); a bulk scenario (c) and the
 * engines alone (d) for about two seconds each, and bench:events' delivery measurement with a
 * few subscribed accounts, against an in-process stack on databases of
 * their own (the ledger-wide invariants would see other test files' payments in flight on the
 * shared test shards), each followed by the invariant check.
 */
const smokeSeconds = 2;
const smokeAccountCount = 60;
const smokeConcurrency = 8;
/**
 * The engines' own pools, per shard, beside the stack's (testPoolSizeDefault): the benchmark's
 * default of 10 made this file hold 38 connections, most of npm test's budget (testRunConnectionsMax).
 * Every payment goes to one merchant, so two per shard serve the smoke's callers as well.
 */
const smokeEnginePoolSize = 2;
const smokeBulkSize = 100;
const smokeOpenRatePerSecond = 40;
const smokeReadAccounts = 12;
const smokeReadEntriesMin = 10;
const smokeSubscribedAccounts = 12;
const smokeEventRatePerSecond = 30;

/**
 * paygraph_test_s0 → paygraph_bench_smoke_<pid>_s0, on whatever server npm test found: named per
 * process, so that two npm test runs on one server never drop each other's databases.
 */
function smokeShardUrls(): string {
  return testConfig()
    .shards.urls.split(',')
    .map((raw, i) => {
      const url = new URL(raw.trim());
      url.pathname = `/paygraph_bench_smoke_${process.pid}_s${i}`;
      return url.toString();
    })
    .join(',');
}

describe('benchmark smoke run', () => {
  let stack: Stack;
  let client: LoadClient;
  let ctx: BenchContext;
  const urls = smokeShardUrls();

  beforeAll(async () => {
    await recreateDatabases(urls);
    stack = await startStack({
      shards: openShards({ urls, poolSize: testPoolSizeDefault, posting: testConfig().posting }),
    });
    const operator = await token('bench-smoke', 'operator');
    client = new LoadClient({ url: stack.gatewayUrl, token: operator }, smokeConcurrency);
    const runId = `smoke${Date.now().toString(36)}`;
    const fixtures: Fixtures = await openAndFund({
      client,
      runId,
      topology: stack.shards.topology,
      accountCount: smokeAccountCount,
      log: () => {},
    });
    ctx = {
      token: operator,
      fixtures,
      shards: stack.shards,
      runId,
      seconds: smokeSeconds,
      log: () => {},
      pids: () => new Map([['in-process', process.pid]]),
      postingMetricsUrl: () => new URL('/metrics', stack.subgraphUrls.transaction).toString(),
    };
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    await dropDatabases(urls);
  });

  test("the load client answers a body's text, and a status other than 200 as an error naming it", async () => {
    // LoadClient gathers the answer from undici's dispatch callbacks itself (load.ts TextAnswer), not from a stream.
    await expect(client.sendText('{"query": ')).rejects.toThrow(/^HTTP 400: /);
    const text = await client.sendText(JSON.stringify({ query: '{ __typename }' }));
    expect(JSON.parse(text)).toBeTypeOf('object');
  });

  test('scenario (a): single payments through the gateway produce figures and keep the ledger whole', async () => {
    const ops = singlePaymentOps(ctx, 'uniform');
    const result = await runScenario(ctx, {
      id: 'a-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: ops.next,
      unitsPerRequest: 1,
      load: { concurrency: smokeConcurrency },
      crossShardShare: ops.crossShardShare,
    });
    expect(result.load.succeededUnits).toBeGreaterThan(0);
    expect(result.load.failedUnits).toBe(0);
    expect(result.load.unitsPerSecond).toBeGreaterThan(0);
    expect(result.load.latencyMs.p99).toBeGreaterThanOrEqual(result.load.latencyMs.p50);
    expect(result.cpuMsPerUnit['in-process']).toBeGreaterThan(0);
    // The stack answers itself over HTTP and MySQL's socket: a payment is several write and read calls, and waits.
    const kernel = result.kernelCounts!['in-process']!;
    expect(kernel.writes).toBeGreaterThanOrEqual(result.load.succeededUnits);
    expect(kernel.reads).toBeGreaterThanOrEqual(result.load.succeededUnits);
    expect(kernel.waits).toBeGreaterThan(0);
    expect(result.crossShardShare).toBeGreaterThan(0.5);
    // Every payment posts its debit through the merger, a cross-shard one its credit too: the window's histograms saw them.
    const stages = result.postingStages!;
    expect(stages.postings).toBeGreaterThanOrEqual(result.load.succeededUnits);
    expect(stages.batches).toBeGreaterThan(0);
    expect(stages.postingsPerBatch).toBeGreaterThanOrEqual(1);
    expect(stages.batchMsMean).toBeGreaterThan(0);
    expect(stages.queueMsMean).toBeGreaterThanOrEqual(0);
    expect(result.invariants?.balanced).toBe(true);
    expect(result.invariants?.inTransit).toEqual([]);
  });

  test('scenario (a) in an open loop: requests leave at their rate, each timed from its due time, and one run dry ends it', async () => {
    const ops = singlePaymentOps(ctx, 'uniform');
    const spec = {
      id: 'a-open-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment' as const,
      client,
      next: ops.next,
      unitsPerRequest: 1,
      load: { ratePerSecond: smokeOpenRatePerSecond },
    };
    const result = await runScenario(ctx, spec);
    // Every due request was sent (none shed at this rate) and answered, inside the window or just after.
    expect(result.load.requests).toBe(smokeOpenRatePerSecond * smokeSeconds);
    expect(result.load.failedUnits).toBe(0);
    expect(result.load.sendLagMs!.max).toBeGreaterThanOrEqual(0);
    expect(result.load.timeline!.slices.reduce((n, s) => n + s.requests, 0)).toBe(result.load.requests);
    expect(result.invariants?.balanced).toBe(true);
    // An open loop cannot wait for a request it has not got: the run fails, it does not hang or crash the process.
    let left = 3;
    await expect(
      runScenario(ctx, { ...spec, id: 'a-open-dry', next: () => (left-- > 0 ? ops.next() : null) }),
    ).rejects.toThrow(/ran out of requests in an open loop/);
  });

  test('scenario (b), holds: created and captured against the hot merchant, every capture a payment, the ledger whole', async () => {
    const result = await runScenario(ctx, {
      id: 'b-holds-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: holdCaptureOps(ctx),
      unitsPerRequest: 1,
      load: { concurrency: smokeConcurrency },
      crossShardShare: () => 0,
    });
    expect(result.load.succeededUnits).toBeGreaterThan(0);
    expect(result.load.failedUnits).toBe(0);
    expect(result.invariants?.balanced).toBe(true);
  });

  test('scenario (b), FX: b-fx-quoted (a quote then a cross-shard payment with it) and b-fx (quotes made ahead, the payment alone), the ledger whole per currency', async () => {
    const payees = await prepareFxPayees(client, ctx.runId, ctx.fixtures.topology, 8);
    const quoted = await runScenario(ctx, {
      id: 'b-fx-quoted-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: fxQuotedPaymentOps(ctx, payees),
      unitsPerRequest: 1,
      load: { concurrency: smokeConcurrency },
      crossShardShare: () => 1,
    });
    expect(quoted.load.succeededUnits).toBeGreaterThan(0);
    expect(quoted.load.failedUnits).toBe(0);
    // Two requests per unit: a quote answered for every payment sent.
    expect(quoted.load.requests).toBeGreaterThanOrEqual(2 * quoted.load.units);
    expect(quoted.invariants?.balanced).toBe(true);
    expect(quoted.quotePool).toBeUndefined();

    const pool = new FxQuotePool(ctx, client, payees, smokeConcurrency);
    // b-fx runs 1.42–1.45 × b-fx-quoted's rate in the benchmark (PERFORMANCE.md), one request per
    // unit against two. Here the two windows are measured seconds apart beside the other worker's
    // files, whose load changes in between: in a clean-clone run (2026-11-24) b-fx outran 2 × the
    // quoted rate by more than the pool's headroom (1.5), and the pool ran dry 1.6 s into its 2 s.
    // The pool is sized for 4 × the measured rate: the nominal ratio of requests, times two for the
    // neighbour's load changing between the two measurements.
    const expectedPerSecond = 4 * quoted.load.unitsPerSecond;
    const fx = await runScenario(ctx, {
      id: 'b-fx-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: () => pool.next(),
      unitsPerRequest: 1,
      load: { concurrency: smokeConcurrency },
      crossShardShare: () => 1,
      beforeRun: (seconds, phase) => pool.topUp(expectedPerSecond, seconds, phase),
      quotePool: () => pool.report(),
    });
    expect(fx.load.succeededUnits).toBeGreaterThan(0);
    expect(fx.load.failedUnits).toBe(0);
    // One request per unit inside the window: no quote was made there.
    expect(fx.load.requests).toBe(fx.load.units);
    expect(fx.quotePool?.ranOutAfterSeconds).toBeNull();
    expect(fx.quotePool!.used).toBeGreaterThanOrEqual(fx.load.units);
    expect(fx.quotePool!.made).toBeGreaterThan(fx.quotePool!.used);
    expect(fx.invariants?.balanced).toBe(true);
  });

  test('scenario (b), b-fx: a quote pool made too small runs out inside the window and the result says so, not padded with new quotes', async () => {
    const payees = await prepareFxPayees(client, ctx.runId, ctx.fixtures.topology, 8);
    const pool = new FxQuotePool(ctx, client, payees, smokeConcurrency);
    const fx = await runScenario(ctx, {
      id: 'b-fx-dry-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: () => pool.next(),
      unitsPerRequest: 1,
      load: { concurrency: smokeConcurrency },
      crossShardShare: () => 1,
      // Two payments a second over the window, with headroom: a handful of quotes for a closed loop of 8.
      beforeRun: (seconds, phase) => pool.topUp(2, seconds, phase),
      quotePool: () => pool.report(),
    });
    const report = fx.quotePool!;
    expect(report.ranOutAfterSeconds).not.toBeNull();
    expect(report.ranOutAfterSeconds!).toBeLessThan(smokeSeconds);
    expect(fx.load.requests).toBe(fx.load.units);
    expect(fx.load.succeededUnits).toBeLessThanOrEqual(report.made);
    expect(report.used).toBe(report.made - report.expiredUnused);
    // The window still counts its full length: the dry part lowers units/s.
    expect(fx.load.seconds).toBeGreaterThanOrEqual(smokeSeconds);
    expect(fx.invariants?.balanced).toBe(true);
  });

  test('scenario (b), marketplace: two splits and a discount per payment, every one a payment, the ledger whole', async () => {
    const ops = await marketplaceOps(ctx, client);
    const result = await runScenario(ctx, {
      id: 'b-marketplace-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: ops.next,
      unitsPerRequest: 1,
      load: { concurrency: smokeConcurrency },
      crossShardShare: ops.crossShardShare,
    });
    expect(result.load.succeededUnits).toBeGreaterThan(0);
    expect(result.load.failedUnits).toBe(0);
    expect(result.invariants?.balanced).toBe(true);
    expect(result.invariants?.inTransit).toEqual([]);
  });

  test('scenario (b), b-advance: AdvanceSettlement in turn over merchants with pending on every database, the ledger moved exactly by the advances', async () => {
    const merchants = await prepareAdvanceMerchants({
      client,
      runId: ctx.runId,
      fixtures: ctx.fixtures,
      perDatabase: testPoolSizeDefault - 1,
      countMax: smokeConcurrency,
      pendingEach: advancePendingPerMerchant(smokeSeconds),
      log: () => {},
    });
    const advances = new AdvanceOps(ctx, merchants);
    const result = await runScenario(ctx, {
      id: 'b-advance-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'advance',
      client,
      next: () => advances.next(),
      unitsPerRequest: 1,
      load: { concurrency: merchants.merchants.length },
      beforeRun: () => advances.beforeRun(),
      advances: () => advances.report(),
    });
    expect(result.load.succeededUnits).toBeGreaterThan(0);
    expect(result.load.failedUnits).toBe(0);
    expect(result.invariants?.balanced).toBe(true);
    expect(result.advances).toMatchObject({ merchants: smokeConcurrency, refused: 0, unknown: 0, ledgerMatches: true });
    expect(result.advances!.stripes).toBe(new Set(ctx.fixtures.shardOfAccount).size);
    expect(BigInt(result.advances!.pendingLeft!)).toBeGreaterThan(0n);
  });

  test('scenario (c): bulk createPayments produce figures and keep the ledger whole', async () => {
    const ops = bulkPaymentOps(ctx, smokeBulkSize);
    const result = await runScenario(ctx, {
      id: 'c-smoke',
      title: 'smoke',
      engine: 'merged',
      unit: 'payment',
      client,
      next: ops.next,
      unitsPerRequest: smokeBulkSize,
      load: { concurrency: 2 },
    });
    expect(result.load.succeededUnits).toBeGreaterThanOrEqual(smokeBulkSize);
    expect(result.load.failedUnits).toBe(0);
    expect(result.invariants?.balanced).toBe(true);
    expect(result.invariants?.inTransit).toEqual([]);
  });

  test('scenario (f): read accounts get their entries first, then GetAccount and AccountsByOwner produce figures', async () => {
    const reads = await prepareReadAccounts({
      client,
      fixtures: ctx.fixtures,
      runId: ctx.runId,
      shards: ctx.shards,
      log: () => {},
      accountCount: smokeReadAccounts,
      entriesMin: smokeReadEntriesMin,
    });
    expect(reads.accounts).toEqual(ctx.fixtures.accounts.slice(0, smokeReadAccounts));
    // Each read account now holds its deposit and at least smokeReadEntriesMin entries more.
    for (const id of reads.accounts) {
      const response = await client.send(requestBody(contractOperation('GetAccount'), { id }));
      const account = dataField(response, 'account') as { entries: { edges: unknown[] } };
      expect(account.entries.edges.length).toBeGreaterThan(smokeReadEntriesMin);
    }
    for (const [id, next] of [
      ['f-smoke', getAccountOps(reads.accounts)],
      ['f-owner-smoke', accountsByOwnerOps(reads.owners)],
    ] as const) {
      const result = await runScenario(ctx, {
        id,
        title: 'smoke',
        engine: '-',
        unit: 'read',
        client,
        next,
        unitsPerRequest: 1,
        load: { concurrency: smokeConcurrency },
        checkInvariants: false,
      });
      expect(result.load.succeededUnits).toBeGreaterThan(0);
      expect(result.load.failedUnits).toBe(0);
      expect(result.mysqlPerUnit?.statements).toBeGreaterThan(0);
    }
  });

  test('scenario (d), the engines alone: merged and naive pay the hot merchant in process and keep the ledger whole', async () => {
    for (const engine of ['merged', 'naive'] as const) {
      const result = await runEngineScenario({
        ctx,
        shardUrls: urls,
        engine,
        concurrency: smokeConcurrency,
        poolSize: smokeEnginePoolSize,
      });
      expect(result.id).toBe(`d-engine-${engine}`);
      expect(result.load.succeededUnits).toBeGreaterThan(0);
      expect(result.load.failedUnits).toBe(0);
      expect(result.invariants?.balanced).toBe(true);
    }
    // The scenario posts on shards of its own with each engine: the stack's still post merged.
    expect(stack.shards.all.map((s) => s.posting.engine)).toEqual(stack.shards.all.map(() => 'merged'));
  });

  test("bench:events: every payment reaches its subscriber once, with latency, CPU per event and the feed's reads", async () => {
    const report = await runEventDelivery({
      gatewayUrl: stack.gatewayUrl,
      client,
      customerToken: (sub) => token(sub, 'customer'),
      ledger: stack.shards,
      topology: stack.shards.topology,
      accounts: smokeSubscribedAccounts,
      ratePerSecond: smokeEventRatePerSecond,
      seconds: smokeSeconds,
      runId: `smokeev${Date.now().toString(36)}`,
      pids: () => new Map([['in-process', process.pid]]),
      accountMetricsUrl: stack.subgraphUrls.account.replace(/\/graphql$/, '/metrics'),
      log: () => {},
    });
    expect(report.accounts).toBe(smokeSubscribedAccounts);
    expect(report.payments.succeeded).toBeGreaterThan(0);
    expect(report.payments.failed).toBe(0);
    expect(report.events).toEqual({ delivered: report.payments.succeeded, gaps: 0, repeats: 0 });
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
    expect(report.cpuMsPerEvent['in-process']).toBeGreaterThan(0);
    // The stack polls (no Redis): the timer's reads ask for every watched stripe.
    expect(report.feed?.reads.poll).toBeGreaterThan(0);
    expect(report.feed!.stripesRead.poll).toBeGreaterThanOrEqual(report.feed!.reads.poll!);
  });
});
