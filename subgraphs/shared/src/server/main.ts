import { noteSlowFailovers, openShards, startOnNodes, type ShardSet } from '../shards/pool';
import { followShardMap, latestMap } from '../control/index';
import { atConfiguredAddresses, mapAsConfig, seedMap } from '../shards/shard-map';
import { checkShardNodes, ShardNodesRefused } from '../shards/galera';
import { checkGaleraTimings, describeSlowFailover, type SlowFailover } from '../shards/galera-timings';
import { buildTopology } from '../shards/topology';
import type * as z from 'zod';
import { ConfigError, readConfig, type ConfigSchema, type Environment } from '../config/env';
import { ledgerKeyMissing, ledgerKeyRing, type subgraphShape } from '../config/shared';
import { type BusinessCalendar, setBusinessCalendar } from '../business-date';
import type { MacKeyRing } from '../config/ledger-keys';
import { setKeyRing } from '../ledger/index';
import { startLedgerHintPublisher } from '../events/ledger-hints';
import type { SubgraphServer } from './subgraph';
import { shutdownGraceMs } from '../limits';
import { configureLogging, log } from '../log';
import { startTracing } from '../tracing';

/** What every subgraph's schema holds (config/shared.ts). */
type SubgraphShape = typeof subgraphShape;

/**
 * The process's configuration, read once: a bad value, or a secret the process needs and lacks,
 * is printed (each problem names its variable) and the process exits with status 1 before it
 * opens or listens on anything.
 */
export function configOrExit<S extends ConfigSchema>(env: Environment, schema: S, name: string): Readonly<z.output<S>> {
  try {
    return readConfig(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      `${name}: refusing to start, the configuration is not valid:\n${error.problems.map((p) => `  ${p}\n`).join('')}`,
    );
    process.exit(1);
  }
}

/**
 * The ledger's process-wide settings, set once before anything posts or verifies: every seal
 * and check uses these keys (LEDGER_MAC_KEY), every posting's business date this calendar
 * (BUSINESS_TIMEZONE, BUSINESS_DAY_CUTOFF). Subgraphs, and scripts that post or verify, call it.
 */
export function configureLedger(config: {
  readonly production: boolean;
  readonly ledgerKeys: MacKeyRing | null;
  readonly businessCalendar: BusinessCalendar;
}): void {
  const keys = ledgerKeyRing(config);
  if (keys === null) throw new Error(ledgerKeyMissing);
  setKeyRing(keys);
  setBusinessCalendar(config.businessCalendar);
}

/**
 * A shard listing several nodes must list nodes of one Galera cluster (shards/galera.ts): a
 * process given a node of another cluster, or a server that is not Galera, refuses to start,
 * naming the shard and the node, before it opens a pool or listens. Answers the node each
 * shard's pool starts on, and the shards whose Galera timings make a failover slower than their
 * budget (shards/galera-timings.ts).
 */
async function checkShardsOrExit(
  name: string,
  shards: { urls: string; map?: string | null | undefined },
): Promise<{ startNodes: number[]; slowFailovers: SlowFailover[] }> {
  const topology = buildTopology(shards.urls, shards.map ?? undefined);
  try {
    // Asked at once, so that the timings' read adds no wait to the node check's.
    const [startNodes, slowFailovers] = await Promise.all([checkShardNodes(topology), checkGaleraTimings(topology)]);
    return { startNodes, slowFailovers };
  } catch (error) {
    if (!(error instanceof ShardNodesRefused)) throw error;
    process.stderr.write(`${name}: refusing to start: ${error.message}\n`);
    process.exit(1);
  }
}

/**
 * MYSQL_SHARDS and SHARD_MAP as the live map places the shards now, read once on a pool of one connection; the
 * configuration's own when the control database does not answer or holds no map yet (the follower seeds it, and
 * /health/ready says the map is stale until it can be read).
 */
async function liveShardConfig(location: {
  urls: string;
  map?: string | null;
}): Promise<{ urls: string; map: string | null }> {
  const probe = openShards({ urls: location.urls, map: location.map ?? null, poolSize: 1 });
  try {
    const map = await latestMap(probe.all[0]!);
    if (map === null) return { urls: location.urls, map: location.map ?? null };
    // Where this process reaches each database is its configuration's to say (a proxy, a node list, a new host).
    return mapAsConfig(atConfiguredAddresses(map, seedMap(probe.topology).databases));
  } catch (error) {
    log().warn(
      { err: error },
      'shard map: cannot read the control database at start-up; starting from the configuration',
    );
    return { urls: location.urls, map: location.map ?? null };
  } finally {
    await probe.close();
  }
}

/**
 * The common life of a subgraph process: read the configuration (the only read of the
 * environment a subgraph makes), start, say where it listens, and on SIGTERM/SIGINT stop taking
 * requests, let running ones finish, close the shard pools and exit. With REDIS_URL set, every
 * committed posting batch of the process is announced as a ledger hint, so that balance streams
 * in other processes learn of it at once instead of at their next poll. With an OTLP endpoint,
 * traces are exported there (tracing.ts) and flushed on the way out.
 */
export async function runSubgraphMain<S extends z.ZodObject<SubgraphShape>>(
  part: { readonly name: string; readonly config: S },
  start: (config: Readonly<z.output<S>>) => Promise<{ port: number; shards: ShardSet; server: SubgraphServer }>,
): Promise<void> {
  const { name } = part;
  const config = configOrExit(process.env, part.config, name);
  configureLogging({ service: name, level: config.logLevel });
  configureLedger(config);
  const tracing =
    config.tracing.otlpEndpoint === null
      ? null
      : await startTracing({ serviceName: name, otlpEndpoint: config.tracing.otlpEndpoint });
  // The configured node lists first: a list that mixes clusters, or names a server that is not Galera, is refused
  // before anything reads through it (the control database's map among them).
  const configured = await checkShardsOrExit(name, config.shards);
  // The live shard map, when the control database answers, places the shards from the start (docs/SCALING.md); the
  // databases it names are checked as the configured ones were, unless they are the same.
  const placed = { ...config, shards: { ...config.shards, ...(await liveShardConfig(config.shards)) } };
  const same = placed.shards.urls === config.shards.urls && (placed.shards.map ?? null) === (config.shards.map ?? null);
  const { startNodes, slowFailovers } = same ? configured : await checkShardsOrExit(name, placed.shards);
  // A misconfigured cluster still serves: named here and in /health/ready (health.ts), not refused.
  for (const warning of slowFailovers) log().warn({ galera: warning }, describeSlowFailover(warning));
  const { port, shards, server } = await start(placed);
  startOnNodes(shards, startNodes);
  noteSlowFailovers(shards, slowFailovers);
  const follower = followShardMap(shards, { service: name });
  await follower.poll();
  server.disposers.push(() => follower.stop());
  if (config.redisUrl !== null) server.disposers.push(startLedgerHintPublisher(config.redisUrl));
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
