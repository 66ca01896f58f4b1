import { join } from 'node:path';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { variablePrefixOf } from '@paygraph/shared/part';
import { subgraphNames, type SubgraphName } from '../../scripts/lib/parts';
import { testSubgraphSecrets } from './env';
import { childPoolSize, spawnService, type ChildService, type ServiceName } from './processes';

/**
 * The system as `npm start` runs it, each service a child process of its own (four subgraphs,
 * then the gateway, which composes the supergraph from them), for tests that kill a process or
 * give the subgraphs other shard URLs than the test process's (a shard behind a proxy).
 */
export interface ProcessStack {
  readonly gatewayUrl: string;
  service(name: ServiceName): ChildService;
  /** SIGKILLs a subgraph and waits for it to exit, as a crash would. */
  kill(name: SubgraphName): Promise<void>;
  /** Starts a killed subgraph again on its port, as a supervisor would; settles when /health answers 200. */
  restart(name: SubgraphName): Promise<void>;
  /** Processes that exited without being killed or stopped by the stack, with how. */
  unexpectedExits(): string[];
  stop(): Promise<void>;
}

export interface ProcessStackOptions {
  /** MYSQL_SHARDS of the subgraphs (comma-separated URLs). */
  shardUrls: string;
  /** Variables every subgraph gets on top (pool size, relay interval, timeouts). */
  subgraphEnv?: Record<string, string>;
  /** Variables every service gets on top, the gateway too (OTEL_EXPORTER_OTLP_ENDPOINT). */
  env?: Record<string, string>;
  /** A directory where each service's whole output is appended to <service>.log, across restarts. */
  logDir?: string;
}

export async function startProcessStack(options: ProcessStackOptions): Promise<ProcessStack> {
  const children = new Map<ServiceName, ChildService>();
  const ports = new Map<ServiceName, number>();
  const meantToDie = new Set<ChildService>();
  const unexpected: string[] = [];
  const watch = (name: ServiceName, child: ChildService): ChildService => {
    void child.exited.then(({ code, signal }) => {
      if (!meantToDie.has(child))
        unexpected.push(`${name} exited with ${signal ?? `code ${code}`}:\n${child.output()}`);
    });
    children.set(name, child);
    return child;
  };
  const kill = async (child: ChildService): Promise<void> => {
    meantToDie.add(child);
    await child.kill();
  };
  const logFile = (name: ServiceName): string | undefined =>
    options.logDir ? join(options.logDir, `${name}.log`) : undefined;
  const subgraphEnv = (name: SubgraphName): Record<string, string> => ({
    // childPoolSize per shard unless the test says otherwise: each process's own default (42 for a
    // stack) twice over, with two workers, would take more than npm test's share (testRunConnectionsMax).
    MYSQL_SHARDS: options.shardUrls,
    MYSQL_POOL_SIZE: String(childPoolSize),
    ...options.env,
    ...options.subgraphEnv,
    [subgraphSecretVariable(name)]: testSubgraphSecrets[name],
  });
  const startSubgraph = async (name: SubgraphName): Promise<void> => {
    const child = watch(name, await spawnService(name, subgraphEnv(name), ports.get(name), logFile(name)));
    ports.set(name, Number(new URL(child.graphqlUrl).port));
  };
  const stop = async (): Promise<void> => {
    await Promise.all([...children.values()].map(kill));
  };
  try {
    await Promise.all(subgraphNames.map(startSubgraph));
    const secrets = Object.fromEntries(
      subgraphNames.map((name) => [subgraphSecretVariable(name), testSubgraphSecrets[name]]),
    );
    const urls = Object.fromEntries(
      subgraphNames.map((name) => [`${variablePrefixOf(name)}_URL`, children.get(name)!.graphqlUrl]),
    );
    watch(
      'gateway',
      await spawnService(
        'gateway',
        {
          // Any document, as npm start runs it, unless the test says otherwise (options.env).
          TRUSTED_DOCUMENTS_MODE: 'off',
          ...options.env,
          ...secrets,
          ...urls,
        },
        undefined,
        logFile('gateway'),
      ),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    gatewayUrl: children.get('gateway')!.graphqlUrl,
    service: (name) => children.get(name)!,
    kill: (name) => kill(children.get(name)!),
    restart: (name) => startSubgraph(name),
    unexpectedExits: () => [...unexpected],
    stop,
  };
}
