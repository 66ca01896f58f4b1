import { describe, expect, it } from 'vitest';
import { buildTopology, defaultShardMap, parseShardMap } from '../../src/shards/topology';
import { logicalShardCount } from '../../src/limits';

describe('shard topology', () => {
  it('places contiguous ranges of logical shards on each database', () => {
    const map = defaultShardMap(4);
    expect(map).toHaveLength(logicalShardCount);
    expect(map.slice(0, 16).every((p) => p === 0)).toBe(true);
    expect(map.slice(48).every((p) => p === 3)).toBe(true);
    expect(new Set(defaultShardMap(3))).toEqual(new Set([0, 1, 2]));
  });

  it('reads an explicit map and refuses gaps and unknown databases', () => {
    expect(parseShardMap('0-31:0,32-63:1', 2).slice(30, 34)).toEqual([0, 0, 1, 1]);
    expect(() => parseShardMap('0-31:0', 2)).toThrow(/not placed/);
    expect(() => parseShardMap('0-63:2', 2)).toThrow(/not in MYSQL_SHARDS/);
    expect(() => parseShardMap('0-64:0', 1)).toThrow(/out of range/);
    expect(() => parseShardMap('zero:0', 1)).toThrow(/cannot read/);
  });

  it('refuses URLs that are not mysql:// with a database', () => {
    expect(() => buildTopology('postgres://x/db', undefined)).toThrow(/not a mysql/);
    expect(() => buildTopology('mysql://root@127.0.0.1:3306', undefined)).toThrow(/names no database/);
    expect(() => buildTopology(' , ', undefined)).toThrow(/at least one/);
    expect(buildTopology('mysql://a/x,mysql://b/y', undefined).urls).toHaveLength(2);
  });
});
