import { sql, TransactionRollbackError } from 'drizzle-orm';
import { rawRows } from '@paygraph/shared/db/raw';
import type { Shard } from '@paygraph/shared/shards/pool';
import type { Tx } from '@paygraph/shared/shards/transaction';

/**
 * The connections of this process's holdLock transactions: never what the test waits for. A holder's own locking read
 * can still be listed as a running statement just after its answer reached the test (MariaDB sends the result, then
 * marks the connection idle; on a busy machine the listing lags by tens of milliseconds), and a poll that counted it
 * believed the code under test was waiting for the row when it had not yet reached it (refund-funder-status.test.ts,
 * a full run on 11-29: the funder's hold not yet taken, the test's reading of it found nothing).
 */
const holderConnections = new Set<number>();

/**
 * How many other connections on this shard's database are running a statement whose text matches every one of
 * `patterns` (LIKE patterns: drizzle writes the values into the text it shows). The process list's, as MariaDB lists no
 * transaction of a statement while it waits for its first lock. The test's own holders (holdLock) are not counted.
 */
export async function statementsRunning(shard: Shard, ...patterns: string[]): Promise<number> {
  const holders = [...holderConnections];
  const [row] = await rawRows<{ n: number }>(
    shard,
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
     WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query'${' AND INFO LIKE ?'.repeat(patterns.length)}` +
      (holders.length > 0 ? ' AND ID NOT IN (?)' : ''),
    holders.length > 0 ? [...patterns, holders] : patterns,
  );
  return Number(row!.n);
}

/**
 * Whether another connection on this shard's database is running a locking read (FOR UPDATE) whose text matches
 * `pattern`: a statement waiting for a row the test holds on a connection of its own, so the test knows the interleaving
 * it built has been reached.
 */
export async function lockingReadWaits(shard: Shard, pattern: string): Promise<boolean> {
  return (await statementsRunning(shard, pattern, '%for update')) > 0;
}

/** Polls `condition` every 20 ms until it holds; fails after 10 s, naming `what`. */
export async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited 10 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether a locking read of `table` naming `id` waits on this database (for a row the test holds). */
export function aLockWaits(
  shard: Shard,
  table: 'payments' | 'payment_legs' | 'accounts',
  id: string,
): Promise<boolean> {
  return lockingReadWaits(shard, `%from \`${table}\`%${id}%`);
}

/**
 * A row lock held by the test on a connection of its own until `release` (the lock taken when `taken` resolves), then
 * committed; rolled back instead with `rollBack`, so that a row the test inserted to hold its place never was.
 */
export function holdLock(shard: Shard, lock: (tx: Tx) => Promise<unknown>, options: { rollBack?: boolean } = {}) {
  let release!: () => void;
  let held!: () => void;
  const taken = new Promise<void>((resolve) => (held = resolve));
  let connection: number | null = null;
  const done = shard.db
    .transaction(async (tx) => {
      const [rows] = (await tx.execute(sql`SELECT CONNECTION_ID() AS id`)) as unknown as [Array<{ id: number }>];
      connection = Number(rows[0]!.id);
      holderConnections.add(connection);
      await lock(tx);
      held();
      await new Promise<void>((resolve) => (release = resolve));
      if (options.rollBack === true) tx.rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof TransactionRollbackError)) throw error;
    })
    .finally(() => {
      if (connection !== null) holderConnections.delete(connection);
    });
  return { taken, done, release: () => release() };
}
