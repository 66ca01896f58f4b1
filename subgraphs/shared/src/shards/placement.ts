import { randomInt } from 'node:crypto';
import { randomLogicalShard, type LogicalShard } from '../ids';
import { logicalShardCount } from '../limits';
import { log } from '../log';
import { atConfiguredAddresses, databaseKey, seedMap, type ShardMap } from './shard-map';
import { parseShardNodes, type Topology } from './topology';
import { FencedWrite } from './unavailable';

/** What the placement needs of a shard: its place among the databases, and its name for errors. */
export interface PlacedShard {
  readonly index: number;
  readonly name: string;
}

/** The map a process follows could not be read: it serves the last one it knew (docs/SCALING.md). */
export interface MapStale {
  /** Since when (epoch ms) every read of the control database failed. */
  since: number;
  /** Why, for the log only (it may name hosts). */
  error: string;
}

/**
 * Where each logical shard is now, for one process: the map provider the shard set asks (pool.ts). It starts from
 * the start-up configuration (or the live map read before start-up) and follows each new version of the live map
 * (control/follower.ts), opening a pool for a database it did not know. A fenced logical shard answers
 * ShardUnavailable (SHARD_UNAVAILABLE, retryable) to every request routed to it.
 */
export class Placement<S extends PlacedShard> {
  private map: ShardMap;
  private shards: S[];
  private logical: S[];
  private fenced = new Set<number>();
  private lists: LogicalShard[][] = [];
  private topologyNow: Topology;
  /** The databases as this process's configuration (or the map read at start-up) writes them: their addresses win. */
  private readonly configured: readonly string[];
  /** Whether the map came from the control database (else from the configuration). */
  private followed = false;
  /** Set while the control database cannot be read; cleared by the next successful read. */
  stale: MapStale | null = null;

  constructor(
    topology: Topology,
    shards: S[],
    private readonly open: (nodes: readonly string[], index: number) => S,
  ) {
    this.map = seedMap(topology);
    this.shards = shards;
    this.topologyNow = topology;
    this.configured = this.map.databases;
    this.logical = topology.physicalOf.map((p) => shards[p]!);
    this.index();
  }

  get version(): number {
    return this.map.version;
  }

  get current(): ShardMap {
    return this.map;
  }

  get all(): readonly S[] {
    return this.shards;
  }

  get topology(): Topology {
    return this.topologyNow;
  }

  /** The shard holding a logical shard; ShardUnavailable while it is fenced. */
  shardFor(logical: number): S {
    const shard = this.logical[logical]!;
    if (this.fenced.has(logical)) throw new FencedWrite(shard.name, [logical], `by shard map ${this.map.version}`);
    return shard;
  }

  /**
   * The shard the map places a logical shard on, fenced or not: for a reader of every database that must tell a range's
   * live rows from the copies a shard move leaves (a source's until the move's clean, a target's before the switch).
   * Before the switch the source's rows are the live ones (its writes fenced), after it the target's; shardFor would
   * throw for the fenced range, and logicalOn lists it nowhere.
   */
  placedOn(logical: number): S {
    return this.logical[logical]!;
  }

  /**
   * The logical shards placedOn puts on `shard`, fenced or not: what a reader of every database keeps of each
   * (db/placed.ts onPlacedShards, placedClause), so that a move's copies are neither listed nor counted in a LIMIT;
   * null when it holds every one (no other database, so no copy).
   */
  placedLogicals(shard: S): number[] | null {
    const placed: number[] = [];
    for (let logical = 0; logical < logicalShardCount; logical++)
      if (this.placedOn(logical).index === shard.index) placed.push(logical);
    return placed.length === logicalShardCount ? null : placed;
  }

  isFenced(logical: number): boolean {
    return this.fenced.has(logical);
  }

  /**
   * A random logical shard this map does not fence, for a new row's id (an account, an FX quote): one minted for a
   * fenced range would be refused at once (routing or its fence read) and its client made to retry. Drawn among the
   * open ones, so a move fencing most of them still leaves each open one as likely; when every one is fenced, any
   * (refused where it is written, SHARD_UNAVAILABLE, retryable).
   */
  openLogical(): LogicalShard {
    const open = this.lists.flat();
    if (open.length === 0) return randomLogicalShard();
    return open[randomInt(open.length)]!;
  }

  /**
   * The logical shards on a database that are not fenced: those new ids for it may name (a fenced one is leaving or
   * arriving, and an id minted for it now could be left behind by the move's copy).
   */
  logicalOn(shard: S): LogicalShard[] {
    return this.lists[shard.index] ?? [];
  }

  /**
   * Follows a newer map: opens the databases it lists that this process has not opened (appended, so places never
   * change), then places and fences the logical shards. An older or equal version changes nothing.
   */
  apply(stored: ShardMap): boolean {
    // The configuration's map is version 1 too, but the stored one wins over it.
    if (this.followed && stored.version <= this.map.version) return false;
    const map = atConfiguredAddresses(stored, this.configured);
    this.followed = true;
    const known = this.topologyNow.nodes.map((nodes) => databaseKey(nodes.join('|')));
    const indexOf = map.databases.map((entry) => {
      const at = known.indexOf(databaseKey(entry));
      if (at !== -1) return at;
      const nodes = parseShardNodes(entry)[0]!;
      const shard = this.open(nodes, this.shards.length);
      this.shards = [...this.shards, shard];
      known.push(databaseKey(entry));
      this.topologyNow = {
        ...this.topologyNow,
        urls: [...this.topologyNow.urls, nodes[0]!],
        nodes: [...this.topologyNow.nodes, nodes],
      };
      log().info({ shard: shard.name, version: map.version }, `shard map: opened database ${shard.name}`);
      return shard.index;
    });
    const physicalOf = map.logical.map((d) => indexOf[d]!);
    this.topologyNow = { ...this.topologyNow, physicalOf };
    this.logical = physicalOf.map((p) => this.shards[p]!);
    this.fenced = new Set(map.fenced);
    this.map = map;
    this.index();
    return true;
  }

  private index(): void {
    this.lists = this.shards.map(() => []);
    for (let l = 0; l < logicalShardCount; l++)
      if (!this.fenced.has(l)) this.lists[this.logical[l]!.index]!.push(l as LogicalShard);
  }
}
