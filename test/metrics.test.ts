import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startRelay } from '@paygraph/transaction/services/relay';
import { startStack, type Stack } from './support/stack';
import { token, unique } from './support/env';
import { moneyKit, type MoneyKit } from './support/money';
import { subscribe } from './support/ws';
import { balanceChanged, deposit, untilLive } from './support/balance-events';
import { scrape, total, matching } from './support/prometheus';
import { spawnTransactionSubgraph } from './support/processes';
import { createHold } from './support/holds';

/**
 * Every process serves prom-client metrics at /metrics: the gateway and each subgraph. The named
 * series exist, and they move when the thing they count happens.
 */
let stack: Stack;
let kit: MoneyKit;
let operator: string;

beforeAll(async () => {
  stack = await startStack();
  kit = await moneyKit(stack);
  operator = await token(unique('metrics-operator'), 'operator');
});

afterAll(async () => {
  await stack.stop();
});

const metricsUrl = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '/metrics');

describe('/metrics', () => {
  it('is served by the gateway and every subgraph, with the process and event-loop defaults', async () => {
    for (const url of [stack.gatewayUrl, ...Object.values(stack.subgraphUrls)]) {
      const samples = await scrape(metricsUrl(url));
      expect(total(samples, 'process_cpu_user_seconds_total'), url).toBeGreaterThan(0);
      expect(matching(samples, 'nodejs_eventloop_lag_seconds'), url).not.toEqual([]);
    }
  });

  it('counts payments and holds by outcome and observes its merged batch in the histogram', async () => {
    const owner = unique('metrics-payer');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('metrics-payee'));
    await kit.fund(payer, '100');
    const url = metricsUrl(stack.subgraphUrls.transaction);
    const before = await scrape(url);

    const paid = await kit.pay(bearer, { payer, payee, amount: '30' });
    expect(paid.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    const refused = await kit.pay(bearer, { payer, payee, amount: '500' });
    expect(refused.data!.createPayment).toMatchObject({ __typename: 'InsufficientFunds' });
    const held = await createHold(stack.gatewayUrl, bearer, {
      payer,
      payee,
      amount: '10',
      key: unique('metrics-hold'),
    });
    expect(held.data!.createHold).toMatchObject({ __typename: 'Hold', status: 'HELD' });

    const after = await scrape(url);
    const moved = (kind: string, outcome: string) => {
      const labels = { kind, outcome };
      return (
        total(after, 'paygraph_money_movements_total', labels) - total(before, 'paygraph_money_movements_total', labels)
      );
    };
    expect(moved('payment', 'SUCCEEDED')).toBeGreaterThanOrEqual(1);
    expect(moved('payment', 'InsufficientFunds')).toBeGreaterThanOrEqual(1);
    expect(moved('hold', 'HELD')).toBeGreaterThanOrEqual(1);
    expect(total(after, 'paygraph_ledger_merged_batch_size_count')).toBeGreaterThan(
      total(before, 'paygraph_ledger_merged_batch_size_count'),
    );
    expect(total(after, 'paygraph_ledger_merged_batch_size_sum')).toBeGreaterThan(
      total(before, 'paygraph_ledger_merged_batch_size_sum'),
    );
    // Each posting's wait for its batch, and each batch's run: one observation per posting and per batch.
    const moreOf = (name: string) => total(after, name) - total(before, name);
    expect(moreOf('paygraph_ledger_posting_queue_seconds_count')).toBe(moreOf('paygraph_ledger_merged_batch_size_sum'));
    expect(moreOf('paygraph_ledger_merged_batch_seconds_count')).toBe(
      moreOf('paygraph_ledger_merged_batch_size_count'),
    );
    expect(moreOf('paygraph_ledger_merged_batch_seconds_sum')).toBeGreaterThan(0);
  });

  it("keeps the gateway's operation counter and latency histogram", async () => {
    await kit.open(unique('metrics-open'));
    const samples = await scrape(metricsUrl(stack.gatewayUrl));
    expect(
      total(samples, 'paygraph_graphql_requests_total', { operation: 'OpenAccount', outcome: 'ok' }),
    ).toBeGreaterThan(0);
    expect(
      total(samples, 'paygraph_graphql_request_duration_seconds_count', { operation: 'OpenAccount' }),
    ).toBeGreaterThan(0);
    // OpenAccount, a mutation the account subgraph serves alone, is passed through.
    expect(total(samples, 'paygraph_gateway_operation_paths_total', { path: 'forwarded' })).toBeGreaterThan(0);
  });

  it("shows each shard's breaker state and pool waits, and the relay's backlog and lag", async () => {
    const relay = startRelay(stack.shards, 60_000);
    try {
      await relay.drain();
    } finally {
      await relay.stop();
    }
    const samples = await scrape(metricsUrl(stack.subgraphUrls.transaction));
    for (const shard of stack.shards.all) {
      expect(matching(samples, 'paygraph_shard_breaker_state', { shard: shard.name }).map((s) => s.value)).toContain(0);
      expect(
        total(samples, 'paygraph_shard_pool_wait_seconds_count', { shard: shard.name, result: 'ok' }),
      ).toBeGreaterThan(0);
      expect(matching(samples, 'paygraph_relay_backlog', { shard: shard.name })).toHaveLength(1);
      expect(matching(samples, 'paygraph_relay_lag_seconds', { shard: shard.name })).toHaveLength(1);
    }
  });

  it('counts open balance streams in the account subgraph and subscriptions in the gateway', async () => {
    const owner = unique('metrics-stream');
    const account = await kit.open(owner);
    const gauges = async () => ({
      streams: total(await scrape(metricsUrl(stack.subgraphUrls.account)), 'paygraph_balance_streams_open'),
      subscriptions: total(await scrape(metricsUrl(stack.gatewayUrl)), 'paygraph_gateway_subscriptions_open'),
    });
    const before = await gauges();
    const subscription = subscribe(stack.gatewayWsUrl, {
      authorization: `Bearer ${await token(owner, 'customer')}`,
      query: balanceChanged,
      variables: { accountId: account },
    });
    try {
      await untilLive(subscription, () => deposit(stack.gatewayUrl, operator, account, 1n));
      const open = await gauges();
      expect(open.streams).toBe(before.streams + 1);
      expect(open.subscriptions).toBe(before.subscriptions + 1);
    } finally {
      await subscription.close();
    }
  });

  it('is served by a subgraph running as its own process', async () => {
    const child = await spawnTransactionSubgraph({ RELAY_ENABLED: 'false' });
    try {
      const samples = await scrape(metricsUrl(child.graphqlUrl));
      expect(total(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(matching(samples, 'paygraph_shard_breaker_state').map((s) => s.value)).toContain(0);
    } finally {
      await child.kill();
    }
  });
});
