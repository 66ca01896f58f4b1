import { tokenSettings } from '@paygraph/shared/identity';
import { configuredTrusts } from '@paygraph/shared/gateway-trust';
import { listen } from '@paygraph/shared/server/http';
import { configOrExit } from '@paygraph/shared/server/main';
import { shutdownGraceMs } from '@paygraph/shared/limits';
import { configureLogging, log } from '@paygraph/shared/log';
import { startTracing } from '@paygraph/shared/tracing';
import { createGateway } from './server';
import { gatewayConfig } from './config';
import { securityOptions } from './security/gateway-security';
import { trustedDocumentsOptions } from './security/trusted-documents';

// The only read of the environment the gateway makes: a bad value stops it here, named.
const config = configOrExit(process.env, gatewayConfig, 'gateway');
configureLogging({ service: 'gateway', level: config.logLevel });
// Off unless a collector is named: then nothing of OpenTelemetry is registered (tracing.ts).
const tracing =
  config.tracing.otlpEndpoint === null
    ? null
    : await startTracing({ serviceName: 'gateway', otlpEndpoint: config.tracing.otlpEndpoint });

const gateway = await createGateway(
  tokenSettings(config.tokens),
  config.subgraphUrls,
  configuredTrusts(config.subgraphSecrets),
  {
    keepAliveMs: config.subscriptionKeepAliveMs,
    production: config.production,
    security: securityOptions(config),
    trustedDocuments: trustedDocumentsOptions(config),
    persistedQueries: { redisUrl: config.redisUrl },
  },
);
// SIGHUP re-reads the trusted documents' manifests now (a refused one leaves those loaded in force).
process.on('SIGHUP', () => {
  if (gateway.trustedDocuments.reload())
    log().info({ documents: gateway.trustedDocuments.size() }, 'trusted documents reloaded');
});
const port = await listen(gateway.http, config.port, config.host);
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
