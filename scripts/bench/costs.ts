import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseShardUrls } from '../../subgraphs/shared/src/shards/topology';
import { ensureMysql } from '../lib/mysql-server';
import { readScriptConfig, scriptConfig } from '../lib/config';
import { benchDatabasePrefix, recreateDatabases } from './bench-stack';
import { calibrationLoopMs, findMysqlServerPid, pidFileOf } from './proc-stats';
import { repoRoot } from './processes';
import { writeResults } from './report';
import { measureUnitCosts } from './unit-costs';

/**
 * npm run bench:costs — what one round trip, statement, durable commit, entry row and HTTP hop cost this machine
 * (unit-costs.ts), on recreated databases `paygraph_bench_costs_s0..`, written to bench/results/costs/<date>.json.
 * Run it as the benchmark is run: alone on the machine, at a 1-minute load under 1.5.
 *   --rounds N      measure every unit N times, one round after another (default 2): the spread is the drift
 *   --databases P   other database names (paygraph_bench…)
 */
const { values: args } = parseArgs({
  options: { rounds: { type: 'string' }, databases: { type: 'string' } },
  strict: true,
});
const rounds = Number(args.rounds ?? 2);
if (!Number.isSafeInteger(rounds) || rounds < 1)
  throw new Error(`--rounds must be a positive integer, got ${args.rounds}`);
const say = (line: string) => console.log(`[bench:costs ${new Date().toISOString().slice(11, 19)}] ${line}`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const config = readScriptConfig(scriptConfig, process.env);
  const server = await ensureMysql({
    databasePrefix: benchDatabasePrefix(args.databases, 'paygraph_bench_costs'),
    log: say,
    server: config.mysqlServer,
  });
  try {
    await recreateDatabases(server.shardUrls);
    const shardUrl = parseShardUrls(server.shardUrls)[0]!;
    const mysqlPid = await findMysqlServerPid(pidFileOf(shardUrl));
    if (mysqlPid === undefined) throw new Error('cannot tell which process is the MySQL server: its CPU is a figure');
    const startedAt = new Date();
    const calibrationBeforeMs = calibrationLoopMs();
    say(`load ${load()}; calibration loop ${calibrationBeforeMs} ms`);
    const results = [];
    for (let round = 1; round <= rounds; round++) {
      say(`round ${round} of ${rounds}, load ${load()}`);
      results.push({ round, load: load(), costs: await measureUnitCosts({ shardUrl, mysqlPid, log: say }) });
    }
    const calibrationAfterMs = calibrationLoopMs();
    const file = writeResults(join(repoRoot, 'bench/results/costs'), startedAt, {
      startedAt,
      calibrationBeforeMs,
      calibrationAfterMs,
      loadAfter: load(),
      results,
    });
    say(`calibration loop ${calibrationAfterMs} ms after; wrote ${file}`);
  } finally {
    await server.stop();
  }
}

await main();
