import { readScriptConfig, scriptConfig } from './lib/config';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import { latestMap } from '../subgraphs/shared/src/control/index';
import { rangesOf, seedMap, type ShardMap } from '../subgraphs/shared/src/shards/shard-map';
import { parseShardNodes } from '../subgraphs/shared/src/shards/topology';
import { describeError, redactUrl } from './lib/mysql-server';

/**
 * `npm run shards -- <command>`: the live shard map and the moves of logical shards between databases
 * (docs/SCALING.md).
 *
 * - `map`: prints the map as JSON: its version, each range of logical shards with its database (as MYSQL_SHARDS writes
 *   one, passwords hidden) and whether it is fenced, and whether it was read from the control database or is the
 *   configuration's seed (no version stored yet).
 */
const usage = 'usage: npm run shards -- map';

/** The map as printed: ranges with their database's nodes, never a password. */
export function printableMap(map: ShardMap, stored: boolean): unknown {
  return {
    version: map.version,
    stored,
    ranges: rangesOf(map).map((r) => ({
      first: r.first,
      last: r.last,
      database: parseShardNodes(map.databases[r.database]!)[0]!
        .map((node) => redactUrl(node))
        .join('|'),
      ...(r.fenced ? { fenced: true } : {}),
    })),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const config = readScriptConfig(scriptConfig, process.env);
  const shards = openShards({ ...config.shards, poolSize: 2 });
  try {
    switch (argv[0]) {
      case 'map': {
        const stored = await latestMap(shards.all[0]!);
        console.log(JSON.stringify(printableMap(stored ?? seedMap(shards.topology), stored !== null), null, 2));
        return 0;
      }
      default:
        console.error(usage);
        return 2;
    }
  } finally {
    await shards.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`shards: ${describeError(error)}`);
    process.exit(1);
  },
);
