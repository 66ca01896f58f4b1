import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { log } from '../../subgraphs/shared/src/log';
import { openShards, type ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { amountMinorUnitsMaxDefault, statementBytesMax, statementLinesMax } from '../../subgraphs/shared/src/limits';
import { configureLedger } from '../../subgraphs/shared/src/server/main';
import { openAccountRow } from '../../subgraphs/account/src/db/account-writes';
import { decideOpenAccount } from '../../subgraphs/account/src/domain/open-account';
import { deposit, withdraw } from '../../subgraphs/transaction/src/services/external-transfer';
import type { ServiceContext } from '../../subgraphs/transaction/src/services/context';
import { importBankStatement } from '../../subgraphs/settlement/src/services/bank-statements';
import { reconcileChannel } from '../../subgraphs/settlement/src/services/channel-reconcile';
import { setMatchingRules } from '../../subgraphs/settlement/src/services/matching-rules';
import { controlShard } from '../../subgraphs/settlement/src/services/settle';
import { addDays, type BankLine, type Movement } from '../../subgraphs/settlement/src/domain/matching';
import { generateStatements } from '../../subgraphs/settlement/test/support/perturbed-statements';
import { seededRandom } from '../../test/support/seeded-random';
import { ensureMysql } from '../lib/mysql-server';
import { readScriptConfig, scriptConfig } from '../lib/config';
import { benchDatabasePrefix, recreateDatabases } from './bench-stack';
import { inParallel } from './fixtures';
import { repoRoot } from './processes';
import { writeResults } from './report';
import { fxQuoteTtlSecondsDefault, holdTtlSecondsDefault } from '../../subgraphs/transaction/src/limits';

/**
 * `npm run bench:recon:e2e`: a channel's reconciliation of about 100,000 statement lines end to
 * end on real MySQL (databases <prefix>_s0..3, recreated), through the services a request runs:
 *   1. movements: the generated ledger's deposits and withdrawals (channel, externalRef), each
 *      through transaction's deposit/withdraw service on its date, --concurrency at a time;
 *   2. import: one CSV statement per business date (within statementBytesMax and
 *      statementLinesMax), each through settlement's importBankStatement (parse, then write);
 *   3. reconcile: channelReconciliation's service for every date in turn (read lines and
 *      movements, match, store exceptions and the report).
 * It prints and writes (bench/results/recon-e2e/<ISO date>.json) each stage's wall time and
 * rate, with the load. Run it through `/work/bin/heavy --idle`.
 *   --lines N        about this many statement lines (default 100,000)
 *   --seed N         the generator's seed (default 1)
 *   --concurrency N  movements posted at once (default 32)
 *   --databases P    the databases' prefix (default paygraph_bench_recon)
 */
const { values: args } = parseArgs({
  options: {
    lines: { type: 'string' },
    seed: { type: 'string' },
    concurrency: { type: 'string' },
    databases: { type: 'string' },
  },
  strict: true,
});
const linesWanted = Number(args.lines ?? 100_000);
const seed = Number(args.seed ?? 1);
const concurrency = Number(args.concurrency ?? 32);
const days = 20;
const firstDate = '2026-01-01';
const currencies = ['USD', 'EUR'];
const channel = 'bench-bank';
const accountsPerCurrency = 16;
const operator = { sub: 'bench-operator', role: 'operator' as const };
const say = (line: string) => console.log(`[bench:recon:e2e ${new Date().toISOString().slice(11, 19)}] ${line}`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function serviceAt(shards: ShardSet, date: string): ServiceContext {
  const at = new Date(`${date}T12:00:00Z`);
  return {
    shards,
    identity: operator,
    now: () => at,
    client: { deviceId: null, ip: null, userAgent: null },
    amountMax: amountMinorUnitsMaxDefault,
    holdTtlSeconds: holdTtlSecondsDefault,
    fxQuoteTtlSeconds: fxQuoteTtlSecondsDefault,
    log: log(),
  };
}

/**
 * Accounts per currency, each funded the day before the first date on another channel, so that every withdrawal has
 * money.
 */
async function openFunded(shards: ShardSet): Promise<Map<string, string[]>> {
  const byCurrency = new Map<string, string[]>();
  for (const currency of currencies) {
    const ids: string[] = [];
    for (let i = 0; i < accountsPerCurrency; i++) {
      const decided = decideOpenAccount({ ownerId: `bench-recon-${currency}-${i}`, type: 'PERSONAL', currency });
      if (!decided.ok) throw new Error(JSON.stringify(decided.error));
      const account = await openAccountRow(shards, decided.value, new Date(`${addDays(firstDate, -1)}T12:00:00Z`));
      if (!account) throw new Error(`${decided.value.ownerId} has as many accounts as an owner may open`);
      const funded = await deposit(serviceAt(shards, addDays(firstDate, -1)), {
        idempotencyKey: `fund-${account.id}`,
        accountId: account.id,
        amount: '1000000000000',
        currency,
        channel: 'bench-funding',
      });
      if (!funded.ok) throw new Error(`funding failed: ${JSON.stringify(funded.error)}`);
      ids.push(account.id);
    }
    byCurrency.set(currency, ids);
  }
  return byCurrency;
}

async function postMovements(
  shards: ShardSet,
  movements: readonly Movement[],
  accounts: Map<string, string[]>,
): Promise<void> {
  const byDate = groupBy(movements, (m) => m.businessDate);
  let posted = 0;
  for (const [date, ofDate] of [...byDate].sort(([a], [b]) => a.localeCompare(b))) {
    const ctx = serviceAt(shards, date);
    await inParallel(ofDate.length, concurrency, async (i) => {
      const m = ofDate[i]!;
      const accountId = accounts.get(m.currency)![(posted + i) % accountsPerCurrency]!;
      const input = {
        idempotencyKey: `mv-${m.id}`,
        accountId,
        amount: String(m.signed < 0n ? -m.signed : m.signed),
        currency: m.currency,
        externalRef: m.externalRef,
        channel,
      };
      const result = m.signed < 0n ? await withdraw(ctx, input) : await deposit(ctx, input);
      if (!result.ok) throw new Error(`movement ${m.id} refused: ${JSON.stringify(result.error)}`);
    });
    posted += ofDate.length;
  }
}

/** One CSV statement per business date, as the bank sends it; each within the statement limits. */
function dailyStatements(lines: readonly BankLine[]): Array<{ date: string; csv: string; lines: number }> {
  const byDate = groupBy(lines, (l) => l.statementDate);
  return [...byDate]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([date, ofDate]) => {
      const rows = ofDate.map(
        (l) =>
          `${l.externalRef},${l.signed < 0n ? -l.signed : l.signed},${l.currency},${l.signed < 0n ? 'DEBIT' : 'CREDIT'},${l.statementDate}`,
      );
      const csv = ['external_ref,amount,currency,direction,date', ...rows].join('\n');
      if (rows.length > statementLinesMax || Buffer.byteLength(csv) > statementBytesMax) {
        throw new Error(
          `the statement of ${date} (${rows.length} lines, ${Buffer.byteLength(csv)} bytes) is over the statement limits: ask for fewer --lines`,
        );
      }
      return { date, csv, lines: rows.length };
    });
}

async function importAll(shards: ShardSet, statements: ReturnType<typeof dailyStatements>): Promise<void> {
  for (const s of statements) {
    const imported = await importBankStatement(
      shards,
      { channel, format: 'CSV', content: s.csv },
      operator.sub,
      new Date(`${addDays(s.date, 1)}T06:00:00Z`),
    );
    if (!imported.ok) throw new Error(`the statement of ${s.date} was refused: ${JSON.stringify(imported.error)}`);
  }
}

async function reconcileAll(shards: ShardSet): Promise<{ matches: number; exceptions: number }> {
  let matches = 0;
  let exceptions = 0;
  for (let day = 0; day <= days; day++) {
    const date = addDays(firstDate, day);
    const report = await reconcileChannel(
      shards,
      channel,
      date,
      operator.sub,
      new Date(`${addDays(date, 2)}T06:00:00Z`),
    );
    matches += report.matches.length;
    exceptions += report.exceptions.length;
  }
  return { matches, exceptions };
}

async function timed<T>(
  stage: string,
  count: number,
  unit: string,
  fn: () => Promise<T>,
): Promise<{ value: T; figure: StageFigure }> {
  const loadBefore = load();
  const start = performance.now();
  const value = await fn();
  const ms = performance.now() - start;
  const figure = {
    stage,
    ms: Math.round(ms),
    count,
    unit,
    perSecond: Math.round(count / (ms / 1000)),
    loadBefore,
    loadAfter: load(),
  };
  say(
    `${stage}: ${count} ${unit} in ${(ms / 1000).toFixed(1)} s, ${figure.perSecond} ${unit}/s (load ${loadBefore} → ${figure.loadAfter})`,
  );
  return { value, figure };
}

interface StageFigure {
  stage: string;
  ms: number;
  count: number;
  unit: string;
  perSecond: number;
  loadBefore: string;
  loadAfter: string;
}

async function storedCounts(shards: ShardSet): Promise<Record<string, number>> {
  const db = controlShard(shards).db;
  const count = async (query: ReturnType<typeof sql>) =>
    Number(((await db.execute(query)) as unknown as [Array<{ n: number | string }>])[0][0]!.n);
  return {
    statementLines: await count(sql`SELECT COUNT(*) AS n FROM statement_lines`),
    exceptions: await count(sql`SELECT COUNT(*) AS n FROM reconciliation_exceptions`),
    exceptionEvents: await count(sql`SELECT COUNT(*) AS n FROM reconciliation_exception_events`),
    reports: await count(sql`SELECT COUNT(*) AS n FROM channel_reconciliations`),
  };
}

async function main(): Promise<void> {
  const config = readScriptConfig(scriptConfig, process.env);
  configureLedger(config);
  const server = await ensureMysql({
    databasePrefix: benchDatabasePrefix(args.databases, 'paygraph_bench_recon'),
    log: say,
    server: config.mysqlServer,
  });
  await recreateDatabases(server.shardUrls);
  const shards = openShards({ urls: server.shardUrls, poolSize: Math.max(concurrency, 8) });
  const startedAt = new Date();
  try {
    // About 1.07 lines per movement (splits and duplicates outnumber drops); batches and fees add a few per day.
    const perDay = Math.ceil(linesWanted / 1.07 / days / currencies.length);
    const generated = generateStatements(seededRandom(seed), {
      firstDate,
      days,
      movementsPerDay: perDay,
      currencies,
      fuzzMax: 50n,
    });
    const statements = dailyStatements(generated.lines);
    say(
      `seed ${seed}: ${generated.lines.length} statement lines in ${statements.length} daily statements (largest ${Math.max(...statements.map((s) => s.lines))} lines, ${Math.max(...statements.map((s) => Buffer.byteLength(s.csv)))} bytes), ${generated.movements.length} movements; ${cpus().length} CPUs, load ${load()}`,
    );
    const ruled = await setMatchingRules(
      shards,
      { channel, amountToleranceMinor: '50', dateWindowDays: 1, allowOneToMany: true },
      operator.sub,
      startedAt,
    );
    if (!ruled.ok) throw new Error(JSON.stringify(ruled.error));
    const accounts = await openFunded(shards);
    const stages = [
      (
        await timed('movements', generated.movements.length, 'movements', () =>
          postMovements(shards, generated.movements, accounts),
        )
      ).figure,
      (await timed('import', generated.lines.length, 'lines', () => importAll(shards, statements))).figure,
    ];
    const reconciled = await timed('reconcile', generated.lines.length, 'lines', () => reconcileAll(shards));
    stages.push(reconciled.figure);
    const stored = await storedCounts(shards);
    say(
      `reports of ${days + 1} dates: ${reconciled.value.matches} matches, ${reconciled.value.exceptions} exceptions shown; stored ${JSON.stringify(stored)}`,
    );
    const file = writeResults(join(repoRoot, 'bench/results/recon-e2e'), startedAt, {
      seed,
      lines: generated.lines.length,
      movements: generated.movements.length,
      statements: statements.length,
      concurrency,
      cpus: cpus().length,
      stages,
      reports: reconciled.value,
      stored,
    });
    say(`results in ${file}`);
  } finally {
    await shards.close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
