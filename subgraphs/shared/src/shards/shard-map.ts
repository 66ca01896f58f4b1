import { logicalShardCount } from '../limits';
import { ascending } from '../collections';
import { parseShardNodes, type Topology } from './topology';

/**
 * The live shard map (docs/SCALING.md): which database holds each of the 64 logical shards, and which logical shards
 * are fenced (writes and reads answer SHARD_UNAVAILABLE, retryable, while a move switches them). It is data, one row
 * per version in the control database (the first database of MYSQL_SHARDS); MYSQL_SHARDS and SHARD_MAP seed version 1.
 */
export interface ShardMap {
  readonly version: number;
  /**
   * Each database as MYSQL_SHARDS writes one (its nodes joined by `|`). Only ever appended to, so a database keeps its
   * place (the first is the control database) and every process numbers them alike.
   */
  readonly databases: readonly string[];
  /** Index into `databases` of each logical shard's database. */
  readonly logical: readonly number[];
  /** Logical shards fenced in this version, ascending. */
  readonly fenced: readonly number[];
}

/** The map as stored (shard_map_versions.placement) and as `npm run shards -- map` reads it. */
export interface ShardMapBody {
  databases: string[];
  logical: number[];
  fenced: number[];
}

/** The map a process's MYSQL_SHARDS and SHARD_MAP make: version 1 when the control database holds none yet. */
export function seedMap(topology: Topology): ShardMap {
  return {
    version: 1,
    databases: topology.nodes.map((n) => n.join('|')),
    logical: [...topology.physicalOf],
    fenced: [],
  };
}

/** A stored map's body, checked: a map that does not place every logical shard on a listed database is refused. */
export function parseMapBody(version: number, text: string): ShardMap {
  const body = JSON.parse(text) as Partial<ShardMapBody>;
  const { databases, logical, fenced } = body;
  if (!Array.isArray(databases) || databases.length === 0 || !databases.every((d) => typeof d === 'string'))
    throw new Error(`shard map ${version}: no databases`);
  for (const database of databases) databaseKey(database);
  if (!Array.isArray(logical) || logical.length !== logicalShardCount)
    throw new Error(`shard map ${version}: it must place ${logicalShardCount} logical shards`);
  if (!logical.every((p) => Number.isInteger(p) && p >= 0 && p < databases.length))
    throw new Error(`shard map ${version}: a logical shard is placed on no listed database`);
  if (!Array.isArray(fenced) || !fenced.every((l) => Number.isInteger(l) && l >= 0 && l < logicalShardCount))
    throw new Error(`shard map ${version}: fenced logical shards out of range`);
  return { version, databases, logical, fenced: [...new Set(fenced)].sort(ascending) };
}

export function mapBody(map: ShardMap): string {
  const body: ShardMapBody = { databases: [...map.databases], logical: [...map.logical], fenced: [...map.fenced] };
  return JSON.stringify(body);
}

/** One run of consecutive logical shards on one database, as `npm run shards -- map` prints it. */
export interface MapRange {
  first: number;
  last: number;
  database: number;
  fenced: boolean;
}

/** The map as ranges of consecutive logical shards with the same database and fence. */
export function rangesOf(map: ShardMap): MapRange[] {
  const fenced = new Set(map.fenced);
  const ranges: MapRange[] = [];
  map.logical.forEach((database, l) => {
    const last = ranges.at(-1);
    if (last && last.database === database && last.fenced === fenced.has(l) && last.last === l - 1) last.last = l;
    else ranges.push({ first: l, last: l, database, fenced: fenced.has(l) });
  });
  return ranges;
}

/**
 * MYSQL_SHARDS and SHARD_MAP that open exactly this map's databases and placement (fences aside): what a process
 * starts from when the control database answers, so that it never serves from a placement older than the live one.
 */
export function mapAsConfig(map: ShardMap): { urls: string; map: string } {
  return {
    urls: map.databases.join(','),
    map: rangesOf({ ...map, fenced: [] })
      .map((r) => `${r.first}-${r.last}:${r.database}`)
      .join(','),
  };
}

/** The next version: the same databases (with `database` appended when new) and the given placement and fences. */
export function nextMap(
  map: ShardMap,
  change: { move?: { first: number; last: number; database: string }; fenced?: readonly number[] },
): ShardMap {
  const databases = [...map.databases];
  const logical = [...map.logical];
  if (change.move) {
    let index = databases.findIndex((d) => sameDatabase(d, change.move!.database));
    if (index === -1) index = databases.push(change.move.database) - 1;
    for (let l = change.move.first; l <= change.move.last; l++) logical[l] = index;
  }
  const fenced = [...new Set(change.fenced ?? map.fenced)].sort(ascending);
  return { version: map.version + 1, databases, logical, fenced };
}

/**
 * Whether two MYSQL_SHARDS entries name the same database: the same database on the same nodes (hosts, ports or
 * sockets, in order), whatever the credentials or options.
 */
/** A database's name (its URL's path): what ties a map's entry to a process's configuration. */
export function databaseName(entry: string): string {
  return new URL(parseShardNodes(entry)[0]![0]!).pathname;
}

/**
 * The map with each database the process's configuration names (by database name) at the configured address: the
 * configuration says where this process reaches a database (a proxy, a node list, a new host), the map which database
 * holds which logical shards. Names are unique in a map (a move refuses a target named as another database of it), so
 * a name never ties a configured entry to another database. Entries the configuration does not name stay as stored.
 */
export function atConfiguredAddresses(map: ShardMap, configured: readonly string[]): ShardMap {
  const byName = new Map(configured.map((entry) => [databaseName(entry), entry]));
  return { ...map, databases: map.databases.map((entry) => byName.get(databaseName(entry)) ?? entry) };
}

export function sameDatabase(a: string, b: string): boolean {
  return databaseKey(a) === databaseKey(b);
}

export function databaseKey(entry: string): string {
  const shards = parseShardNodes(entry);
  if (shards.length !== 1) throw new Error(`"${entry}" is not one database (nodes joined by |)`);
  return shards[0]!
    .map((node) => {
      const url = new URL(node);
      return `${url.host}${url.searchParams.get('socketPath') ?? ''}${url.pathname}`;
    })
    .join('|');
}
