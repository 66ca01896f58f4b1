import type mysql from 'mysql2/promise';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import { shardOf, type IdKind, type LogicalShard } from '../ids';
import { lockWaitSeconds, serverStatementTimeoutMsOf, shardPoolSizeDefault, shardStatementTimeoutMs } from '../limits';
import { postingSettingsDefault, type PostingSettings, type ShardLocation } from '../config/shared';
import { buildTopology, type Topology } from './topology';
import { Placement } from './placement';
import { ShardPool } from './shard-pool';
import { checkShardNodes } from './galera';
import type { SlowFailover } from './galera-timings';

/** MySQL's ER_UNKNOWN_SYSTEM_VARIABLE. */
const unknownSystemVariable = 1193;

/**
 * A handle on one physical shard. Every data function takes one first: there is no
 * default pool, so a query that forgot its shard does not compile.
 */
export interface Shard {
  readonly index: number;
  readonly name: string;
  readonly db: MySql2Database;
  /** mysql2's pool behind bounded waits and a circuit breaker (shard-pool.ts). */
  readonly pool: ShardPool;
  /** Statements sent through `db`, for tests that count queries. */
  queryCount: number;
  /** How postOne posts on this shard (ledger/engine/post.ts): the process's POSTING_ENGINE and merge settings. */
  readonly posting: PostingSettings;
  /**
   * Set at start-up when its Galera timings make a failover slower than its budget (galera-timings.ts); named by
   * /health/ready.
   */
  slowFailover: SlowFailover | null;
  /**
   * The logical shards the live map places on this database and does not fence (ShardSet.logicalOn): for the posting
   * engine, which knows its shard and not its set, to name the system accounts it opens (system-accounts.ts).
   */
  logicalHere(): LogicalShard[];
}

export interface ShardSet {
  /** The databases and placement now (the live map's, once followed: control/follower.ts). */
  readonly topology: Topology;
  /** Every database this process has opened, in MYSQL_SHARDS order, then those a new map version added. */
  readonly all: readonly Shard[];
  /** Where each logical shard is, and which are fenced: the map provider byLogical and of ask (placement.ts). */
  readonly placement: Placement<Shard>;
  byLogical(shard: LogicalShard): Shard;
  /** The shard that holds a well-formed id of this kind (ids.ts: shardOf asserts it). */
  of(kind: IdKind, id: string): Shard;
  /** Logical shards placed on a physical shard: ids minted for that database use one. */
  logicalOn(shard: Shard): LogicalShard[];
  close(): Promise<void>;
}

/** Where the shards are (config.shards), and what this process's pools and postings need. */
export interface ShardSetOptions extends Omit<ShardLocation, 'map'> {
  /** SHARD_MAP; absent or null: contiguous ranges. */
  map?: string | null;
  /** Connections per shard; shardPoolSizeDefault when absent. */
  poolSize?: number;
  /**
   * How postOne posts on these shards: the configuration's (config.posting) in a process that
   * posts. Absent: the defaults, for scripts and tools that never post.
   */
  posting?: PostingSettings;
  /**
   * The client's bound on one statement (the server's a margin past it: serverStatementTimeoutMsOf); absent,
   * shardStatementTimeoutMs, what a request can wait. Only a tool that reads whole tables on purpose, after its traffic
   * has stopped (the benchmark's invariants check), sets a longer one.
   */
  statementTimeoutMs?: number;
}

export function openShards(options: ShardSetOptions): ShardSet {
  const topology = buildTopology(options.urls, options.map ?? undefined);
  const poolSize = options.poolSize ?? shardPoolSizeDefault;
  const posting = options.posting ?? postingSettingsDefault;
  const statementTimeoutMs = options.statementTimeoutMs ?? shardStatementTimeoutMs;
  // Called once the placement exists: opening a shard only keeps the function.
  const logicalOn = (shard: Shard): LogicalShard[] => placement.logicalOn(shard);
  const open = (nodes: readonly string[], index: number) =>
    openShard(nodes, index, { poolSize, posting, statementTimeoutMs, logicalOn });
  const placement = new Placement(topology, topology.nodes.map(open), open);
  return {
    get topology() {
      return placement.topology;
    },
    get all() {
      return placement.all;
    },
    placement,
    byLogical: (shard) => placement.shardFor(shard),
    of: (kind, id) => placement.shardFor(shardOf(kind, id)),
    logicalOn: (shard) => placement.logicalOn(shard),
    close: async () => {
      await Promise.all(placement.all.map((s) => s.pool.end()));
    },
  };
}

