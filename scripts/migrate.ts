import { readScriptConfig, scriptConfig } from './lib/config';
import { migrateAll } from './lib/migration-sets';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import { shardPoolSizeDefault } from '../subgraphs/shared/src/limits';
import { describeError, redactUrl } from './lib/mysql-server';

/**
 * `npm run migrate`: creates the shard databases in MYSQL_SHARDS when missing and applies
 * every pending migration to each. Safe to run again: applied migrations are skipped.
 */
async function main(): Promise<void> {
  const config = readScriptConfig(scriptConfig, process.env);
  const shards = openShards({ ...config.shards, poolSize: config.shardPoolSize ?? shardPoolSizeDefault });
  try {
    for (const url of shards.topology.urls) console.log(`shard ${redactUrl(url)}`);
    await migrateAll(shards);
    console.log(`migrated ${shards.all.length} shards`);
  } finally {
    await shards.close();
  }
}

main().catch((error: unknown) => {
  console.error(`migration failed: ${describeError(error)}`);
  process.exitCode = 1;
});
