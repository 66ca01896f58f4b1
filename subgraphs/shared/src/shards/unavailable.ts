import { driverErrorCauseDepthMax } from '../limits';
/**
 * A shard that cannot be reached (connection refused or reset, a timeout, its circuit breaker
 * open, "Too many connections") is an expected failure of one part of the system: the operation
 * that needed it answers SHARD_UNAVAILABLE, retryable, naming the shard by its database name and
 * never by host, port or SQL text. Everything else the database says stays a bug.
 */
export class ShardUnavailable extends Error {
  constructor(
    /** The shard's database name (`Shard.name`), never its address. */
    readonly shard: string,
    /** What happened, for the log only: it may name hosts and SQL. */
    readonly detail: string,
  ) {
    super(`shard ${shard} is unavailable; retry the same request (with the same idempotency key)`);
    this.name = 'ShardUnavailable';
  }
}

/**
 * Error codes from mysql2 and Node's sockets that mean the shard, not the statement, failed.
 * ER_CON_COUNT_ERROR is "Too many connections" (1040) and ER_USER_LIMIT_REACHED the user's own
 * max_user_connections (1226): the server is there but takes no connection of ours now, which a
 * client can only wait out, like an unreachable one. ER_UNKNOWN_COM_ERROR (1047, SQLSTATE 08S01) is
 * what a Galera node outside the primary component answers every statement ("WSREP has not yet
 * prepared node for application use"): the node serves nothing until it rejoins, and the pool must
 * move to one that does. Taken for a bug, it made a refund that had committed answer
 * INTERNAL_SERVER_ERROR, which a client does not retry (galera-failover.isolated.test.ts).
 */
const unreachableCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_USER_LIMIT_REACHED',
  'ER_UNKNOWN_COM_ERROR',
]);

/** The error and its causes, outermost first (drizzle's DrizzleQueryError carries mysql2's as `cause`). */
function causesOf(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (
    let e = error;
    e !== null && e !== undefined && chain.length < driverErrorCauseDepthMax;
    e = (e as { cause?: unknown }).cause
  )
    chain.push(e);
  return chain;
}

/** True for an error that says the shard could not be reached (see unreachableCodes), itself or by its cause. */
export function isShardUnreachable(error: unknown): boolean {
  return causesOf(error).some((e) => {
    if (e instanceof ShardUnavailable) return true;
    const { code, fatal } = e as { code?: unknown; fatal?: unknown };
    if (typeof code === 'string') return unreachableCodes.has(code);
    // mysql2's errors of a connection already dead ("Can't add new command when connection is
    // in closed state", "Can't write in closed state") are fatal and carry no code.
    return fatal === true && e instanceof Error && e.message.includes('closed state');
  });
}

/**
 * A request refused because a logical shard it needs is fenced (a shard move): by the map the process routes by
 * (shards/placement.ts), or where the write happens, when a posting's accounts' logical shard is fenced on the database
 * (control/store/fences.ts) and the writing process routed by a map that missed it. Retryable like an unreachable
 * shard (SHARD_UNAVAILABLE), and over within the fence's budget (shardMoveFenceMsMax): a worker retries it soon, not
 * after its usual back-off. The shard answers: the breaker does not count it.
 */
export class FencedWrite extends ShardUnavailable {
  constructor(
    shard: string,
    readonly logicalShards: readonly number[],
    where = 'on this database',
  ) {
    super(shard, `logical shards ${logicalShards.join(', ')} are fenced ${where} (a shard move)`);
    this.name = 'FencedWrite';
  }
}

/** The error as ShardUnavailable when it says the shard is unreachable; otherwise the error itself. */
export function asShardUnavailable(shard: string, error: unknown): unknown {
  if (!isShardUnreachable(error)) return error;
  const named = causesOf(error).find((e): e is ShardUnavailable => e instanceof ShardUnavailable);
  if (named) return named;
  const root = causesOf(error).find((e) => typeof (e as { code?: unknown }).code === 'string') ?? error;
  return new ShardUnavailable(shard, root instanceof Error ? root.message : String(root));
}
