import { parseShardUrls } from '../../subgraphs/shared/src/shards/topology';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withServer } from '../../subgraphs/shared/src/db/server-connection';
import { migrateAll } from '../lib/migration-sets';
import { openShards, type ShardSet } from '../../subgraphs/shared/src/shards/pool';
import type { EngineMode } from '../../subgraphs/shared/src/config/shared';
import {
  gatewayIdentityHeader,
  gatewaySecretHeader,
  internalTokenIssuer,
  subgraphTrust,
  type SubgraphTrusts,
} from '../../subgraphs/shared/src/gateway-trust';
import { internalTokenLifetimeSeconds } from '../../subgraphs/shared/src/limits';
import { gatewaySecretEnv, generateSubgraphSecrets, subgraphSecretEnv } from '../lib/subgraph-secrets';
import { compiledEntry, ensureBuilt, processEntries } from '../lib/build';
import { benchPoolSize, benchStatementTimeoutMs } from './limits';
import { subgraphNames, type PartName, type SubgraphName } from '../lib/parts';
import { variablePrefixOf } from '../../subgraphs/shared/src/part';
import {
  freePort,
  freePorts,
  repoRoot,
  startService,
  type Service,
  type ServiceSpec,
  type StartupCost,
} from './processes';

/**
 * The benchmark's own copy of the system: shard databases `<prefix>_s0..` dropped, created and
 * migrated for the run, and the three subgraphs plus the gateway as separate processes on free
 * loopback ports, with the relay on (RELAY_ENABLED=true) as in production.
 */
export async function recreateDatabases(shardUrls: string): Promise<void> {
  await dropDatabases(shardUrls);
  const shards = openShards({ urls: shardUrls, poolSize: 1 });
  try {
    await migrateAll(shards);
  } finally {
    await shards.close();
  }
}

/** Drops the shard databases; only names the benchmark gives its own databases are accepted. */
export async function dropDatabases(shardUrls: string): Promise<void> {
  for (const raw of parseShardUrls(shardUrls)) {
    const url = new URL(raw.trim());
    const database = decodeURIComponent(url.pathname.slice(1));
    if (!/^paygraph_bench[A-Za-z0-9_]*_s\d+$/.test(database))
      throw new Error(`refusing to drop "${database}": not a benchmark database`);
    await withServer(url.toString(), (conn) => conn.query(`DROP DATABASE IF EXISTS \`${database}\``));
  }
}

/** The benchmark's own shard connections (fixtures, counters, invariants): its scans get benchStatementTimeoutMs. */
export function benchShards(shardUrls: string): ShardSet {
  return openShards({ urls: shardUrls, poolSize: benchPoolSize, statementTimeoutMs: benchStatementTimeoutMs });
}

/** The stack's processes: the gateway, then each subgraph of the parts list. */
export type ProcessName = PartName;
export const processNames: readonly ProcessName[] = ['gateway', ...subgraphNames];

export interface ProcessStackOptions {
  shardUrls: string;
  jwtSecret: string;
  logDir: string;
  engine: EngineMode;
  /** Processes started with --cpu-prof, their profiles written here when they stop. */
  profile?: { processes: readonly ProcessName[]; dir: string };
  /** Extra environment for the subgraphs (MERGE_WAIT_MS, MYSQL_POOL_SIZE, ...). */
  subgraphEnv?: Record<string, string>;
  /**
   * Environment for every process: NODE_ENV and LEDGER_MAC_KEY with --production, NODE_OPTIONS with --node-options
   * (main.ts).
   */
  processEnv?: Record<string, string>;
  /**
   * 'dist' (the default): the compiled files, as npm start and production run them, built first
   * when stale. 'sources': main.ts through tsx, as before the build existed (--sources), to compare.
   */
  runFrom?: 'dist' | 'sources';
  /** The node binary of every process (--node, runtime.ts); the benchmark's own when absent. */
  nodePath?: string;
}

export interface ProcessStack {
  gatewayUrl: string;
  urls: Record<Exclude<ProcessName, 'gateway'>, string>;
  /** The subgraphs' secrets for this run, for what calls a subgraph as the gateway would (f-direct, Hive Gateway). */
  trusts: SubgraphTrusts<SubgraphName>;
  /** The client tokens' HS256 key, for another gateway in front of the same subgraphs (Hive Gateway). */
  jwtSecret: string;
  ports: Record<ProcessName, number>;
  pids(): Map<string, number>;
  /** What each running process's start cost (a restarted subgraph: its latest start). */
  startups(): Map<ProcessName, StartupCost>;
  /** Starts the CPU profiler of every process started for profiling (see ProcessStackOptions.profile). */
  startProfiling(): void;
  /** Stops the subgraphs and starts them again with another engine; the gateway stays up. */
  restartSubgraphs(engine: EngineMode): Promise<void>;
  stopSubgraphs(): Promise<void>;
  stop(): Promise<void>;
}

