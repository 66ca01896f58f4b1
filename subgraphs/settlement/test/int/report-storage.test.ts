import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { insertReport, reportsOfDate } from '../../src/db/settlement-store';
import { testShards } from '../../../../test/support/env';

/**
 * A reconciliation keeps its report, discrepancies and all: a date with many (a shard move's day listed 879, about
 * 225 kB) must be stored whole, where a TEXT column's 64 KiB refused the insert and the reconciliation answered an
 * internal error.
 */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(1);
});
afterAll(async () => shards.close());

describe("a reconciliation's report", () => {
  it('is stored whole with a thousand discrepancies (about 250 kB of JSON)', async () => {
    const discrepancy = (n: number) => ({
      kind: 'UNBALANCED_POSTING',
      detail: `posting pst_${String(n).padStart(26, '0')}_00 on a database sums to -1`,
      ...{ accountId: null, paymentId: null, externalRef: null, currency: 'USD', expected: '0', actual: '-1' },
    });
    const discrepancies = JSON.stringify(Array.from({ length: 1_000 }, (_, n) => discrepancy(n)));
    expect(discrepancies.length).toBeGreaterThan(200_000);
    const businessDate = '2001-02-03';
    const id = newId('reconciliation', toLogicalShard(0));
    const db = shards.all[0]!.db;
    await insertReport(db, { id, businessDate, balanced: false, discrepancies, createdBy: 'operator' });
    const stored = (await reportsOfDate(db, businessDate, 10)).find((r) => r.id === id);
    expect(stored?.discrepancies).toBe(discrepancies);
  });
});
