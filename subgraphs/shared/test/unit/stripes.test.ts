import { describe, expect, it } from 'vitest';
import { buildTopology, logicalShardsOf } from '../../src/shards/topology';
import { shardOf, toLogicalShard } from '../../src/ids';
import { hasStripeShard, logicalShardsIn, stripeShardBit, stripeShardsOf } from '../../src/ledger/index';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { Placement } from '../../src/shards/placement';

/** A shard set without pools: routing only. */
function routing(urls: string, map?: string): ShardSet {
  const topology = buildTopology(urls, map);
  const all = topology.urls.map((_, index) => ({ index, name: `s${index}` }) as unknown as Shard);
  const placement = new Placement(topology, all, () => {
    throw new Error('routing only');
  });
  return {
    topology,
    all,
    placement,
    byLogical: (l) => all[topology.physicalOf[l]!]!,
    of: (kind, id) => all[topology.physicalOf[shardOf(kind, id)]!]!,
    logicalOn: (s) => logicalShardsOf(topology, s.index),
    close: async () => {},
  };
}

describe('stripe directory', () => {
  it('names each of the 64 logical shards by one bit of an unsigned 64-bit value', () => {
    expect(stripeShardBit(toLogicalShard(0))).toBe(1n);
    expect(stripeShardBit(toLogicalShard(63))).toBe(2n ** 63n);
    const all = Array.from({ length: 64 }, (_, l) => stripeShardBit(toLogicalShard(l))).reduce((a, b) => a | b, 0n);
    expect(all).toBe(2n ** 64n - 1n);
    expect(logicalShardsIn(all)).toHaveLength(64);
    const some = stripeShardBit(toLogicalShard(5)) | stripeShardBit(toLogicalShard(63));
    expect(logicalShardsIn(some)).toEqual([5, 63]);
    expect(hasStripeShard(some, toLogicalShard(63))).toBe(true);
    expect(hasStripeShard(some, toLogicalShard(62))).toBe(false);
    expect(logicalShardsIn(0n)).toEqual([]);
  });

  it('routes a directory to the databases its logical shards live on, each once, under any map', () => {
    const urls = 'mysql://h/a,mysql://h/b,mysql://h/c,mysql://h/d';
    const bits = (ls: number[]) => ls.map((l) => stripeShardBit(toLogicalShard(l))).reduce((a, b) => a | b, 0n);
    const byDefault = routing(urls);
    expect(stripeShardsOf(byDefault, { stripeShards: 0n })).toEqual([]);
    expect(stripeShardsOf(byDefault, { stripeShards: bits([0, 3, 40]) }).map((s) => s.name)).toEqual(['s0', 's2']);
    // After logical shards 0-7 moved to database 3, the same bits route there.
    const moved = routing(urls, '0-7:3,8-15:0,16-31:1,32-47:2,48-63:3');
    expect(stripeShardsOf(moved, { stripeShards: bits([0, 3, 40]) }).map((s) => s.name)).toEqual(['s3', 's2']);
  });
});