/** The file each process runs, and whether it needs tsx for it. */
function entryOf(name: ProcessName, runFrom: 'dist' | 'sources'): Pick<ServiceSpec, 'entry' | 'tsxLoader'> {
  return runFrom === 'dist' ? { entry: compiledEntry(name) } : { entry: processEntries[name], tsxLoader: true };
}

export async function startProcessStack(options: ProcessStackOptions): Promise<ProcessStack> {
  // What is measured is what ships: the compiled processes, rebuilt first when a source changed.
  // (profiled-entry.js wraps a profiled process either way.)
  const runFrom = options.runFrom ?? 'dist';
  await ensureBuilt((line) => console.log(`[bench] ${line}`));
  const ports = {} as Record<ProcessName, number>;
  const free = await freePorts(processNames.length);
  processNames.forEach((name, i) => {
    ports[name] = free[i]!;
  });
  const urls = Object.fromEntries(
    subgraphNames.map((name) => [name, `http://127.0.0.1:${ports[name]}/graphql`]),
  ) as Record<SubgraphName, string>;
  const shared = { ...options.processEnv, MYSQL_SHARDS: options.shardUrls, HOST: '127.0.0.1' };
  const secrets = generateSubgraphSecrets();
  const trusts = Object.fromEntries(
    subgraphNames.map((name) => [name, subgraphTrust(name, secrets[name])]),
  ) as SubgraphTrusts<SubgraphName>;
  const portEnv = Object.fromEntries(
    subgraphNames.map((name) => [`${variablePrefixOf(name)}_PORT`, String(ports[name])]),
  );
  const urlEnv = Object.fromEntries(subgraphNames.map((name) => [`${variablePrefixOf(name)}_URL`, urls[name]]));
  let starts = 0;
  const profileFile = (name: ProcessName) => {
    if (!options.profile?.processes.includes(name)) return {};
    mkdirSync(options.profile.dir, { recursive: true });
    starts += 1;
    return { cpuProfileFile: join(options.profile.dir, `${name}.${starts}.cpuprofile`) };
  };
  const services = new Map<ProcessName, Service>();

  const startSubgraphs = async (engine: EngineMode) => {
    const started = await Promise.allSettled(
      subgraphNames.map((name) =>
        startService(
          {
            name,
            ...entryOf(name, runFrom),
            env: {
              ...shared,
              ...portEnv,
              ...subgraphSecretEnv(secrets, name),
              RELAY_ENABLED: 'true',
              POSTING_ENGINE: engine,
              ...options.subgraphEnv,
            },
            healthUrl: `http://127.0.0.1:${ports[name]}/health`,
            ...(options.nodePath ? { nodePath: options.nodePath } : {}),
            ...profileFile(name),
          },
          options.logDir,
        ),
      ),
    );
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') services.set(subgraphNames[i]!, s.value);
    });
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  };
  const stopSubgraphs = async () => {
    await Promise.all(
      subgraphNames.map(async (name) => {
        await services.get(name)?.stop();
        services.delete(name);
      }),
    );
  };
  const stop = async () => {
    await services.get('gateway')?.stop();
    services.delete('gateway');
    await stopSubgraphs();
  };

  try {
    await startSubgraphs(options.engine);
    services.set(
      'gateway',
      await startService(
        {
          name: 'gateway',
          ...entryOf('gateway', runFrom),
          env: {
            // Any document, as npm start runs it, unless processEnv says otherwise (--production: as the image runs
            // it).
            TRUSTED_DOCUMENTS_MODE: 'off',
            ...shared,
            ...gatewaySecretEnv(secrets),
            JWT_SECRET: options.jwtSecret,
            PORT: String(ports.gateway),
            GATEWAY_HOST: '127.0.0.1',
            ...urlEnv,
          },
          healthUrl: `http://127.0.0.1:${ports.gateway}/health`,
          ...(options.nodePath ? { nodePath: options.nodePath } : {}),
          ...profileFile('gateway'),
        },
        options.logDir,
      ),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    gatewayUrl: `http://127.0.0.1:${ports.gateway}/graphql`,
    urls,
    trusts,
    jwtSecret: options.jwtSecret,
    ports,
    pids: () => new Map([...services].map(([name, s]) => [name, s.pid])),
    startups: () => new Map([...services].map(([name, s]) => [name, s.startup])),
    startProfiling: () => {
      for (const s of services.values()) s.startProfiling();
    },
    restartSubgraphs: async (engine) => {
      await stopSubgraphs();
      await startSubgraphs(engine);
    },
    stopSubgraphs,
    stop,
  };
}

/**
 * Hive Gateway over the same supergraph, with the join__graph URLs rewritten to the benchmark's
 * ports, doing per request what our gateway does: verify the caller's token, then send each
 * subgraph its secret and an identity token signed for it (gateway-trust.ts). Without that the
 * subgraphs would refuse it, and without the work the comparison would flatter it.
 */
