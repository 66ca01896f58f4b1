import { accountPart } from './part';
import {
  createSubgraph,
  readSchema,
  type SubgraphServer,
  type SubgraphServerOptions,
} from '@paygraph/shared/server/subgraph';
import { serveSubscriptions } from '@paygraph/shared/server/subscriptions';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { log } from '@paygraph/shared/log';
import { subscriptionKeepAliveMsDefault } from '@paygraph/shared/limits';
import { extendContext, type AccountContext, type BalanceServices } from './context';
import { resolvers } from './resolvers/index';
import { BalanceFeed, type FeedSettings } from './services/balance-feed';
import { BalanceHistory } from './services/balance-history';
import { BalanceReader } from './services/balance-events';
import { measureExposure } from './services/credit-lines';
import { renderedAnswers, type RenderedAnswerBounds } from './services/rendered-answers';
import { startBooksCheck } from './services/books-check';
import { balancePollIntervalMsDefault, booksCheckIntervalMs, stripeDiscoveryIntervalMs } from './limits';

export interface AccountSubgraphOptions extends SubgraphServerOptions {
  /** How the balance feed learns of new entries; see services/balance-feed.ts. */
  feed?: Partial<FeedSettings>;
  /** Keep-alive pings on the graphql-ws endpoint. */
  keepAliveMs?: number;
  /** Serve an account read again from its rendered answer (services/rendered-answers.ts); on unless false. */
  renderedAnswers?: false | RenderedAnswerBounds;
  /**
   * The pause between passes of the books' total–subtotal check (services/books-check.ts), booksCheckIntervalMs
   * unless given; null: no check in this process. Each pass reads every shard through the requests' pools.
   */
  booksCheckIntervalMs?: number | null;
}

export const defaultFeedSettings: FeedSettings = {
  pollIntervalMs: balancePollIntervalMsDefault,
  discoveryIntervalMs: stripeDiscoveryIntervalMs,
  redisUrl: null,
};

export async function createAccountSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  now?: () => Date,
  options: AccountSubgraphOptions = {},
): Promise<SubgraphServer> {
  const feed = new BalanceFeed(shards, { ...defaultFeedSettings, ...options.feed });
  const balances: BalanceServices = { feed, reader: new BalanceReader(shards, feed, new BalanceHistory(shards)) };
  const rendered = options.renderedAnswers === false ? null : renderedAnswers(options.renderedAnswers);
  const server = await createSubgraph<AccountContext>({
    name: accountPart.name,
    typeDefs: readSchema(accountPart.name),
    resolvers,
    shards,
    trust,
    extendContext: (base) => extendContext(base, balances, now),
    plugins: rendered ? [rendered.plugin] : [],
    expressLane: rendered ? { answers: rendered.lane } : {},
    production: options.production ?? false,
  });
  const closeSockets = serveSubscriptions(server.http, server.schema, {
    trust,
    // A stream outlives any request: its lines go through the process's logger.
    context: (identity) => extendContext({ identity, shards, log: log() }, balances, now),
    keepAliveMs: options.keepAliveMs ?? subscriptionKeepAliveMsDefault,
    production: options.production ?? false,
  });
  feed.start();
  const unmeasure = measureExposure(shards);
  const booksEvery = options.booksCheckIntervalMs === undefined ? booksCheckIntervalMs : options.booksCheckIntervalMs;
  const booksCheck = booksEvery === null ? null : startBooksCheck(shards, { intervalMs: booksEvery });
  server.disposers.push(
    closeSockets,
    () => feed.stop(),
    async () => booksCheck?.stop(),
    async () => unmeasure(),
  );
  return server;
}