/**
 * The start-up check of a process whose shards may list several nodes: refuses (throws
 * ShardNodesRefused, naming the shard and node) a node that is not Galera or belongs to another
 * cluster, and starts each pool on the node every process would choose (galera.ts).
 */
export async function checkShards(shards: ShardSet): Promise<void> {
  startOnNodes(shards, await checkShardNodes(shards.topology));
}

/** Keeps the start-up check's Galera timing warnings (galera-timings.ts) on their shards, for /health/ready. */
export function noteSlowFailovers(shards: ShardSet, warnings: readonly SlowFailover[]): void {
  for (const shard of shards.all) shard.slowFailover = warnings.find((w) => w.shard === shard.name) ?? null;
}

/** The time zone every shard pool binds and reads DATETIME values in (db/raw.ts datetimeText writes in it too). */
export const poolTimezone = 'Z';

/** Starts each shard's pool on the node checkShardNodes chose for it. */
export function startOnNodes(shards: ShardSet, nodes: readonly number[]): void {
  shards.all.forEach((shard, i) => shard.pool.startOn(nodes[i]!));
}

/** What openShard opens a database's pool with, and where its logical shards are asked (Shard.logicalHere). */
interface ShardOpening {
  poolSize: number;
  posting: PostingSettings;
  statementTimeoutMs: number;
  logicalOn: (shard: Shard) => LogicalShard[];
}

function openShard(nodes: readonly string[], index: number, opening: ShardOpening): Shard {
  const { poolSize, posting, statementTimeoutMs, logicalOn } = opening;
  const name = new URL(nodes[0]!).pathname.slice(1);
  const serverStatementTimeoutMs = serverStatementTimeoutMsOf(statementTimeoutMs);
  const pool = new ShardPool({
    name,
    nodes,
    statementTimeoutMs,
    pool: {
      connectionLimit: poolSize,
      // BIGINT must arrive as a string: a JS number silently loses cents above 2^53.
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      dateStrings: false,
      timezone: poolTimezone,
      enableKeepAlive: true,
      // No stack trace captured per query: on the posting path that capture cost more CPU than
      // the statement's round trip (docs/PERFORMANCE.md). Errors still carry MySQL's code and message.
      trace: false,
      // The posting engine sends its held writes and COMMIT with one round trip
      // (posting-transaction.ts). Every statement binds its values with placeholders, so a
      // client's text never becomes SQL, stacked or not.
      multipleStatements: true,
    },
    // Every connection reads committed data and gives up on a row lock after lockWaitSeconds.
    // Read committed lets a transaction that waited for a lock see what the holder committed.
    onConnection: (conn) => {
      // This form works on MariaDB and MySQL 8 alike (the variable is tx_isolation on one and
      // transaction_isolation on the other).
      conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      conn.query(`SET SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}, time_zone = '+00:00'`);
      // The server stops a statement the client gave up on (shardServerStatementTimeoutMs says
      // why). MariaDB counts seconds; MySQL 8 has no max_statement_time (1193, unknown system
      // variable) and bounds its SELECTs by max_execution_time, in milliseconds.
      conn.query(
        `SET SESSION max_statement_time = ${serverStatementTimeoutMs / 1_000}`,
        (error: { errno?: number } | null) => {
          if (error?.errno === unknownSystemVariable)
            conn.query(`SET SESSION max_execution_time = ${serverStatementTimeoutMs}`);
        },
      );
    },
  });
  const shard: Shard = {
    index,
    name,
    pool,
    queryCount: 0,
    posting,
    slowFailover: null,
    logicalHere: () => logicalOn(shard),
    db: undefined as unknown as MySql2Database,
  };
  (shard as { db: MySql2Database }).db = drizzle({
    // ShardPool answers the part of mysql2's Pool that drizzle calls (query, execute, getConnection).
    client: pool as unknown as mysql.Pool,
    mode: 'default',
    logger: { logQuery: () => void shard.queryCount++ },
  });
  shardsByDb.set(shard.db, shard);
  return shard;
}

/** Each shard's drizzle database, back to its shard: our own record, not drizzle's internals. */
const shardsByDb = new WeakMap<object, Shard>();

/** The shard whose `db` this is, or undefined for any other drizzle database or transaction. */
export function shardOfDb(db: object): Shard | undefined {
  return shardsByDb.get(db);
}
