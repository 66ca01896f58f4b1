import { openShards } from '@paygraph/shared/shards/pool';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { subgraphTrustFromEnv } from '@paygraph/shared/gateway-trust';
import { envInt, envString } from '@paygraph/shared/config';
import { listen } from '@paygraph/shared/server/http';
import { runSubgraphMain } from '@paygraph/shared/server/main';
import { keyRing } from '@paygraph/shared/ledger/tamper';
import { balancePollIntervalMsDefault, balanceSafetyPollIntervalMsDefault, subscriptionKeepAliveMsDefault } from '@paygraph/shared/limits';
import { defaultCalendar } from '@paygraph/shared/business-date';
import { createAccountSubgraph } from './server';

await runSubgraphMain('account', async () => {
  // The ledger key is read before anything opens: without it in production the process stops
  // here, naming LEDGER_MAC_KEY, instead of reporting healthy and failing every write.
  keyRing();
  // balanceAt finds an instant's business date: a bad BUSINESS_TIMEZONE stops the process now.
  defaultCalendar();
  const shards = openShards({ poolSize: subgraphPoolSize('account') });
  // With Redis, hints wake the feed and the poll only backs them up; without, the poll is the fan-out.
  const redisUrl = envString('REDIS_URL', '');
  const pollIntervalMs = redisUrl === ''
    ? envInt('BALANCE_POLL_INTERVAL_MS', balancePollIntervalMsDefault)
    : envInt('BALANCE_SAFETY_POLL_INTERVAL_MS', balanceSafetyPollIntervalMsDefault);
  const server = await createAccountSubgraph(shards, subgraphTrustFromEnv('account'), undefined, {
    feed: { pollIntervalMs, redisUrl: redisUrl === '' ? null : redisUrl },
    keepAliveMs: envInt('SUBSCRIPTION_KEEPALIVE_MS', subscriptionKeepAliveMsDefault),
  });
  const port = await listen(server.http, envInt('ACCOUNT_PORT', 4001), envString('HOST', '127.0.0.1'));
  return { port, shards, server };
}, { otlpEndpoint: envString('OTEL_EXPORTER_OTLP_ENDPOINT', '') });
