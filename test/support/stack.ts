import type { AddressInfo } from 'node:net';
import { createAccountSubgraph } from '@paygraph/account/server';
import type { FeedSettings } from '@paygraph/account/services/balance-feed';
import { createTransactionSubgraph } from '@paygraph/transaction/server';
import type { EndingsInFlight } from '@paygraph/transaction/services/endings-in-flight';
import type { TransactionSettings } from '@paygraph/transaction/config';
import { createSettlementSubgraph } from '@paygraph/settlement/server';
import { createWebhooksSubgraph, type WebhooksSubgraphOptions } from '@paygraph/webhooks/server';
import type { Dispatcher } from '@paygraph/webhooks/services/dispatcher';
import { createGateway, type Gateway } from '../../gateway/src/server';
import type { SubscriptionLimits } from '../../gateway/src/subscriptions/server';
import type { GatewaySecurityOptions } from '../../gateway/src/security/gateway-security';
import { startLedgerHintPublisher } from '@paygraph/shared/events/ledger-hints';
import type { SubgraphServer } from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { listen } from '@paygraph/shared/server/http';
import type { TokenSettings } from '@paygraph/shared/identity';
import { subgraphNames, type SubgraphName } from '../../scripts/lib/parts';
import {
  testSecurityOptions,
  testSettlementSettings,
  testShards,
  testTokens,
  testTransactionSettings,
  testTrusts,
} from './env';

/**
 * The whole system in this process, each server on its own ephemeral port over real HTTP:
 * four subgraphs and the gateway in front of them. The gateway and the account subgraph also
 * serve graphql-ws on their /graphql.
 */
export interface Stack {
  gatewayUrl: string;
  /** ws:// URL of the gateway's graphql-ws endpoint. */
  gatewayWsUrl: string;
  subgraphUrls: Record<SubgraphName, string>;
  shards: ShardSet;
  /**
   * The webhooks subgraph's dispatcher when it runs (StackOptions.webhooks.dispatcher): tests await its refreshes and
   * passes.
   */
  dispatcher: Dispatcher | null;
  /**
   * Resolves once the stack's ledger hint publisher is connected (StackOptions.hintsRedisUrl; at once without): hints
   * are dropped before.
   */
  hintsReady(): Promise<void>;
  /** Another account subgraph and another gateway (in front of it and of this stack's other subgraphs). */
  addReplica(options?: ReplicaOptions): Promise<Replica>;
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  /** How the replica's balance feed learns of new entries; defaults to the stack's. */
  feed?: Partial<FeedSettings>;
  subscriptions?: Partial<SubscriptionLimits>;
  /**
   * The replica gateway's operation limits, rate budgets and audit settings, over the test configuration's
   * (testSecurityOptions).
   */
  security?: GatewaySecurityOptions;
}

export interface Replica {
  gatewayUrl: string;
  gatewayWsUrl: string;
  accountUrl: string;
  /** Stops the replica's account subgraph and starts a new one on the same port, as a deploy would. */
  restartAccount(): Promise<void>;
  /** Subscriptions the replica's gateway is serving now. */
  activeSubscriptions(): number;
  /** Streams the replica's gateway ended for a slow consumer. */
  slowConsumers(): number;
  /** Subscriptions the replica's gateway forwarded to its account subgraph or read page by page. */
  streams(): { forwarded: number; paged: number; forwardPauses: number };
  stop(): Promise<void>;
}

