import { webhooksPart } from './part';
import {
  createSubgraph,
  readSchema,
  type SubgraphServer,
  type SubgraphServerOptions,
} from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { extendContext, type WebhooksContext } from './context';
import { resolvers } from './resolvers/index';
import { destinationPolicyOf } from './services/destination';
import { dispatcherSettingsDefault, developmentWebhookSecretKey, type DispatcherSettings } from './config';
import { Dispatcher } from './services/dispatcher';
import type { Resolver } from './services/safe-agent';
import { secretKey } from './services/secrets';

export interface WebhooksSubgraphOptions extends SubgraphServerOptions {
  /** WEBHOOK_SECRET_KEY; the development key when absent (never in production: config.ts refuses). */
  secretKey?: string;
  /** Run the dispatcher in this process (every replica may). */
  dispatcher?: boolean;
  settings?: Partial<DispatcherSettings>;
  /**
   * WEBHOOK_ALLOW_LOCAL_DESTINATIONS: loopback and http receivers too; false when absent, whatever `production` says.
   */
  allowLocalDestinations?: boolean;
  /** Tests only: a stubbed DNS for receivers' names. */
  resolver?: Resolver;
  now?: () => Date;
  /** Redis for ledger hints that wake the dispatcher (REDIS_URL); without, it polls at intervalMs. */
  redisUrl?: string | null;
}

export async function createWebhooksSubgraph(
  shards: ShardSet,
  trust: SubgraphTrust,
  options: WebhooksSubgraphOptions = {},
): Promise<SubgraphServer & { dispatcher: Dispatcher | null }> {
  const production = options.production ?? false;
  const policy = destinationPolicyOf(options.allowLocalDestinations ?? false);
  const key = secretKey(options.secretKey ?? developmentWebhookSecretKey());
  const now = options.now ?? (() => new Date());
  const server = await createSubgraph<WebhooksContext>({
    name: webhooksPart.name,
    typeDefs: readSchema(webhooksPart.name),
    resolvers,
    expressLane: {},
    shards,
    trust,
    production,
    extendContext: (base) => extendContext(base, { now, policy, secretKey: key }),
  });
  let dispatcher: Dispatcher | null = null;
  if (options.dispatcher ?? true) {
    const settings = { ...dispatcherSettingsDefault, ...options.settings };
    dispatcher = new Dispatcher(shards, settings, {
      policy,
      secretKey: key,
      now,
      redisUrl: options.redisUrl ?? null,
      ...(options.resolver ? { resolver: options.resolver } : {}),
    });
    await dispatcher.start();
    const running = dispatcher;
    server.disposers.push(() => running.stop());
  }
  return { ...server, dispatcher };
}
