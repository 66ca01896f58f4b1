import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { subgraphTrustFromEnv } from '@paygraph/shared/gateway-trust';
import { envBool, envInt, envMinorUnits, envString } from '@paygraph/shared/config';
import { keyRing } from '@paygraph/shared/ledger/tamper';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { createTransactionSubgraph } from './server';
import { relayIntervalMsDefault, startRelay } from './services/relay';
import { parseRetentionDays, startKeyPurge } from './services/key-retention';
import { startHoldExpiry } from './services/hold-expiry';
import { checkFailpointSetting } from './services/failpoints';
import {
  amountMaxMinorUnitsDefault, holdExpiryIntervalMsDefault, holdExpiryIntervalMsMax, holdTtlSecondsDefault, holdTtlSecondsMax,
  idempotencyRetentionDaysDefault,
} from '@paygraph/shared/limits';

checkFailpointSetting(process.env);

await runSubgraphMain('transaction', async () => {
  // Read before anything opens: a production process without its ledger key, or a bad
  // AMOUNT_MAX or IDEMPOTENCY_RETENTION_DAYS, stops here naming the variable instead of failing
  // later.
  keyRing();
  const amountMax = envMinorUnits('AMOUNT_MAX', amountMaxMinorUnitsDefault);
  const retentionDays = parseRetentionDays(envInt('IDEMPOTENCY_RETENTION_DAYS', idempotencyRetentionDaysDefault));
  const holdTtlSeconds = envInt('HOLD_TTL_SECONDS', holdTtlSecondsDefault);
  if (holdTtlSeconds < 1 || holdTtlSeconds > holdTtlSecondsMax) throw new Error(`HOLD_TTL_SECONDS must be 1..${holdTtlSecondsMax}`);
  const holdExpiryIntervalMs = envInt('HOLD_EXPIRY_INTERVAL_MS', holdExpiryIntervalMsDefault);
  if (holdExpiryIntervalMs < 1 || holdExpiryIntervalMs > holdExpiryIntervalMsMax) throw new Error(`HOLD_EXPIRY_INTERVAL_MS must be 1..${holdExpiryIntervalMsMax}`);
  const shards = openShards({ poolSize: subgraphPoolSize('transaction') });
  const server = await createTransactionSubgraph(shards, subgraphTrustFromEnv('transaction'), undefined, { amountMax, holdTtlSeconds });
  const port = await listen(server.http, envInt('TRANSACTION_PORT', 4002), envString('HOST', '127.0.0.1'));
  // The relay completes cross-shard movements cut off by a crash; every replica may run one.
  if (envBool('RELAY_ENABLED', true)) {
    const relay = startRelay(shards, envInt('RELAY_INTERVAL_MS', relayIntervalMsDefault));
    server.disposers.push(() => relay.stop());
  }
  // Keys older than the retention are purged in bounded batches; every replica may run it.
  const purge = startKeyPurge(shards, retentionDays);
  server.disposers.push(() => purge.stop());
  // Releases expired holds' money; every replica may run it (SKIP LOCKED, decided under the hold's lock).
  if (envBool('HOLD_EXPIRY_ENABLED', true)) {
    const expiry = startHoldExpiry(shards, holdExpiryIntervalMs);
    server.disposers.push(() => expiry.stop());
  }
  return { port, shards, server };
}, { otlpEndpoint: envString('OTEL_EXPORTER_OTLP_ENDPOINT', '') });
