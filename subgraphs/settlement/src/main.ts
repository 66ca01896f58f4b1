import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { configuredTrust } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { settlementPart } from './part';
import { createSettlementSubgraph } from './server';
import { startAdvanceWorker, startSettlementWorker } from './services/worker';
import { armFailpoint } from './services/failpoints';
import { startUploadPurge } from './services/statement-uploads';

await runSubgraphMain(settlementPart, async (config) => {
  armFailpoint(config.failpoint);
  const shards = openShards({
    ...config.shards,
    poolSize: subgraphPoolSize(settlementPart, config.shardPoolSize),
    posting: config.posting,
  });
  const server = await createSettlementSubgraph(
    shards,
    configuredTrust(settlementPart.name, config.secret),
    undefined,
    config.settings,
    {
      production: config.production,
    },
  );
  const port = await listen(server.http, config.port, config.host);
  // Expired statement uploads' pieces go; every replica may run it.
  const uploadPurge = startUploadPurge(shards);
  server.disposers.push(() => uploadPurge.stop());
  if (config.worker.enabled) {
    const worker = startSettlementWorker(shards, {
      intervalMs: config.worker.intervalMs,
      delayDays: config.worker.delayDays,
      settings: config.settings,
    });
    server.disposers.push(() => worker.stop());
    // Advances a crash left PENDING, at the settlement worker's pace, in the same process.
    const advances = startAdvanceWorker(shards, { intervalMs: config.worker.intervalMs });
    server.disposers.push(() => advances.stop());
  }
  return { port, shards, server };
});
