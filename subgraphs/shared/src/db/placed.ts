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

/**
 * SQL true of a row whose id `column` names a logical shard of `placed` (Placement.placedLogicals: those the map places
 * on the database read, fenced or not), nothing to add for null (it holds every one), false for none: what
 * a reader merging every database's rows keeps, so that a move's copies (left on its source, arriving on its target)
 * are neither listed nor counted in a LIMIT. A list in the text, not a read of shard_fences (control's heldHere): that
 * subquery in each statement of a read over every database made MySQL's CPU per AccountsByOwner 0.62 → 1.16 ms.
 */
export function onPlacedShards(column: Column, placed: readonly number[] | null): SQL | undefined {
  if (placed === null) return undefined;
  return placed.length === 0 ? sql`FALSE` : onLogicalShards(column, placed);
}

/**
 * onPlacedShards for a hand-written statement on `column` (an id): the text to append after a condition, and its
 * value to bind.
 */
export function placedClause(
  column: string,
  placed: readonly number[] | null,
): { sql: string; values: Array<readonly string[]> } {
  if (placed === null) return { sql: '', values: [] };
  if (placed.length === 0) return { sql: ' AND FALSE', values: [] };
  return { sql: ` AND RIGHT(${column}, 2) IN (?)`, values: [placed.map(idSuffix)] };
}
