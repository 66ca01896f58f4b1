import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { webhooksPart } from './part';
import { createWebhooksSubgraph } from './server';

await runSubgraphMain(webhooksPart, async (config) => {
  const shards = openShards({
    ...config.shards,
    poolSize: subgraphPoolSize(webhooksPart, config.shardPoolSize),
    posting: config.posting,
  });
  const server = await createWebhooksSubgraph(shards, configuredTrust(webhooksPart.name, config.secret), {
    production: config.production,
    ...(config.secretKey === null ? {} : { secretKey: config.secretKey }),
    dispatcher: config.dispatcherEnabled,
    allowLocalDestinations: config.allowLocalDestinations,
    settings: config.dispatcher,
    redisUrl: config.redisUrl,
  });
  const port = await listen(server.http, config.port, config.host);
  return { port, shards, server };
});