export interface HiveGatewayVariant {
  /** The id of its scenario: f-hive, f-hive-router, f-hive-router-dedupe. */
  id: string;
  /**
   * Hive Router's query planner and executor (@graphql-hive/router-runtime, a prebuilt Rust addon) instead of the
   * stitching runtime.
   */
  routerRuntime: boolean;
  /** Identical requests in flight at once answered by one execution (inboundInflightRequestDeduplication). */
  inboundDedupe: boolean;
}

/** The Hive Gateway set-ups the benchmark measures beside ours (docs/PERFORMANCE.md, "Gateway runtimes"). */
export const hiveGatewayVariants: readonly HiveGatewayVariant[] = [
  { id: 'f-hive', routerRuntime: false, inboundDedupe: false },
  { id: 'f-hive-router', routerRuntime: true, inboundDedupe: false },
  { id: 'f-hive-router-dedupe', routerRuntime: true, inboundDedupe: true },
];

export async function startHiveGateway(
  stack: ProcessStack,
  workDir: string,
  logDir: string,
  variant: HiveGatewayVariant = hiveGatewayVariants[0]!,
): Promise<Service> {
  mkdirSync(workDir, { recursive: true });
  const supergraph = readFileSync(join(repoRoot, 'schema/supergraph.graphql'), 'utf8').replace(
    /@join__graph\(name: "([a-z]+)", url: "[^"]*"\)/g,
    (match, name: SubgraphName) =>
      name in stack.urls ? `@join__graph(name: "${name}", url: "${stack.urls[name]}")` : match,
  );
  for (const name of subgraphNames) {
    if (!supergraph.includes(stack.urls[name]))
      throw new Error(`could not point the supergraph's ${name} at ${stack.urls[name]}`);
  }
  const supergraphPath = join(workDir, 'supergraph.graphql');
  writeFileSync(supergraphPath, supergraph);
  const configPath = join(workDir, 'gateway.config.mjs');
  const jose = pathToFileURL(join(repoRoot, 'node_modules/jose/dist/webapi/index.js')).href;
  writeFileSync(
    configPath,
    [
      "// Written by scripts/bench: verifies the caller's token and vouches for it to each subgraph, as our gateway does.",
      `import { SignJWT, jwtVerify } from ${JSON.stringify(jose)};`,
      'const encode = (text) => new TextEncoder().encode(text);',
      'const clientKey = encode(process.env.JWT_SECRET);',
      `const secrets = ${JSON.stringify(Object.fromEntries(Object.values(stack.trusts).map((t) => [t.subgraph, t.secret])))};`,
      'export const gatewayConfig = {',
      '  propagateHeaders: {',
      '    fromClientToSubgraphs: async ({ request, subgraphName }) => {',
      "      const bearer = (request.headers.get('authorization') ?? '').replace(/^Bearer /, '');",
      "      const { payload } = await jwtVerify(bearer, clientKey, { algorithms: ['HS256'], issuer: 'paygraph', audience: 'paygraph-api' });",
      '      const name = subgraphName.toLowerCase();',
      "      const identity = await new SignJWT({ role: payload.role }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })",
      `        .setSubject(payload.sub).setIssuer(${JSON.stringify(internalTokenIssuer)}).setAudience(name).setIssuedAt()`,
      `        .setExpirationTime(Math.floor(Date.now() / 1000) + ${internalTokenLifetimeSeconds}).sign(encode(secrets[name]));`,
      `      return { ${JSON.stringify(gatewaySecretHeader)}: secrets[name], ${JSON.stringify(gatewayIdentityHeader)}: identity };`,
      '    },',
      '  },',
      `  inboundInflightRequestDeduplication: ${variant.inboundDedupe},`,
      "  logging: 'warn',",
      '};',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  return startService(
    {
      name: 'hive-gateway',
      entry: 'node_modules/@graphql-hive/gateway/dist/bin.js',
      args: [
        'supergraph',
        supergraphPath,
        '--config-path',
        configPath,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--disable-websockets',
        ...(variant.routerRuntime ? ['--hive-router-runtime'] : []),
      ],
      env: { JWT_SECRET: stack.jwtSecret },
      healthUrl: `http://127.0.0.1:${port}/healthcheck`,
    },
    logDir,
  );
}

export function hiveGatewayUrl(service: Service): string {
  const args = service.spec.args ?? [];
  return `http://127.0.0.1:${args[args.indexOf('--port') + 1]}/graphql`;
}

/**
 * The databases a run recreates are `<prefix>_s0..`: --databases names another prefix, so that
 * two benchmarks on one MySQL server (two worktrees) do not drop each other's databases. Only
 * names the drop guard above accepts are taken.
 */
export function benchDatabasePrefix(given: string | undefined, fallback: string): string {
  if (given === undefined) return fallback;
  if (!/^paygraph_bench[A-Za-z0-9_]*$/.test(given))
    throw new Error(`--databases must start with paygraph_bench (letters, digits, _), got "${given}"`);
  return given;
}
