import type { MySql2Database } from 'drizzle-orm/mysql2';
import { deadlockRetryBaseMs, deadlockRetryCapMs, deadlockRetryCountMax } from '../limits';
import type { Shard } from './pool';

/** A transaction drizzle runs (inTransaction). */
export type DrizzleTx = Parameters<Parameters<MySql2Database['transaction']>[0]>[0];

/**
 * What the SQL modules built with drizzle ask of a database or a transaction: drizzle's query
 * builder, its public API. A shard's database, a drizzle transaction (inTransaction) and the
 * posting engine's own transaction (posting-transaction.ts) all answer it.
 */
export type Tx = Pick<MySql2Database, 'select' | 'selectDistinct' | 'insert' | 'update' | 'delete' | 'execute'>;

/** What a store function built with drizzle runs on: a drizzle transaction (or the posting engine's), or a shard's database. */
export type Executor = Tx | Shard['db'];

export const mysqlErrno = {
  duplicateEntry: 1062,
  lockWaitTimeout: 1205,
  deadlock: 1213,
} as const;

/** The MySQL error number behind an error, looking through drizzle's wrapper. */
export function errnoOf(error: unknown): number | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const errno = (current as { errno?: unknown }).errno;
    if (typeof errno === 'number') return errno;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A row stayed locked past lockWaitSeconds: nothing was written and the client may retry. */
export class LockTimeout extends Error {
  override name = 'LockTimeout';
  constructor(
    readonly shard: string,
    options?: ErrorOptions,
  ) {
    super(`a row on shard ${shard} stayed locked too long; nothing was written, retry the request`, options);
  }
}

/**
 * The answer to a COMMIT was lost (the connection or the node died after it was sent), and
 * reading a row the transaction wrote on the shard found none: it did not commit, and running it
 * again cannot post twice. `retrying` runs it again (with retryNotApplied).
 */
export class CommitNotApplied extends Error {
  override name = 'CommitNotApplied';
  constructor(
    readonly shard: string,
    options?: ErrorOptions,
  ) {
    super(`the commit on shard ${shard} was lost before it applied`, options);
  }
}

export interface TransactionOptions {
  /**
   * Errors (by MySQL errno) worth running the whole transaction again for. The default, a
   * deadlock (1213), is also what a Galera node answers when the cluster's certification
   * refuses a transaction that conflicts with one committed on another node: both mean nothing
   * was written, and running the transaction again from the start is right.
   */
  retryOn?: readonly number[];
  /** Also run it again after a commit lost before it applied (posting-transaction.ts's CommitNotApplied). */
  retryNotApplied?: boolean;
}

/**
 * Runs fn in one local transaction on one shard. Any error rolls the whole transaction
 * back — MariaDB's lock-wait timeout (1205) undoes only its statement, so committing after
 * catching one would persist half a posting; fn must therefore never swallow a query error.
 * Deadlocks (1213) run fn again from the start after a jittered backoff, a bounded number
 * of times. fn may run more than once: it must not have effects outside the transaction.
 */
export function inTransaction<T>(
  shard: Shard,
  fn: (tx: DrizzleTx) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return retrying(shard, () => shard.db.transaction(fn), options);
}

/** Runs one attempt of a whole transaction again after a deadlock (or options.retryOn), with backoff. */
export async function retrying<T>(
  shard: Shard,
  attemptOnce: () => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retryOn = options.retryOn ?? [mysqlErrno.deadlock];
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptOnce();
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === mysqlErrno.lockWaitTimeout) throw new LockTimeout(shard.name, { cause: error });
      if (error instanceof CommitNotApplied) {
        if (options.retryNotApplied === true && attempt < deadlockRetryCountMax) continue;
        throw error.cause;
      }
      if (errno === undefined || !retryOn.includes(errno) || attempt >= deadlockRetryCountMax) throw error;
      await sleep(backoffMs(attempt));
    }
  }
}

function backoffMs(attempt: number): number {
  const ceiling = Math.min(deadlockRetryCapMs, deadlockRetryBaseMs * 2 ** attempt);
  return Math.random() * ceiling;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
