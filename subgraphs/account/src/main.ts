import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { accountPart } from './part';
import { createAccountSubgraph } from './server';

await runSubgraphMain(accountPart, async (config) => {
  const shards = openShards({
    ...config.shards,
    poolSize: subgraphPoolSize(accountPart, config.shardPoolSize),
    posting: config.posting,
  });
  // With Redis, hints wake the feed and the poll only backs them up; without, the poll is the fan-out.
  const pollIntervalMs = config.redisUrl === null ? config.balancePollIntervalMs : config.balanceSafetyPollIntervalMs;
  const server = await createAccountSubgraph(shards, configuredTrust(accountPart.name, config.secret), undefined, {
    feed: { pollIntervalMs, redisUrl: config.redisUrl },
    keepAliveMs: config.subscriptionKeepAliveMs,
    production: config.production,
    ...(config.renderedAnswers ? {} : { renderedAnswers: false as const }),
  });
  const port = await listen(server.http, config.port, config.host);
  return { port, shards, server };
});
