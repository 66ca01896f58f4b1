import type { ShardSet } from '../shards/pool';
import { fromEveryReachable } from '../worker';
import { balanceMismatches, clearingTotals, entryTotals } from './store/health';
import { entityNets } from './store/entity-health';

/**
 * The ledger's invariants, computed now. Each figure comes from one statement on one shard,
 * so it is a consistent snapshot of that shard even while postings commit; figures of
 * different shards are taken at slightly different moments.
 */
export interface ShardCurrencyHealth {
  shard: string;
  currency: string;
  debits: bigint;
  credits: bigint;
  balanced: boolean;
}

export interface LedgerHealth {
  /** Every invariant holds on every database; false while a database could not be read (unreachableShards). */
  balanced: boolean;
  /**
   * The databases (Shard.name) that could not be reached now: their figures are left out of the rest, so that one
   * database away degrades this answer instead of failing it. Anything else a database says is a bug, thrown.
   */
  unreachableShards: string[];
  /** Per currency: Σ clearing over all shards = money debited on one shard, not yet credited on another. */
  inTransit: Array<{ currency: string; amount: bigint }>;
  shards: ShardCurrencyHealth[];
  /** Per shard, entity and currency: Σ of the entity's balances there, which nets to zero on its own. */
  entities: Array<{ shard: string; entity: string; currency: string; net: bigint; balanced: boolean }>;
  /** Accounts whose balances differ from Σ of their entries (should always be empty). */
  balanceMismatches: Array<{ shard: string; accountId: string; stored: bigint; entries: bigint }>;
}

export async function ledgerHealth(shards: ShardSet): Promise<LedgerHealth> {
  const perShard = await fromEveryReachable('ledger health', shards.all, async (shard) => ({
    shard,
    totals: await entryTotals(shard.db),
    clearing: await clearingTotals(shard.db),
    mismatches: await balanceMismatches(shard.db),
    entities: await entityNets(shard),
  }));
  const read = new Set(perShard.map(({ shard }) => shard));
  const unreachableShards = shards.all.filter((shard) => !read.has(shard)).map((shard) => shard.name);
  const rows = perShard.flatMap(({ shard, totals }) =>
    totals.map((t) => ({
      shard: shard.name,
      currency: t.currency,
      debits: t.debits,
      credits: t.credits,
      balanced: t.debits === t.credits,
    })),
  );
  const transit = new Map<string, bigint>();
  for (const { clearing } of perShard)
    for (const c of clearing) transit.set(c.currency, (transit.get(c.currency) ?? 0n) + c.amount);
  const mismatches = perShard.flatMap(({ shard, mismatches: list }) => list.map((m) => ({ shard: shard.name, ...m })));
  const perEntity = perShard.flatMap(({ shard, entities }) =>
    entities.map((e) => ({ shard: shard.name, ...e, balanced: e.net === 0n })),
  );
  return {
    balanced:
      unreachableShards.length === 0 &&
      rows.every((r) => r.balanced) &&
      mismatches.length === 0 &&
      perEntity.every((e) => e.balanced),
    unreachableShards,
    inTransit: [...transit]
      .map(([currency, amount]) => ({ currency, amount }))
      .sort((a, b) => a.currency.localeCompare(b.currency)),
    shards: rows,
    entities: perEntity,
    balanceMismatches: mismatches,
  };
}
