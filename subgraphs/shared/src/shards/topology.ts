import { logicalShardCount, shardNodesMax } from '../limits';
import type { LogicalShard } from '../ids';

/**
 * Ids name a logical shard (0..63); this map places logical shards on physical databases.
 * The default places contiguous ranges: with 4 databases, 0-15 → 0, 16-31 → 1, and so on.
 * SHARD_MAP overrides it ("0-15:0,16-31:1,32-63:2") so that a range can move to a new
 * database by copying its rows and changing the map; see docs/SHARDS.md.
 */
export interface Topology {
  /** Each shard's first node: where scripts (migrate, checks) reach the shard's database. */
  urls: readonly string[];
  /**
   * Each shard's nodes, in MYSQL_SHARDS order: one URL for a single server, several for the
   * nodes of a Galera cluster holding the same database. Every process chooses its primary the
   * same way from this order (shard-pool.ts), so the order is part of the configuration.
   */
  nodes: readonly (readonly string[])[];
  physicalOf: readonly number[];
}

/**
 * MYSQL_SHARDS: shards separated by `,`, the nodes of one shard by `|`
 * (`mysql://db-1/paygraph_s0|mysql://db-2/paygraph_s0,mysql://db-1/paygraph_s1|…`). Every node
 * of a shard must name the shard's database; a node may not be listed twice.
 */
export function parseShardNodes(raw: string): string[][] {
  const shards = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (shards.length === 0) throw new Error('MYSQL_SHARDS must list at least one mysql:// URL');
  return shards.map((shard, index) => {
    const nodes = shard.split('|').map((u) => u.trim());
    if (nodes.some((u) => u === '')) throw new Error(`MYSQL_SHARDS: shard ${index} has an empty node in "${shard}"`);
    if (nodes.length > shardNodesMax)
      throw new Error(`MYSQL_SHARDS: shard ${index} lists ${nodes.length} nodes, at most ${shardNodesMax}`);
    for (const url of nodes) checkNodeUrl(url);
    const database = databaseOf(nodes[0]!);
    const other = nodes.find((u) => databaseOf(u) !== database);
    if (other !== undefined)
      throw new Error(`MYSQL_SHARDS: shard ${index}'s node "${other}" names another database than "${database}"`);
    const hosts = nodes.map((u) => `${new URL(u).host}${new URL(u).searchParams.get('socketPath') ?? ''}`);
    const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
    if (twice !== undefined) throw new Error(`MYSQL_SHARDS: shard ${index} lists the node ${twice} twice`);
    return nodes;
  });
}

/** The first node of each shard (see Topology.urls). */
export function parseShardUrls(raw: string): string[] {
  return parseShardNodes(raw).map((nodes) => nodes[0]!);
}

function checkNodeUrl(url: string): void {
  if (!URL.canParse(url)) throw new Error(`MYSQL_SHARDS: "${url}" is not a URL`);
  const parsed = new URL(url);
  if (parsed.protocol !== 'mysql:') throw new Error(`MYSQL_SHARDS: "${url}" is not a mysql:// URL`);
  if (parsed.pathname.length <= 1) throw new Error(`MYSQL_SHARDS: "${url}" names no database`);
}

function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

export function defaultShardMap(physicalCount: number): number[] {
  return Array.from({ length: logicalShardCount }, (_, l) => Math.floor((l * physicalCount) / logicalShardCount));
}

export function parseShardMap(raw: string, physicalCount: number): number[] {
  const map = new Array<number>(logicalShardCount).fill(-1);
  for (const part of raw.split(',')) {
    const match = /^\s*(\d+)(?:-(\d+))?:(\d+)\s*$/.exec(part);
    if (!match) throw new Error(`SHARD_MAP: cannot read "${part}" (expected "from-to:database")`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    const physical = Number(match[3]);
    if (physical >= physicalCount) throw new Error(`SHARD_MAP: database ${physical} is not in MYSQL_SHARDS`);
    for (let l = from; l <= to; l++) {
      if (l >= logicalShardCount) throw new Error(`SHARD_MAP: logical shard ${l} is out of range`);
      map[l] = physical;
    }
  }
  const missing = map.indexOf(-1);
  if (missing !== -1) throw new Error(`SHARD_MAP: logical shard ${missing} is not placed`);
  return map;
}

export function buildTopology(shardsEnv: string, mapEnv: string | undefined): Topology {
  const nodes = parseShardNodes(shardsEnv);
  const physicalOf = mapEnv ? parseShardMap(mapEnv, nodes.length) : defaultShardMap(nodes.length);
  return { urls: nodes.map((n) => n[0]!), nodes, physicalOf };
}

/** The logical shards placed on one database, e.g. to open a system account there. */
export function logicalShardsOf(topology: Topology, physical: number): LogicalShard[] {
  const result: LogicalShard[] = [];
  topology.physicalOf.forEach((p, l) => {
    if (p === physical) result.push(l as LogicalShard);
  });
  return result;
}
