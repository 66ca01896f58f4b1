import type mysql from 'mysql2/promise';
import { drizzle } from 'drizzle-orm/mysql2';
import type { ShardConnection } from './shard-pool';
import type { Shard } from './pool';
import { CommitNotApplied, retrying, type Tx, type TransactionOptions } from './transaction';
import { commitOutcomeWaitMs, lockWaitSeconds } from '../limits';
import { isShardUnreachable } from './unavailable';
import { log } from '../log';

/** One statement with its `?` placeholders and their values, bound by mysql2 (connection.format). */
export interface Statement {
  sql: string;
  values: readonly unknown[];
  /** What a trace shows of a `sql` whose values are written in already (db/insert-text.ts): it with its `?`. */
  text?: string;
}

/**
 * The posting engine's transaction, paygraph's own: one pooled shard connection (shard-pool.ts,
 * so its statement timeout and circuit breaker apply), on which what needs no answer — BEGIN,
 * the ledger's and the business records' writes, COMMIT — is held back and sent with the next
 * statement that does, as one multi-statement round trip. A merged batch then costs about four
 * round trips (lock and BEGIN, prior outcomes, the prepares' and finishes' own reads, then every
 * write and COMMIT) instead of ten or more; each round trip costs both processes a system call
 * and a wake-up, which was a third of the transaction subgraph's CPU (docs/PERFORMANCE.md).
 *
 * MySQL runs a multi-statement text in order and stops at the first error, and any error rolls
 * the whole transaction back (inPostingTransaction): held-back writes are never committed
 * without the statements before them, and a failing one (a duplicate dedupe key) fails the
 * batch at the moment it is sent.
 *
 * It also answers drizzle's query builder (select, selectDistinct, insert, update, delete, execute — the `Tx`
 * of shards/transaction.ts), through `drizzle({ client })`, drizzle's documented way over one
 * mysql2 connection, with this transaction's connection as the client: hooks and stores that
 * build statements with drizzle run inside the same transaction, and what is held goes out
 * before each of them (in its own round trip) so that they see it.
 */
export class PostingTx implements Tx {
  readonly select: Tx['select'];
  readonly selectDistinct: Tx['selectDistinct'];
  readonly insert: Tx['insert'];
  readonly update: Tx['update'];
  readonly delete: Tx['delete'];
  readonly execute: Tx['execute'];
  /**
   * Statements held back, their values bound; `heldText` is the same statements with their placeholders, for traces.
   */
  private held: string[] = [];
  private heldText: string[] = [];

  constructor(
    private readonly shard: Shard,
    private readonly connection: ShardConnection,
  ) {
    // drizzle's mysql2 driver sends through its client's query and execute (mysql2's
    // Connection API); this client sends what is held first, on the same connection.
    const client = {
      query: async (sql: string | mysql.QueryOptions, values?: unknown) => {
        await this.sendHeld();
        return this.connection.query(sql, values);
      },
      execute: async (sql: string | mysql.QueryOptions, values?: unknown) => {
        await this.sendHeld();
        return this.connection.execute(sql, values);
      },
    };
    const db = drizzle({
      client: client as unknown as mysql.Connection,
      mode: 'default',
      logger: { logQuery: () => void shard.queryCount++ },
    });
    this.select = db.select.bind(db);
    this.selectDistinct = db.selectDistinct.bind(db);
    this.insert = db.insert.bind(db);
    this.update = db.update.bind(db);
    this.delete = db.delete.bind(db);
    this.execute = db.execute.bind(db);
  }

  /** The shard's database name, for the errors a store raises inside the transaction. */
  get shardName(): string {
    return this.shard.name;
  }

  /**
   * Keeps a write (its values bound now) to go out in front of the next statement, or with COMMIT; `text` is what a
   * trace shows of a `sql` whose values are written in already.
   */
  hold(sql: string, values: readonly unknown[] = [], text: string = sql): void {
    this.shard.queryCount++;
    this.keep(sql, values, text);
  }

  /** Sends what is held and then this statement, in one round trip; answers this one's rows. */
  async query<T>(sql: string, values: readonly unknown[] = []): Promise<T[]> {
    const [rows] = await this.queryMany([{ sql, values }]);
    return rows as T[];
  }

  /** A write that needs its answer: sends what is held and it; answers the rows it affected. `text`: as for hold. */
  async write(sql: string, values: readonly unknown[] = [], text: string = sql): Promise<number> {
    const [result] = await this.queryMany([{ sql, values, text }]);
    return (result as unknown as { affectedRows: number }).affectedRows;
  }

  /** Sends what is held and then these statements in one round trip; answers these ones' results. */
  async queryMany(statements: readonly Statement[]): Promise<unknown[][]> {
    if (statements.length === 0) return [];
    this.shard.queryCount += statements.length;
    for (const s of statements) this.keep(s.sql, s.values, s.text ?? s.sql);
    const { all, text } = this.take();
    const [results] = await this.connection.query(all.join(';\n'), undefined, text);
    // One statement alone answers its result; several answer one result per statement.
    const sets = all.length === 1 ? [results] : (results as unknown[]);
    return sets.slice(all.length - statements.length) as unknown[][];
  }

  /** Sends whatever is held, then COMMIT, then `after` (statements outside the transaction). */
  async commit(after: readonly string[] = []): Promise<void> {
    for (const sql of ['COMMIT', ...after]) this.keep(sql);
    await this.sendHeld();
  }

