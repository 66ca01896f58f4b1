import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphTrustFromEnv } from '@paygraph/shared/gateway-trust';
import { envBool, envInt, envString } from '@paygraph/shared/config';
import { defaultCalendar } from '@paygraph/shared/business-date';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createSettlementSubgraph } from './server';
import { settlementDelayDaysDefault, settlementWorkerIntervalMsDefault, startSettlementWorker } from './services/worker';

await runSubgraphMain('settlement', async () => {
  defaultCalendar();
  const shards = openShards();
  const server = await createSettlementSubgraph(shards, subgraphTrustFromEnv('settlement'));
  const port = await listen(server.http, envInt('SETTLEMENT_PORT', 4003), envString('HOST', '127.0.0.1'));
  if (envBool('SETTLEMENT_WORKER_ENABLED', true)) {
    const worker = startSettlementWorker(shards, envInt('SETTLEMENT_WORKER_INTERVAL_MS', settlementWorkerIntervalMsDefault),
      envInt('SETTLEMENT_DELAY_DAYS', settlementDelayDaysDefault));
    server.disposers.push(async () => worker.stop());
  }
  return { port, shards, server };
});
