import { rawRows } from '@paygraph/shared/db/raw';
import type { Shard } from '@paygraph/shared/shards/pool';
import type { Tx } from '@paygraph/shared/shards/transaction';

/**
 * Whether another connection on this shard's database is running a locking read (FOR UPDATE) whose text matches
 * `pattern` (a LIKE pattern: drizzle writes the values into the text it shows): a statement waiting for a row the test
 * holds on a connection of its own, so the test knows the interleaving it built has been reached. The process list's,
 * as MariaDB lists no transaction of such a statement while it waits for its first lock.
 */
export async function lockingReadWaits(shard: Shard, pattern: string): Promise<boolean> {
  const [row] = await rawRows<{ n: number }>(
    shard,
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
     WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE ? AND INFO LIKE '%for update'`,
    [pattern],
  );
  return Number(row!.n) > 0;
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

/** A row lock held by the test on a connection of its own until `release` (the lock taken when `taken` resolves). */
export function holdLock(shard: Shard, lock: (tx: Tx) => Promise<unknown>) {
  let release!: () => void;
  let held!: () => void;
  const taken = new Promise<void>((resolve) => (held = resolve));
  const done = shard.db.transaction(async (tx) => {
    await lock(tx);
    held();
    await new Promise<void>((resolve) => (release = resolve));
  });
  return { taken, done, release: () => release() };
}
