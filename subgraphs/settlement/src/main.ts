import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { subgraphTrustFromEnv } from '@paygraph/shared/gateway-trust';
import { envBool, envInt, envString } from '@paygraph/shared/config';
import { defaultCalendar } from '@paygraph/shared/business-date';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { keyRing } from '@paygraph/shared/ledger/tamper';
import { createSettlementSubgraph } from './server';
import { feeBpsMax } from './domain/fees';
import { settlementConfigDefault, type SettlementConfig } from './services/settle';
import { settlementDelayDaysDefault, settlementWorkerIntervalMsDefault, startSettlementWorker } from './services/worker';

/** SETTLEMENT_FEE_BPS, checked once here: a rate outside 0..feeBpsMax stops the process. */
function settlementConfig(): SettlementConfig {
  const feeBpsDefault = envInt('SETTLEMENT_FEE_BPS', settlementConfigDefault.feeBpsDefault);
  if (feeBpsDefault < 0 || feeBpsDefault > feeBpsMax) throw new Error(`SETTLEMENT_FEE_BPS must be between 0 and ${feeBpsMax}, got ${feeBpsDefault}`);
  return { feeBpsDefault };
}

await runSubgraphMain('settlement', async () => {
  // The ledger key is read before anything opens: without it in production the process stops
  // here, naming LEDGER_MAC_KEY, instead of reporting healthy and failing every write.
  keyRing();
  defaultCalendar();
  const config = settlementConfig();
  const shards = openShards({ poolSize: subgraphPoolSize('settlement') });
  const server = await createSettlementSubgraph(shards, subgraphTrustFromEnv('settlement'), undefined, config);
  const port = await listen(server.http, envInt('SETTLEMENT_PORT', 4003), envString('HOST', '127.0.0.1'));
  if (envBool('SETTLEMENT_WORKER_ENABLED', true)) {
    const worker = startSettlementWorker(shards, {
      intervalMs: envInt('SETTLEMENT_WORKER_INTERVAL_MS', settlementWorkerIntervalMsDefault),
      delayDays: envInt('SETTLEMENT_DELAY_DAYS', settlementDelayDaysDefault),
      config,
    });
    server.disposers.push(async () => worker.stop());
  }
  return { port, shards, server };
}, { otlpEndpoint: envString('OTEL_EXPORTER_OTLP_ENDPOINT', '') });
