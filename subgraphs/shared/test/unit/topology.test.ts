import { describe, expect, it } from 'vitest';
import { buildTopology, defaultShardMap, parseShardMap, parseShardNodes } from '../../src/shards/topology';
import { chooseStartNode, galeraNodeProblem } from '../../src/shards/galera';
import { firstInOrder } from '../../src/shards/shard-pool';
import { logicalShardCount, shardNodesMax } from '../../src/limits';

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

  it('reads the nodes of each shard, separated by |, a single URL as before', () => {
    const raw =
      'mysql://root@db-1:3306/p_s0|mysql://root@db-2:3306/p_s0|mysql://root@db-3:3306/p_s0,mysql://root@db-1:3306/p_s1|mysql://root@db-2:3306/p_s1';
    const topology = buildTopology(raw, undefined);
    expect(topology.nodes.map((n) => n.length)).toEqual([3, 2]);
    expect(topology.urls).toEqual(['mysql://root@db-1:3306/p_s0', 'mysql://root@db-1:3306/p_s1']);
    expect(topology.physicalOf.slice(30, 34)).toEqual([0, 0, 1, 1]);
    expect(parseShardNodes('mysql://a/x')).toEqual([['mysql://a/x']]);
    // Several shard databases on one cluster: the same hosts under every shard.
    expect(parseShardNodes('mysql://a/x|mysql://b/x,mysql://a/y|mysql://b/y')).toHaveLength(2);
  });

  it('refuses a node list with an empty node, another database, a node twice or too many nodes', () => {
    expect(() => parseShardNodes('mysql://a/x||mysql://b/x')).toThrow(/shard 0 has an empty node/);
    expect(() => parseShardNodes('mysql://a/x,mysql://a/y|mysql://b/z')).toThrow(
      /shard 1's node "mysql:\/\/b\/z" names another database/,
    );
    expect(() => parseShardNodes('mysql://a:1/x|mysql://a:1/x')).toThrow(/lists the node a:1 twice/);
    expect(() => parseShardNodes('mysql://a/x|http://b/x')).toThrow(/not a mysql/);
    const many = Array.from({ length: shardNodesMax + 1 }, (_, i) => `mysql://h${i}/x`).join('|');
    expect(() => parseShardNodes(many)).toThrow(/at most/);
  });

  it('takes a Galera node as a new primary only when it is in the primary component and synced, and keeps one that is ready', () => {
    const rows = (ready: string, state: string, status: string, uuid = 'c0ffee') => [
      { Variable_name: 'wsrep_ready', Value: ready },
      { Variable_name: 'wsrep_local_state', Value: state },
      { Variable_name: 'wsrep_cluster_status', Value: status },
      { Variable_name: 'wsrep_cluster_state_uuid', Value: uuid },
    ];
    expect(galeraNodeProblem(rows('ON', '4', 'Primary'), true)).toBeNull();
    expect(galeraNodeProblem(rows('ON', '2', 'Primary'), true)).toBe('not synced');
    expect(galeraNodeProblem(rows('OFF', '4', 'Primary'), true)).toBe('not ready');
    expect(galeraNodeProblem(rows('OFF', '0', 'non-Primary'), true)).toBe('not in the primary component');
    // The primary in use stays while it donates the writes a rejoining node missed (Donor, 2).
    expect(galeraNodeProblem(rows('ON', '2', 'Primary'), false)).toBeNull();
    expect(galeraNodeProblem(rows('OFF', '2', 'Primary'), false)).toBe('not ready');
    // A server without wsrep is judged by answering, as a single server is (start-up refuses it in a list).
    expect(galeraNodeProblem(rows('OFF', '', 'Disconnected', ''), true)).toBeNull();
  });

  it('chooses the first node in list order that answers, without waiting for a later one', async () => {
    const never = new Promise<void>(() => {});
    expect(await firstInOrder([Promise.reject(new Error('down')), Promise.resolve(), never])).toBe(1);
    expect(await firstInOrder([Promise.resolve(), never])).toBe(0);
    expect(await firstInOrder([Promise.reject(new Error('a')), Promise.reject(new Error('b'))])).toBeNull();
    // Settles a turn of the event loop after the second: the first in list order is still chosen.
    const late = new Promise<void>((resolve) => setImmediate(resolve));
    expect(await firstInOrder([late, Promise.resolve()])).toBe(0);
  });

  it('starts a process where the others write (most sessions on a synced node), else on the first synced node', () => {
    const node = (n: number, synced: boolean, sessions: number) => ({ node: n, synced, sessions });
    // A fresh fleet: list order.
    expect(chooseStartNode([node(0, true, 0), node(1, true, 0), node(2, true, 0)])).toBe(0);
    // Restarted after a failover to node 1, node 0 having rejoined: with the others.
    expect(chooseStartNode([node(0, true, 1), node(1, true, 18), node(2, true, 0)])).toBe(1);
    // Sessions on a node that is not synced do not count; a tie goes to list order.
    expect(chooseStartNode([node(0, false, 30), node(1, true, 4), node(2, true, 4)])).toBe(1);
    expect(chooseStartNode([node(1, false, 0), node(2, false, 0)])).toBe(1);
  });
});
