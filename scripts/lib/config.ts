import * as z from 'zod';
import { flag, integer, oneOf, port, readConfig, url, type Environment } from '../../subgraphs/shared/src/config/env';
import {
  ledgerShape,
  processShape,
  shardPoolSize,
  shardsConfig,
  subgraphSecretsConfig,
  tokensConfig,
} from '../../subgraphs/shared/src/config/shared';
import { gatewayPart } from '../../gateway/src/part';
import { subgraphNames, subgraphParts, type PartName } from './parts';
import { logicalShardCount } from '../../subgraphs/shared/src/limits';

/**
 * What `npm start`, `npm test` and the benchmark read to find or start MySQL
 * (scripts/lib/mysql-server.ts): variables no service process reads.
 */
export const mysqlServerConfig = z.object({
  url: url('MYSQL_URL', ['mysql'], 'mysql://root@127.0.0.1:3306', {
    default: '`mysql://root@127.0.0.1:3306`',
    meaning: 'the server `npm start`/`npm test` look for when `MYSQL_SHARDS` is unset',
  }),
  localSocket: oneOf('MYSQL_LOCAL_SOCKET', ['auto', 'off'], 'auto', {
    default: '`auto`',
    meaning:
      'with `auto`, a server found at `MYSQL_URL` on this machine, or the private one, is reached through its Unix socket (`@@socket`) when that works, which costs less CPU per statement than loopback TCP; `off` keeps TCP. Explicit `MYSQL_SHARDS` are used as given',
  }),
  shardCount: integer('MYSQL_SHARD_COUNT', 'integer', 1, logicalShardCount, 4, {
    default: '`4`',
    meaning: 'databases created on that server',
  }),
  privatePort: port(
    'MYSQL_PRIVATE_PORT',
    3307,
    {
      default: '`3307`',
      meaning: 'port of the private server started under `.data/` when no MySQL answers',
    },
    1,
  ),
});

/**
 * What the scripts (migrate, verify, token, start, test, bench) read: the shards, the ledger's settings, tokens, and
 * where MySQL is.
 */
export const scriptConfig = z.object({
  ...processShape,
  shards: shardsConfig,
  shardPoolSize,
  ...ledgerShape,
  tokens: tokensConfig,
  mysqlServer: mysqlServerConfig,
});

export type MysqlServerSettings = z.output<typeof mysqlServerConfig> & {
  /** MYSQL_SHARDS as set, or null: the scripts then look for a server themselves. */
  readonly explicitShards: string | null;
};

export type ScriptConfig<S extends z.ZodObject = typeof scriptConfig> = Omit<z.output<S>, 'mysqlServer'> & {
  readonly mysqlServer: MysqlServerSettings;
};

/** A script's configuration from its environment (scriptConfig, or a schema that spreads its shape). */
export function readScriptConfig<S extends z.ZodObject>(schema: S, env: Environment): ScriptConfig<S> {
  const config = readConfig(schema, env) as z.output<S> & {
    shards: { urls: string };
    mysqlServer: z.output<typeof mysqlServerConfig>;
  };
  const explicitShards = env.MYSQL_SHARDS === undefined || env.MYSQL_SHARDS.trim() === '' ? null : config.shards.urls;
  return { ...config, mysqlServer: Object.freeze({ ...config.mysqlServer, explicitShards }) } as ScriptConfig<S>;
}

/**
 * Each service process's schema, by the name npm start and Compose give it: the gateway's, then each subgraph's, from
 * the parts list.
 */
export const processConfigs = Object.fromEntries(
  [gatewayPart, ...subgraphParts].map((part) => [part.name, part.config]),
) as unknown as Record<PartName, z.ZodObject>;

export type ProcessName = PartName;

/** A process's port variable (its schema's `port`), as npm start hands ports out. */
function portOf(part: { config: z.ZodObject }): z.ZodType<number> {
  return part.config.shape.port as z.ZodType<number>;
}

/**
 * What `npm start` reads before it starts anything: where MySQL is, the ports it hands out, the
 * secrets it passes on (or makes), and NO_COLOR. Each process's own schema is checked again
 * with the environment the process will get (start.ts: checkPlan).
 */
export const startConfig = z.object({
  ...scriptConfig.shape,
  gatewayPort: portOf(gatewayPart),
  subgraphPorts: z.object(Object.fromEntries(subgraphParts.map((part) => [part.name, portOf(part)]))),
  subgraphSecrets: subgraphSecretsConfig(subgraphNames),
  noColor: flag('NO_COLOR', 'any value', { default: 'unset', meaning: 'plain log prefixes in `npm start`' }),
});