  /** Drops what is held and rolls back what went out, then runs `after`. */
  async rollback(after: readonly string[] = []): Promise<void> {
    this.take();
    await this.connection.query(['ROLLBACK', ...after].join(';\n'));
  }

  private async sendHeld(): Promise<void> {
    if (this.held.length === 0) return;
    const { all, text } = this.take();
    await this.connection.query(all.join(';\n'), undefined, text);
  }

  /** BEGIN, after a lock wait for this transaction alone if one is given; held like a write. */
  begin(wait: number | undefined): void {
    if (wait !== undefined) this.keep('SET SESSION innodb_lock_wait_timeout = ?', [wait]);
    this.keep('BEGIN');
  }

  /** Holds a statement with its values bound now (mysql2's format), and its text with placeholders for traces. */
  private keep(sql: string, values: readonly unknown[] = [], text: string = sql): void {
    this.held.push(values.length === 0 ? sql : this.connection.format(sql, values));
    this.heldText.push(text);
  }

  /** What is held, to be sent now: the bound statements and their texts with placeholders. */
  private take(): { all: string[]; text: string[] } {
    const taken = { all: this.held, text: this.heldText };
    this.held = [];
    this.heldText = [];
    return taken;
  }
}

export interface PostingTransactionOptions extends TransactionOptions {
  /** A lock wait other than the connection's lockWaitSeconds, for this transaction only. */
  lockWaitSeconds?: number;
  /**
   * A locking read of a row the attempt wrote (answered after fn ran): rows when the
   * transaction committed, none when it did not. With it a COMMIT whose answer was lost with
   * its connection or node is resolved instead of answered SHARD_UNAVAILABLE (resolveLostCommit).
   * Null: the attempt wrote nothing it can be told by.
   */
  witness?: () => Statement | null;
}

/**
 * Runs fn in one transaction on one shard over a PostingTx, with inTransaction's retries: a
 * deadlock (or options.retryOn) runs fn again from the start, a lock-wait timeout becomes
 * LockTimeout. Any error rolls the whole transaction back, so fn must not swallow one.
 * A COMMIT whose answer was lost is resolved by options.witness: committed, the attempt's result
 * is answered; not committed, the attempt runs again (on the node the pool failed over to, if it
 * did); unknown within commitOutcomeWaitMs, ShardUnavailable as before, and a retry with the same
 * idempotency key answers the outcome.
 */
export function inPostingTransaction<T>(
  shard: Shard,
  fn: (tx: PostingTx) => Promise<T>,
  options: PostingTransactionOptions = {},
): Promise<T> {
  const wait = options.lockWaitSeconds;
  // The connection goes back to the pool with the usual wait, or not at all.
  const restore = wait === undefined ? [] : [`SET SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}`];
  return retrying(
    shard,
    async () => {
      const connection = await shard.pool.getConnection();
      let reusable = true;
      try {
        const tx = new PostingTx(shard, connection);
        tx.begin(wait);
        let result: T;
        try {
          result = await fn(tx);
        } catch (error) {
          await tx.rollback(restore).catch(() => {
            reusable = false;
          });
          throw error;
        }
        try {
          await tx.commit(restore);
          return result;
        } catch (error) {
          if (!isShardUnreachable(error)) {
            // The server answered the round trip with an error (a held write's duplicate key, a
            // certification conflict): nothing committed.
            await tx.rollback(restore).catch(() => {
              reusable = false;
            });
            throw error;
          }
          reusable = false;
          const witness = options.witness?.() ?? null;
          if (witness === null) throw error;
          if (await resolveLostCommit(shard, witness, error)) return result;
          throw new CommitNotApplied(shard.name, { cause: error });
        }
      } finally {
        if (reusable) connection.release();
        else connection.destroy();
      }
    },
    { ...options, retryNotApplied: true },
  );
}

/**
 * Whether a transaction whose COMMIT answer was lost committed: reads its witness (a locking
 * read, so a COMMIT the server is still applying is waited for) on the shard's primary, on a
 * fresh connection — the same node if it answers again, else the node the pool failed over to,
 * which had applied every write the cluster committed before the pool moved to it
 * (failoverBarrier, shard-pool.ts).
 * Tries until commitOutcomeWaitMs has passed; then the outcome stays unknown and `lost` is thrown.
 */
async function resolveLostCommit(shard: Shard, witness: Statement, lost: unknown): Promise<boolean> {
  // A single server has no node to fail over to: waiting for it would push the answer past the
  // contract's 3 s (a blackhole mid-COMMIT answered after 3.4 s in shard-fault.isolated.test.ts),
  // so it answers SHARD_UNAVAILABLE at once, as before shards had several nodes, and the client's
  // retry with its idempotency key answers the outcome.
  if (shard.pool.options.nodes.length === 1) throw lost;
  const deadline = Date.now() + commitOutcomeWaitMs;
  for (;;) {
    try {
      const [rows] = await shard.pool.query(witness.sql, witness.values);
      const committed = (rows as unknown[]).length > 0;
      log().warn(
        `shard ${shard.name}: a COMMIT's answer was lost; the transaction ${committed ? 'committed' : 'did not commit'}`,
      );
      return committed;
    } catch (error) {
      if (!isShardUnreachable(error) || Date.now() + commitOutcomeRetryMs > deadline) throw lost;
      await new Promise((resolve) => setTimeout(resolve, commitOutcomeRetryMs));
    }
  }
}

/** How often resolveLostCommit asks again while the shard does not answer (its breaker open, failing over). */
const commitOutcomeRetryMs = 100;
