import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { loaderBatchSizeMax } from '@paygraph/shared/limits';
import { byShardLoader } from '@paygraph/shared/graphql/loaders';
import { RequestLoaders } from '../../src/context';
import { EndingsInFlight } from '../../src/services/endings-in-flight';
import type { PaymentLegRow } from '../../src/db/schema/transactions';

/**
 * A request's loaders are made on first use (context.ts RequestLoaders): made lazily they must still be the request's
 * own. A loader caches what it read, so one shared by two requests would answer one reader's rows to another; and one
 * made again within a request would read the same rows twice.
 */
const log = pino({ level: 'silent' });
const base = (sub: string): BaseSubgraphContext => ({
  identity: { sub, role: 'customer' },
  shards: {} as ShardSet,
  log,
});
const names = [
  'payments',
  'refunds',
  'refundsOfPayment',
  'accountRows',
  'postings',
  'holds',
  'holdOfPayment',
  'paymentFx',
  'buyReturned',
  'legsOfPayment',
  'eventLinks',
  'eventWithdrawals',
] as const;

describe("a request's loaders", () => {
  it('are made once a request, each its own, and never shared with another request', () => {
    const endings = new EndingsInFlight(1, log);
    const first = new RequestLoaders(base('usr_a'), endings);
    const second = new RequestLoaders(base('usr_b'), endings);
    const made = new Set<unknown>();
    for (const name of names) {
      const loader = first[name];
      expect(first[name]).toBe(loader);
      expect(second[name]).not.toBe(loader);
      made.add(loader);
      made.add(second[name]);
    }
    expect(made.size).toBe(2 * names.length);
  });

  it('hold what was primed for the request that primed it only', async () => {
    const endings = new EndingsInFlight(1, log);
    const first = new RequestLoaders(base('usr_a'), endings);
    const second = new RequestLoaders(base('usr_b'), endings);
    const legs = [{ paymentId: 'pay_1', accountId: 'acc_a' } as PaymentLegRow];
    first.legsOfPayment.prime('pay_1', legs);
    await expect(first.legsOfPayment.load('pay_1')).resolves.toBe(legs);
    // The other request's loader has nothing primed: it reads, here from a set of no shards, so it finds no legs.
    await expect(second.legsOfPayment.load('pay_1')).resolves.toEqual([]);
  });
});

describe('a loader of rows by payment (byShardLoader, as every loader by id)', () => {
  it('reads at most loaderBatchSizeMax ids a statement, each shard apart, and answers every id asked', async () => {
    // Two logical shards on two (row-less) shards: what matters is which ids each read is given.
    const shardsByLogical = new Map([0, 1].map((n) => [n, { db: { name: `shard ${n}` } } as unknown as Shard]));
    const shards = { byLogical: (n: number) => shardsByLogical.get(n)! } as unknown as ShardSet;
    const reads: Array<{ db: unknown; ids: readonly string[] }> = [];
    const loader = byShardLoader(
      { shards },
      'payment',
      async (db, ids) => {
        reads.push({ db, ids });
        return ids.map((paymentId) => ({ paymentId }));
      },
      (rows, ids) => ids.map((id) => rows.find((row) => row.paymentId === id)?.paymentId ?? null),
    );
    const ids = Array.from({ length: 2 * loaderBatchSizeMax + 1 }, (_, i) => newId('payment', toLogicalShard(i % 2)));
    await expect(loader.loadMany(ids)).resolves.toEqual(ids);
    expect(reads.length).toBeGreaterThan(2);
    for (const read of reads) {
      expect(read.ids.length).toBeLessThanOrEqual(loaderBatchSizeMax);
      for (const id of read.ids) expect(shardsByLogical.get(id.endsWith('00') ? 0 : 1)!.db).toBe(read.db);
    }
    expect(reads.flatMap((read) => read.ids).sort()).toEqual([...ids].sort());
  });
});
