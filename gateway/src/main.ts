import { envInt, envString } from '@paygraph/shared/config';
import { tokenSettingsFromEnv } from '@paygraph/shared/identity';
import { subgraphTrustsFromEnv } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { shutdownGraceMs, subscriptionKeepAliveMsDefault } from '@paygraph/shared/limits';
import { configureLogging, log, parseLogLevel } from '@paygraph/shared/log';
import { startTracing } from '@paygraph/shared/tracing';
import { createGateway, subgraphUrlsFromEnv } from './server';

configureLogging({ service: 'gateway', level: parseLogLevel(process.env.LOG_LEVEL) });
const otlpEndpoint = envString('OTEL_EXPORTER_OTLP_ENDPOINT', '');
// Off unless a collector is named: then nothing of OpenTelemetry is registered (tracing.ts).
const tracing = otlpEndpoint === '' ? null : startTracing({ serviceName: 'gateway', otlpEndpoint });

const gateway = await createGateway(tokenSettingsFromEnv(), subgraphUrlsFromEnv(), subgraphTrustsFromEnv(), {
  keepAliveMs: envInt('SUBSCRIPTION_KEEPALIVE_MS', subscriptionKeepAliveMsDefault),
});
const port = await listen(gateway.http, envInt('PORT', 4000), envString('GATEWAY_HOST', '0.0.0.0'));
log().info({ port }, `gateway listening on http://localhost:${port}/graphql`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Open WebSockets or a stuck subgraph call must not keep the process alive past the grace period.
  setTimeout(() => process.exit(0), shutdownGraceMs).unref();
  gateway.http.close();
  gateway.http.closeIdleConnections();
  await gateway.stop();
  await tracing?.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