export interface StackOptions extends ReplicaOptions {
  /** The clock every subgraph reads (business dates, settlement readiness); tests move it. */
  now?: () => Date;
  /** Publish ledger hints to this Redis from this process's postings (what runSubgraphMain does with REDIS_URL). */
  hintsRedisUrl?: string;
  /** How the gateway checks client tokens; testTokens() (HS256 with the test secret) by default. */
  tokens?: TokenSettings;
  /**
   * What the transaction subgraph's main.ts would give it from its configuration (AMOUNT_MAX, HOLD_TTL_SECONDS); its
   * defaults otherwise.
   */
  transaction?: Partial<TransactionSettings>;
  /** The transaction subgraph's endings after answers; one that holds them (answer-before-ending.test.ts) by choice. */
  endings?: EndingsInFlight;
  /** Every part as NODE_ENV=production runs it (no introspection, no stack traces in errors); false when absent. */
  production?: boolean;
  /**
   * The databases every subgraph uses (say, one shard's URL through a TCP proxy); testShards() by default. The stack
   * closes them on stop.
   */
  shards?: ShardSet;
  /**
   * The webhooks subgraph's options; its dispatcher runs only when `dispatcher` is true (it polls
   * every shard). Tests' receivers are on loopback over http: local destinations are allowed
   * unless `allowLocalDestinations: false` says otherwise.
   */
  webhooks?: WebhooksSubgraphOptions;
  /**
   * The account subgraph's books check (services/books-check.ts): off unless a pause is given. A pass reads every
   * shard, one after another, through the pools the requests use, once a minute: a test that counts what one
   * request costs the shards (test/support/shard-cost.ts) counted a pass that fell in its window as the request's
   * (a hold's capture: 6 round trips on the payer's shard for 5, in CI).
   */
  booksCheckIntervalMs?: number;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const shards = options.shards ?? testShards();
  const tokens = options.tokens ?? testTokens();
  const trusts = testTrusts();
  const production = options.production ?? false;
  // The webhooks subgraph, kept for its dispatcher (Stack.dispatcher).
  let webhooks: Awaited<ReturnType<typeof createWebhooksSubgraph>> | undefined;
  // One per subgraph of the parts list: typed by its names, so a part added there and not here does not compile.
  const create: Record<SubgraphName, () => Promise<SubgraphServer>> = {
    account: () =>
      createAccountSubgraph(shards, trusts.account, options.now, {
        ...(options.feed ? { feed: options.feed } : {}),
        production,
        booksCheckIntervalMs: options.booksCheckIntervalMs ?? null,
      }),
    transaction: () =>
      createTransactionSubgraph(
        shards,
        trusts.transaction,
        options.now,
        { ...testTransactionSettings(), ...options.transaction },
        { production, ...(options.endings ? { endings: options.endings } : {}) },
      ),
    settlement: () =>
      createSettlementSubgraph(shards, trusts.settlement, options.now, testSettlementSettings(), { production }),
    webhooks: async () =>
      (webhooks = await createWebhooksSubgraph(shards, trusts.webhooks, {
        dispatcher: false,
        production,
        allowLocalDestinations: true,
        ...options.webhooks,
      })),
  };
  const subgraphs = new Map<SubgraphName, SubgraphServer>();
  for (const name of subgraphNames) subgraphs.set(name, await create[name]());
  const urls = {} as Record<SubgraphName, string>;
  for (const name of subgraphNames) urls[name] = await urlOf(subgraphs.get(name)!);
  const gateway = await createGateway(tokens, urls, trusts, {
    ...(options.subscriptions ? { subscriptions: options.subscriptions } : {}),
    security: testSecurityOptions(),
    production,
  });
  const gatewayPort = await listen(gateway.http, 0, '127.0.0.1');
  const stopHints = options.hintsRedisUrl ? startLedgerHintPublisher(options.hintsRedisUrl) : null;
  const replicas: Replica[] = [];
  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}/graphql`,
    gatewayWsUrl: `ws://127.0.0.1:${gatewayPort}/graphql`,
    subgraphUrls: urls,
    shards,
    dispatcher: webhooks!.dispatcher,
    hintsReady: () => stopHints?.ready() ?? Promise.resolve(),
    addReplica: async (replicaOptions = {}) => {
      const feed = replicaOptions.feed ?? options.feed;
      const startAccount = () =>
        createAccountSubgraph(shards, trusts.account, options.now, {
          ...(feed ? { feed } : {}),
          booksCheckIntervalMs: options.booksCheckIntervalMs ?? null,
        });
      let account = await startAccount();
      const accountUrl = await urlOf(account);
      const subscriptions = replicaOptions.subscriptions ?? options.subscriptions;
      const replicaGateway = await createGateway(tokens, { ...urls, account: accountUrl }, trusts, {
        ...(subscriptions ? { subscriptions } : {}),
        security: testSecurityOptions(replicaOptions.security),
      });
      const port = await listen(replicaGateway.http, 0, '127.0.0.1');
      const replica: Replica = {
        gatewayUrl: `http://127.0.0.1:${port}/graphql`,
        gatewayWsUrl: `ws://127.0.0.1:${port}/graphql`,
        accountUrl,
        activeSubscriptions: () =>
          [...replicaGateway.subscriptions.activeByPrincipal().values()].reduce((a, b) => a + b, 0),
        slowConsumers: () => replicaGateway.subscriptions.slowConsumers(),
        streams: () => replicaGateway.subscriptions.streams(),
        restartAccount: async () => {
          await stopSubgraph(account);
          account = await startAccount();
          await listen(account.http, Number(new URL(accountUrl).port), '127.0.0.1');
        },
        stop: async () => {
          await stopGateway(replicaGateway);
          await stopSubgraph(account);
        },
      };
      replicas.push(replica);
      return replica;
    },
    stop: async () => {
      for (const replica of replicas) await replica.stop();
      await stopHints?.();
      await stopGateway(gateway);
      for (const s of subgraphs.values()) await stopSubgraph(s);
      await shards.close();
    },
  };
}

async function stopGateway(gateway: Gateway): Promise<void> {
  gateway.http.closeAllConnections();
  gateway.http.close();
  await gateway.stop();
}

async function stopSubgraph(server: SubgraphServer): Promise<void> {
  await Promise.all(server.disposers.map((dispose) => dispose()));
  server.http.closeAllConnections();
  server.http.close();
  await server.apollo.stop();
}

async function urlOf(server: SubgraphServer): Promise<string> {
  await listen(server.http, 0, '127.0.0.1');
  return `http://127.0.0.1:${(server.http.address() as AddressInfo).port}/graphql`;
}
