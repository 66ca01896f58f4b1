import { logicalShardCount } from '../limits';
import type { LogicalShard } from '../ids';

/**
 * Ids name a logical shard (0..63); this map places logical shards on physical databases.
 * The default places contiguous ranges: with 4 databases, 0-15 → 0, 16-31 → 1, and so on.
 * SHARD_MAP overrides it ("0-15:0,16-31:1,32-63:2") so that a range can move to a new
 * database by copying its rows and changing the map; see docs/ARCHITECTURE.md.
 */
export interface Topology {
  urls: readonly string[];
  physicalOf: readonly number[];
}

export function parseShardUrls(raw: string): string[] {
  const urls = raw.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length === 0) throw new Error('MYSQL_SHARDS must list at least one mysql:// URL');
  for (const url of urls) {
    if (!URL.canParse(url)) throw new Error(`MYSQL_SHARDS: "${url}" is not a URL`);
    const parsed = new URL(url);
    if (parsed.protocol !== 'mysql:') throw new Error(`MYSQL_SHARDS: "${url}" is not a mysql:// URL`);
    if (parsed.pathname.length <= 1) throw new Error(`MYSQL_SHARDS: "${url}" names no database`);
  }
  return urls;
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
  const urls = parseShardUrls(shardsEnv);
  const physicalOf = mapEnv ? parseShardMap(mapEnv, urls.length) : defaultShardMap(urls.length);
  return { urls, physicalOf };
}

/** The logical shards placed on one database, e.g. to open a system account there. */
export function logicalShardsOf(topology: Topology, physical: number): LogicalShard[] {
  const result: LogicalShard[] = [];
  topology.physicalOf.forEach((p, l) => {
    if (p === physical) result.push(l as LogicalShard);
  });
  return result;
}
