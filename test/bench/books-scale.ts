import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { benchShards, dropDatabases, recreateDatabases } from '../../scripts/bench/bench-stack';
import { rawWrite } from '../../subgraphs/shared/src/db/raw';
import { addDays } from '../../subgraphs/shared/src/business-date';
import { classDaySlots } from '../../subgraphs/shared/src/ledger/rules/class-days';
import { trialBalanceSums } from '../../subgraphs/shared/src/ledger/index';
import { trialBalanceOf } from '../../subgraphs/account/src/domain/books';

/**
 * `npx tsx test/bench/books-scale.ts [--entries 10000000] [--days 365]`, through the heavy lock: the trial
 * balance's time at N entries (issue 49, item 3; docs/BOOKS.md). The books' daily sums are written as the
 * ledger posts, so the answer reads the sums' rows, never the entries: this generator makes four databases of
 * its own (paygraph_bench_books_s0..3), inserts the sums rows that N entries over --days business dates, 10
 * classes, 2 currencies and every slot on each shard would have left (the rows' postings adding up to N) for a
 * fresh entity, times trialBalanceSums + trialBalanceOf (what the TrialBalance resolver runs) 20 times, prints
 * the median and the worst, and drops its databases. It lives beside the tests, not in scripts/: it writes the
 * sums rows directly, which only the ledger's store/ may do in scripts/ and src/ (test/table-ownership.test.ts).
 */
const { values: args } = parseArgs({
  options: { entries: { type: 'string' }, days: { type: 'string' } },
});
const entries = Number(args.entries ?? 10_000_000);
const days = Number(args.days ?? 365);
const classes = [
  'CUSTOMER_FUNDS',
  'MERCHANT_FUNDS',
  'MERCHANT_PENDING',
  'RESERVE',
  'CLEARING',
  'FEE_INCOME',
  'FEE_EXPENSE',
  'FX_POSITION',
  'INTERCOMPANY_DUE_TO',
  'INTERCOMPANY_DUE_FROM',
];
const currencies = ['EUR', 'USD'];
// Databases of its own, made and migrated for the run and dropped after it.
const shardUrls = [0, 1, 2, 3].map((i) => `mysql://root@127.0.0.1:3306/paygraph_bench_books_s${i}`).join(',');
await recreateDatabases(shardUrls);
const shards = benchShards(shardUrls);
const entity = `BENCH-${randomBytes(3).toString('hex').toUpperCase()}`;
const first = '2025-01-01';
const rowsPerShard = days * classes.length * currencies.length * classDaySlots;
const perRow = Math.max(1, Math.round(entries / (rowsPerShard * shards.all.length)));
try {
  const started = performance.now();
  for (const shard of shards.all) {
    let batch: unknown[][] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await rawWrite(
        shard,
        `INSERT INTO ledger_class_days (entity, business_date, ledger_class, counterparty_entity, currency, slot,
          debits, credits, debit_postings, credit_postings) VALUES ?`,
        [batch],
      );
      batch = [];
    };
    for (let d = 0; d < days; d++)
      for (const c of classes)
        for (const currency of currencies)
          for (let slot = 0; slot < classDaySlots; slot++) {
            const counterparty = c.startsWith('INTERCOMPANY') ? 'PLATFORM' : '';
            const half = Math.floor(perRow / 2);
            batch.push([
              entity,
              addDays(first, d),
              c,
              counterparty,
              currency,
              slot,
              half * 1000,
              half * 1000,
              half,
              perRow - half,
            ]);
            if (batch.length >= 5_000) await flush();
          }
    await flush();
  }
  const generated = perRow * rowsPerShard * shards.all.length;
  console.log(
    `generated ${rowsPerShard * shards.all.length} sums rows standing for ${generated} entries ` +
      `(${shards.all.length} shards, ${days} days) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const asOf = addDays(first, days - 1);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const { sums, accounts } = await trialBalanceSums(shards, entity, asOf);
    const answer = trialBalanceOf(sums, accounts);
    times.push(performance.now() - t0);
    if (answer.length !== currencies.length) throw new Error(`expected ${currencies.length} currencies`);
  }
  times.sort((a, b) => a - b);
  console.log(
    `trial balance at ${generated} entries: median ${times[10]!.toFixed(1)} ms, worst ${times[19]!.toFixed(1)} ms (20 runs)`,
  );
} finally {
  await shards.close();
  await dropDatabases(shardUrls);
}
