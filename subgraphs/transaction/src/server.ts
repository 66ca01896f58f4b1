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
import { endingsInFlightMax, linkEventPollIntervalMs } from './limits';
import { EndingsInFlight } from './services/endings-in-flight';

export interface TransactionSubgraphOptions extends SubgraphServerOptions {
  /** How the link event feed polls; see services/link-event-feed.ts. */
  linkFeed?: Partial<LinkFeedSettings>;
  /** Keep-alive pings on the graphql-ws endpoint (SUBSCRIPTION_KEEPALIVE_MS). */
  keepAliveMs?: number;
  /** Its payments' endings after their answers (services/endings-in-flight.ts); a test hands in one that holds them. */
  endings?: EndingsInFlight;
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
  const { linkFeed, keepAliveMs, endings: given, ...server } = options;
  const feed = new LinkEventFeed(shards, { pollIntervalMs: linkEventPollIntervalMs, ...linkFeed });
  const endings = given ?? new EndingsInFlight(endingsInFlightMax, log());
  const subgraph = await createSubgraph<TransactionContext>({
    name: transactionPart.name,
    typeDefs: readSchema(transactionPart.name),
    resolvers,
    expressLane: {},
    shards,
    trust,
    ...server,
    extendContext: (base, req) => extendContext(base, clientInfo(req), now, settings, feed, endings),
  });
  const closeSockets = serveSubscriptions(subgraph.http, subgraph.schema, {
    trust,
    // A stream outlives any request: its lines go through the process's logger.
    context: (identity) => extendContext({ identity, shards, log: log() }, noClient, now, settings, feed, endings),
    keepAliveMs: keepAliveMs ?? subscriptionKeepAliveMsDefault,
    production: server.production ?? false,
  });
  feed.start();
  // The endings of payments already answered are written before the shard pools close.
  subgraph.disposers.push(
    closeSockets,
    () => feed.stop(),
    () => endings.drain(),
  );
  return subgraph;
}
