import { transactionPart } from './part';
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
import type { TransactionSettings } from './config';
import { clientInfo, extendContext, type TransactionContext } from './context';
import { resolvers } from './resolvers/index';
import { LinkEventFeed, type LinkFeedSettings } from './services/link-event-feed';
import { linkEventPollIntervalMs } from './limits';

export interface TransactionSubgraphOptions extends SubgraphServerOptions {
  /** How the link event feed polls; see services/link-event-feed.ts. */
  linkFeed?: Partial<LinkFeedSettings>;
  /** Keep-alive pings on the graphql-ws endpoint (SUBSCRIPTION_KEEPALIVE_MS). */
  keepAliveMs?: number;
}

/** A stream's requests come over graphql-ws, not HTTP: no client headers to keep with a payment. */
const noClient = { deviceId: null, ip: null, userAgent: null };

/**
 * The transaction subgraph: GraphQL over HTTP, and graphql-ws on the same port and path for the
 * externalAccountChanged streams the gateway bridges (as the account subgraph serves balance streams).
 */
export async function createTransactionSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  now: (() => Date) | undefined,
  settings: TransactionSettings,
  options: TransactionSubgraphOptions = {},
): Promise<SubgraphServer> {
  const { linkFeed, keepAliveMs, ...server } = options;
  const feed = new LinkEventFeed(shards, { pollIntervalMs: linkEventPollIntervalMs, ...linkFeed });
  const subgraph = await createSubgraph<TransactionContext>({
    name: transactionPart.name,
    typeDefs: readSchema(transactionPart.name),
    resolvers,
    shards,
    trust,
    ...server,
    extendContext: (base, req) => extendContext(base, clientInfo(req), now, settings, feed),
  });
  const closeSockets = serveSubscriptions(subgraph.http, subgraph.schema, {
    trust,
    // A stream outlives any request: its lines go through the process's logger.
    context: (identity) => extendContext({ identity, shards, log: log() }, noClient, now, settings, feed),
    keepAliveMs: keepAliveMs ?? subscriptionKeepAliveMsDefault,
    production: server.production ?? false,
  });
  feed.start();
  subgraph.disposers.push(closeSockets, () => feed.stop());
  return subgraph;
}
