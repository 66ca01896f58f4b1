import type { Shard } from '@paygraph/shared/shards/pool';

/** Runs fn and answers what it cost each database of `shards`, in their order: statements and round trips. */
export async function shardCostOf<T>(
  shards: readonly Shard[],
  fn: () => Promise<T>,
): Promise<{ answer: T; statements: number[]; roundTrips: number[] }> {
  const statements = shards.map((s) => s.queryCount);
  const roundTrips = shards.map((s) => s.pool.roundTrips);
  const answer = await fn();
  return {
    answer,
    statements: shards.map((s, i) => s.queryCount - statements[i]!),
    roundTrips: shards.map((s, i) => s.pool.roundTrips - roundTrips[i]!),
  };
}
