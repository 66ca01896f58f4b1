import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { settlementPart } from './part';
import { createSettlementSubgraph } from './server';
import { startSettlementWorker } from './services/worker';

await runSubgraphMain(settlementPart, async (config) => {
  const shards = openShards({ ...config.shards, poolSize: subgraphPoolSize(settlementPart, config.shardPoolSize), posting: config.posting });
  const server = await createSettlementSubgraph(shards, configuredTrust(settlementPart.name, config.secret), undefined, config.settings, {
    production: config.production,
  });
  const port = await listen(server.http, config.port, config.host);
  if (config.worker.enabled) {
    const worker = startSettlementWorker(shards, {
      intervalMs: config.worker.intervalMs,
      delayDays: config.worker.delayDays,
      settings: config.settings,
    });
    server.disposers.push(() => worker.stop());
  }
  return { port, shards, server };
});
