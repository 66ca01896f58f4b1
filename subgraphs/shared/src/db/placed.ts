import { inArray, sql, type Column, type SQL } from 'drizzle-orm';
import { idSuffix } from '../ids';

/**
 * SQL true of a row whose id `column` names one of the logical shards (its last two characters: ids.ts idSuffix): what
 * a worker that takes due rows of a database (the relay, hold expiry) reads to take only those the live map places
 * there, not a moved range's copies (docs/SCALING.md). At least one logical shard: callers with none read nothing.
 */
export function onLogicalShards(column: Column, logicalShards: readonly number[]): SQL {
  return inArray(sql`RIGHT(${column}, 2)`, logicalShards.map(idSuffix));
}
