import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, parseId, toLogicalShard } from '@paygraph/shared/ids';
import { log } from '@paygraph/shared/log';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { testSettlementSettings, testShards } from '../../../../test/support/env';
import { extendContext } from '../../src/context';
import { paymentResolvers } from '../../src/resolvers/payment';
import { reconcileAndStore, storedReports } from '../../src/services/reconcile';
import { controlShard } from '../../src/services/settle';

let shards: ShardSet;

beforeAll(() => {
  shards = testShards(2);
});
afterAll(async () => {
  await shards.close();
});

const identity = { sub: 'ops', role: 'operator' as const };

describe('settlement context', () => {
  it('asks for the settlements of a page of payments with one query per shard they name, none elsewhere', async () => {
    const ctx = extendContext({ identity, shards, log: log() }, testSettlementSettings());
    const home = shards.byLogical(toLogicalShard(0));
    const ids = Array.from({ length: 25 }, () => newId('payment', toLogicalShard(0)));
    const before = shards.all.map((s) => s.queryCount);
    const settled = await Promise.all(ids.map((id) => paymentResolvers.settlement({ id }, {}, ctx)));
    expect(settled.every((s) => s === null)).toBe(true);
    const spent = shards.all.map((s, i) => s.queryCount - before[i]!);
    expect(spent[home.index]).toBe(1);
    expect(spent.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('stores a reconciliation under an id that names the control shard, and reads it back by date', async () => {
    const date = '2099-12-31';
    const report = await reconcileAndStore(shards, date, 'ops', new Date());
    const parsed = parseId('reconciliation', report.id);
    expect(parsed).not.toBeNull();
    expect(shards.byLogical(parsed!.shard)).toBe(controlShard(shards));
    const stored = await storedReports(shards, date, 5);
    expect(stored.map((r) => r.id)).toContain(report.id);
  });
});
