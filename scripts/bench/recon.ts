import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { adjustmentOf, exceptionsOf, type ExceptionState } from '../../subgraphs/settlement/src/domain/channel-report';
import {
  addDays,
  assertPartition,
  matchChannel,
  type MatchingRules,
} from '../../subgraphs/settlement/src/domain/matching';
import { parseBankStatements } from '../../subgraphs/settlement/src/domain/statement-formats';
import { statementLinesMax } from '../../subgraphs/shared/src/limits';
import { generateStatements } from '../../subgraphs/settlement/test/support/perturbed-statements';
import { seededRandom } from '../../test/support/seeded-random';

/**
 * `npm run bench:recon`: a channel's reconciliation of about 100,000 statement lines, in process
 * (the pure parts: reading the daily statements, matching, each date's exceptions and adjustment table), on
 * a generated and perturbed ledger (subgraphs/settlement/test/support/perturbed-statements.ts:
 * fees, late bookings, batches, splits, drops, duplicates, unreferenced lines). Run it through
 * `/work/bin/heavy --idle` and quote the load it prints with the times.
 *   --lines N   about this many statement lines (default 100,000)
 *   --seed N    the generator's seed (default 1)
 *   --runs N    timed runs after one warm-up (default 3); the median is reported
 */
const { values: args } = parseArgs({
  options: { lines: { type: 'string' }, seed: { type: 'string' }, runs: { type: 'string' } },
  strict: true,
});
const linesWanted = Number(args.lines ?? 100_000);
const seed = Number(args.seed ?? 1);
const runs = Number(args.runs ?? 3);
const days = 20;
const currencies = ['USD', 'EUR'];
const rules: MatchingRules = {
  amountToleranceMinor: 50n,
  amountToleranceBps: 0,
  dateWindowDays: 1,
  allowOneToMany: true,
};

// About 1.07 lines per movement (splits and duplicates outnumber drops); batches and fees add a few per day.
const perDay = Math.ceil(linesWanted / 1.07 / days / currencies.length);
const generated = generateStatements(seededRandom(seed), {
  firstDate: '2026-01-01',
  days,
  movementsPerDay: perDay,
  currencies,
  fuzzMax: 50n,
});
// A bank sends one statement per business date, within statementBytesMax and statementLinesMax: one CSV file per date.
const rowsByDate = new Map<string, string[]>();
for (const l of generated.lines) {
  const row = `${l.externalRef},${l.signed < 0n ? -l.signed : l.signed},${l.currency},${l.signed < 0n ? 'DEBIT' : 'CREDIT'},${l.statementDate}`;
  const rows = rowsByDate.get(l.statementDate);
  if (rows) rows.push(row);
  else rowsByDate.set(l.statementDate, [row]);
}
const files = [...rowsByDate.values()].map((rows) =>
  ['external_ref,amount,currency,direction,date', ...rows].join('\n'),
);
const csv = { length: files.reduce((n, f) => n + f.length, 0) };
console.log(
  `[bench:recon] seed ${seed}: ${generated.lines.length} statement lines, ${generated.movements.length} movements, ${days} days, ${currencies.join('+')}; CSV ${(csv.length / 1e6).toFixed(1)} MB`,
);
console.log(
  `[bench:recon] ${cpus().length} CPUs, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at start`,
);

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, performance.now() - start];
}

const samples: Array<{ parse: number; match: number; report: number }> = [];
for (let run = 0; run <= runs; run++) {
  const parseStart = performance.now();
  const parsed = await Promise.all(files.map((f) => parseBankStatements('CSV', f, statementLinesMax)));
  const parse = performance.now() - parseStart;
  for (const p of parsed) if (!p.ok) throw new Error(`the generated CSV does not parse: ${JSON.stringify(p.error)}`);
  const [result, match] = timed(() => matchChannel(generated.lines, generated.movements, rules));
  assertPartition(result, generated.lines.length, generated.movements.length);
  const [, report] = timed(() => {
    for (let day = 0; day <= days; day++) {
      const date = addDays('2026-01-01', day);
      const found = exceptionsOf(result, date, true);
      const states = new Map<string, ExceptionState>(
        found.map((f) => [f.subject, { kind: f.kind, status: 'OPEN', resolution: null }]),
      );
      adjustmentOf(result, date, (s) => states.get(s), new Map());
    }
  });
  if (run > 0) samples.push({ parse, match, report });
  console.log(
    `[bench:recon] run ${run}${run === 0 ? ' (warm-up)' : ''}: parse ${parse.toFixed(0)} ms, match ${match.toFixed(0)} ms, ${days + 1} dates' exceptions and tables ${report.toFixed(0)} ms; ${result.matches.length} matches, ${result.unmatchedLines.length} lines and ${result.unmatchedMovements.length} movements unmatched`,
  );
}
const median = (key: 'parse' | 'match' | 'report') =>
  samples.map((s) => s[key]).sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
console.log(
  `[bench:recon] median of ${samples.length}: parse ${median('parse').toFixed(0)} ms, match ${median('match').toFixed(0)} ms, reports ${median('report').toFixed(0)} ms; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at end`,
);
