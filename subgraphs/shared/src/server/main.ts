import type { ShardSet } from '../shards/pool';
import { envString } from '../config';
import { startLedgerHintPublisher } from '../events/ledger-hints';
import type { SubgraphServer } from './subgraph';
import { shutdownGraceMs } from '../limits';
import { configureLogging, log, parseLogLevel } from '../log';
import { startTracing } from '../tracing';

export interface SubgraphMainSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT, read by the subgraph's main.ts: traces go there; empty, tracing is off. */
  otlpEndpoint: string;
}

/**
 * The common life of a subgraph process: start, say where it listens, and on SIGTERM/SIGINT
 * stop taking requests, let running ones finish, close the shard pools and exit. With REDIS_URL
 * set, every committed posting batch of the process is announced as a ledger hint, so that
 * balance streams in other processes learn of it at once instead of at their next poll. With an
 * OTLP endpoint, traces are exported there (tracing.ts) and flushed on the way out.
 */
export async function runSubgraphMain(
  name: string,
  start: () => Promise<{ port: number; shards: ShardSet; server: SubgraphServer }>,
  settings: SubgraphMainSettings,
): Promise<void> {
  configureLogging({ service: name, level: parseLogLevel(process.env.LOG_LEVEL) });
  const tracing = settings.otlpEndpoint === '' ? null : startTracing({ serviceName: name, otlpEndpoint: settings.otlpEndpoint });
  const { port, shards, server } = await start();
  const redisUrl = envString('REDIS_URL', '');
  if (redisUrl !== '') server.disposers.push(startLedgerHintPublisher(redisUrl));
  log().info({ port }, `${name} subgraph listening on http://127.0.0.1:${port}/graphql`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // A stuck step (a client holding a socket open, a query that will not end) must not keep
    // the process alive: after shutdownGraceMs it exits anyway.
    setTimeout(() => process.exit(0), shutdownGraceMs).unref();
    server.http.close();
    server.http.closeIdleConnections();
    await Promise.all(server.disposers.map((dispose) => dispose()));
    await server.apollo.stop();
    await shards.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
