import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createSettlementSubgraph } from './server';
import type { SettlementConfig } from './services/settle';
import { startSettlementWorker } from './services/worker';

await runSubgraphMain('settlement', async (config) => {
  const settlement: SettlementConfig = { feeBpsDefault: config.settlement.feeBpsDefault };
  const shards = openShards({ ...config.shards, poolSize: subgraphPoolSize('settlement', config.shardPoolSize), posting: config.posting });
  const server = await createSettlementSubgraph(shards, configuredTrust(config.subgraphSecrets, 'settlement'), undefined, settlement, {
    production: config.production,
  });
  const port = await listen(server.http, config.subgraphs.ports.settlement, config.subgraphs.host);
  if (config.settlement.workerEnabled) {
    const worker = startSettlementWorker(shards, {
      intervalMs: config.settlement.workerIntervalMs,
      delayDays: config.settlement.delayDays,
      config: settlement,
    });
    server.disposers.push(async () => worker.stop());
  }
  return { port, shards, server };
});
