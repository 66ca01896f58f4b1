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
 * ER_CON_COUNT_ERROR is "Too many connections" (1040).
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
]);

/** True for an error that says the shard could not be reached (see unreachableCodes). */
export function isShardUnreachable(error: unknown): boolean {
  if (error instanceof ShardUnavailable) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && unreachableCodes.has(code);
}

/** The error as ShardUnavailable when it says the shard is unreachable; otherwise the error itself. */
export function asShardUnavailable(shard: string, error: unknown): unknown {
  if (error instanceof ShardUnavailable || !isShardUnreachable(error)) return error;
  return new ShardUnavailable(shard, error instanceof Error ? error.message : String(error));
}
