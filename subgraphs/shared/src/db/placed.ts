import { inArray, notInArray, sql, type Column, type SQL } from 'drizzle-orm';
import { idSuffix } from '../ids';

/**
 * SQL true of a row whose id `column` names one of the logical shards (its last two characters: ids.ts idSuffix): what
 * a worker that takes due rows of a database (the relay, hold expiry) reads to take only those the live map places
 * there, not a moved range's copies (docs/SCALING.md). At least one logical shard: callers with none read nothing.
 */
export function onLogicalShards(column: Column, logicalShards: readonly number[]): SQL {
  return inArray(sql`RIGHT(${column}, 2)`, logicalShards.map(idSuffix));
}

/**
 * SQL true of a row whose id `column` names none of the logical shards `leftOut` (those whose fence row on the database
 * is not open: control/store/fences.ts fencedIn), or nothing to add when there are none: what a worker's write over a
 * whole database (a purge, a disabled endpoint's queues) keeps, so that it leaves a range a move fenced as it is.
 */
export function offLogicalShards(column: Column, leftOut: readonly number[]): SQL | undefined {
  return leftOut.length > 0 ? notInArray(sql`RIGHT(${column}, 2)`, leftOut.map(idSuffix)) : undefined;
}
