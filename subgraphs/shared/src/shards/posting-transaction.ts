import type mysql from 'mysql2/promise';
import type { ShardConnection } from './shard-pool';
import { MySql2Session, MySql2Transaction } from 'drizzle-orm/mysql2';
import type { Shard } from './pool';
import { retrying, type Tx, type TransactionOptions } from './transaction';
import { lockWaitSeconds } from '../limits';

/**
 * The posting engine's transaction: a drizzle transaction like inTransaction's, over a
 * connection that holds back what needs no answer — BEGIN, the ledger's and the business
 * records' inserts, COMMIT — and sends it with the next statement that does, as one
 * multi-statement round trip. A merged batch then costs about four round trips (lock and
 * BEGIN, prior outcomes, the prepares' and finishes' own reads, then every write and COMMIT)
 * instead of ten or more; each round trip costs both processes a system call and a wake-up,
 * which was a third of the transaction subgraph's CPU (docs/PERFORMANCE.md).
 *
 * MySQL runs a multi-statement text in order and stops at the first error, and any error rolls
 * the whole transaction back here, as inTransaction does: held-back writes are never committed
 * without the statements before them, and a failing one (a duplicate dedupe key) fails the
 * batch at the moment it is sent. Only hand-written SQL (db/raw.ts) is held back; a statement
 * drizzle builds sends what is held back first, in its own round trip.
 */
export class FoldingClient {
  private held: string[] = [];

  constructor(private readonly connection: ShardConnection) {}

  /** Keeps a statement (with its values bound) to go out in front of the next one. */
  hold(sql: string, values: readonly unknown[] = []): void {
    this.held.push(this.connection.format(sql, values as unknown[]));
  }

  /** Sends the held statements and then this one in one round trip; answers this one's result. */
  async query(sql: string | mysql.QueryOptions, values?: unknown): Promise<[unknown, unknown]> {
    if (this.held.length === 0) return this.connection.query(sql as string, values as unknown[]);
    if (typeof sql !== 'string') {
      // A drizzle statement (it passes options such as rowsAsArray): its result shape is its own.
      await this.sendHeld();
      return this.connection.query(sql, values as unknown[]);
    }
    const text = [...this.held, this.connection.format(sql, values as unknown[])].join(';\n');
    this.held = [];
    const [results, fields] = await this.connection.query(text);
    return [(results as unknown[]).at(-1), (fields as unknown[] | undefined)?.at(-1)];
  }

  /** Sends the held statements and then these in one round trip; answers these ones' rows. */
  async queryMany(statements: ReadonlyArray<{ sql: string; values: readonly unknown[] }>): Promise<unknown[][]> {
    if (statements.length === 0) return [];
    const texts = statements.map((s) => this.connection.format(s.sql, s.values as unknown[]));
    const all = [...this.held, ...texts];
    this.held = [];
    const [results] = await this.connection.query(all.join(';\n'));
    // One statement alone answers its rows; several answer one result per statement.
    const sets = all.length === 1 ? [results] : (results as unknown[]);
    return sets.slice(all.length - statements.length) as unknown[][];
  }

  async execute(sql: string, values?: unknown): Promise<[unknown, unknown]> {
    await this.sendHeld();
    return this.connection.execute(sql, values);
  }

  /** Sends whatever is held, then COMMIT, then `after` (statements outside the transaction). */
  async commit(after: readonly string[] = []): Promise<void> {
    this.held.push('COMMIT', ...after);
    await this.sendHeld();
  }

  private async sendHeld(): Promise<void> {
    if (this.held.length === 0) return;
    const text = this.held.join(';\n');
    this.held = [];
    await this.connection.query(text);
  }
}

interface DrizzleInternals {
  dialect: ConstructorParameters<typeof MySql2Session>[1];
  session: { options: ConstructorParameters<typeof MySql2Session>[3] };
}

export interface PostingTransactionOptions extends TransactionOptions {
  /** A lock wait other than the connection's lockWaitSeconds, for this transaction only. */
  lockWaitSeconds?: number;
}

/** Runs fn in one transaction on one shard over a FoldingClient, with inTransaction's retries. */
export function inPostingTransaction<T>(shard: Shard, fn: (tx: Tx) => Promise<T>, options: PostingTransactionOptions = {}): Promise<T> {
  const wait = options.lockWaitSeconds;
  // The connection goes back to the pool with the usual wait, or not at all.
  const restore = wait === undefined ? [] : [`SET SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}`];
  return retrying(shard, async () => {
    const connection = await shard.pool.getConnection();
    let reusable = true;
    try {
      const client = new FoldingClient(connection);
      const db = shard.db as unknown as DrizzleInternals;
      const session = new MySql2Session(client as never, db.dialect, undefined, db.session.options);
      const tx = new MySql2Transaction(db.dialect, session as never, undefined, 0, 'default') as unknown as Tx;
      if (wait !== undefined) client.hold('SET SESSION innodb_lock_wait_timeout = ?', [wait]);
      client.hold('BEGIN');
      try {
        const result = await fn(tx);
        await client.commit(restore);
        return result;
      } catch (error) {
        await connection.query(['ROLLBACK', ...restore].join(';\n')).catch(() => {
          reusable = false;
        });
        throw error;
      }
    } finally {
      if (reusable) connection.release();
      else connection.destroy();
    }
  }, options);
}

/** The client under a transaction made by inPostingTransaction, or null under any other. */
export function foldingClientOf(executor: unknown): FoldingClient | null {
  const client = (executor as { session?: { client?: unknown } }).session?.client;
  return client instanceof FoldingClient ? client : null;
}
