import type { ShardSet } from '@paygraph/shared/shards/pool';
import { totalSubtotalCheck } from '@paygraph/shared/ledger/index';
import { booksDifferences } from '@paygraph/shared/metrics';
import { log } from '@paygraph/shared/log';
import { startWorker, type Worker } from '@paygraph/shared/worker';

/**
 * The total–subtotal check as a worker (issue 49, item 6): each pass compares, per shard, entity,
 * ledger class and currency, the books' figure with the sum of its accounts' balances; it sets
 * paygraph_books_total_subtotal_differences per shard and logs each difference as an error, for
 * the alert. Answers how many it found.
 */
export async function checkBooks(shards: ShardSet): Promise<number> {
  const differences = await totalSubtotalCheck(shards);
  for (const shard of shards.all)
    booksDifferences.set({ shard: shard.name }, differences.filter((d) => d.shard === shard.name).length);
  for (const d of differences)
    log().error(
      { ...d, total: d.total.toString(), subtotal: d.subtotal.toString() },
      `books check: ${d.entity} ${d.ledgerClass} ${d.currency} on ${d.shard}: books ${d.total}, accounts ${d.subtotal}`,
    );
  return differences.length;
}

export function startBooksCheck(shards: ShardSet, options: { intervalMs: number }): Worker {
  return startWorker({ name: 'books check', intervalMs: options.intervalMs, pass: () => checkBooks(shards) });
}
