import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { topJudgedJit } from './perf-sampler';
import type { ScenarioResult } from './scenarios';
import { subgraphNames } from '../lib/parts';

/**
 * The results table (markdown, so it can go into docs/PERFORMANCE.md as printed) and the JSON file. The CPU columns:
 * every process of the system (the gateway, Hive Gateway when compared, each subgraph of the parts list), MySQL, the
 * load generator, and the engine scenarios' in-process work; their sum is a unit's CPU in all (a list written by hand
 * left the webhooks subgraph out of the sum; bench-report.test.ts holds every process of bench-stack.ts among them).
 */
export const cpuColumns: readonly string[] = [
  'gateway',
  'hive-gateway',
  ...subgraphNames,
  'mysql',
  'bench',
  'in-process',
];

/** The scenario whose CPU per unit is the ceiling the others are set against: a payment's SQL alone, through mysql2. */
export const ceilingScenario = 'e-raw-1';

/**
 * CPU per unit summed over every process of the benchmark (MySQL and the load generator
 * included; not the other processes of the machine, which cpuMsPerUnit also lists as "other").
 */
export function allCpuMsPerUnit(result: Pick<ScenarioResult, 'cpuMsPerUnit'>): number {
  return cpuColumns.reduce((sum, column) => sum + (result.cpuMsPerUnit[column] ?? 0), 0);
}

/**
 * Each scenario's CPU per unit over all processes divided by the ceiling scenario's (e-raw-1) of
 * the same run: how many payments' worth of raw SQL one unit costs. Null without a ceiling in the run.
 */
export function ceilingRatios(results: readonly ScenarioResult[]): Map<string, number | null> {
  const ceiling = results.find((r) => r.id === ceilingScenario);
  const base = ceiling ? allCpuMsPerUnit(ceiling) : 0;
  return new Map(results.map((r) => [r.id, base > 0 ? allCpuMsPerUnit(r) / base : null]));
}

export function resultsTable(results: readonly ScenarioResult[]): string {
  const present = cpuColumns.filter((c) => results.some((r) => r.cpuMsPerUnit[c] !== undefined));
  const ratios = ceilingRatios(results);
  const header = [
    'scenario',
    'engine',
    'load',
    'ops/s',
    'p50 ms',
    'p99 ms',
    'failed',
    ...present.map((c) => `${c} CPU ms/op`),
    'all CPU ms/op',
    `÷ ${ceilingScenario}`,
    'SQL stmts/op',
    "others' CPU",
    'steal',
    'warm-up s',
    'JIT % max',
    'load start→end',
    'calib ms',
  ];
  const rows = results.map((r) => [
    r.id,
    r.engine,
    r.mode === 'open-loop'
      ? `open ${r.offeredPerSecond}/s`
      : r.mode === 'sql'
        ? `${r.concurrency} conns`
        : `${r.concurrency} clients`,
    formatNumber(r.load.unitsPerSecond),
    r.load.latencyMs.p50.toFixed(1),
    r.load.latencyMs.p99.toFixed(1),
    String(r.load.failedUnits + r.load.shedRequests * r.unitsPerRequest),
    ...present.map((c) => (r.cpuMsPerUnit[c] === undefined ? '' : r.cpuMsPerUnit[c]!.toFixed(3))),
    allCpuMsPerUnit(r).toFixed(3),
    ratios.get(r.id) == null ? '' : `${ratios.get(r.id)!.toFixed(2)}×`,
    r.mysqlPerUnit ? r.mysqlPerUnit.statements.toFixed(1) : '',
    r.otherCpuShare === null ? '' : `${Math.round(r.otherCpuShare * 100)}%`,
    r.stealShare == null ? '' : `${Math.round(r.stealShare * 100)}%`,
    r.warmup ? `${r.warmup.seconds}${r.warmup.stoppedBy === 'time-limit' ? ' (limit)' : ''}${windowsLetGo(r)}` : '',
    topJitShare(r),
    r.loadAverage?.start && r.loadAverage.end ? `${r.loadAverage.start[0]}→${r.loadAverage.end[0]}` : '',
    r.calibrationMs === undefined ? '' : String(r.calibrationMs),
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The windows let go as warm-up before the one kept (scenarios.ts, windowAfterLeadIn): " + 1 window". */
function windowsLetGo(r: ScenarioResult): string {
  const n = r.unsteadyWindows?.length ?? 0;
  return n === 0 ? '' : ` + ${n} window${n === 1 ? '' : 's'}`;
}

/** The highest JIT share of the window among the processes with enough samples to judge, and which. */
function topJitShare(r: ScenarioResult): string {
  const top = r.samples ? topJudgedJit(r.samples) : null;
  return top ? `${(top.jitShare * 100).toFixed(1)} (${top.process})` : '';
}

/**
 * Per scenario and Node process, the share of its window's CPU samples (perf) spent compiling
 * (JIT) and collecting garbage (GC), and the share of the first warm-up slice spent compiling: what
 * the window would have carried without the warm-up. "n" is the window's samples of the process.
 */
export function jitTable(results: readonly ScenarioResult[]): string {
  const withSamples = results.filter((r) => r.samples);
  if (withSamples.length === 0) return '';
  const names = [...new Set(withSamples.flatMap((r) => Object.keys(r.samples!)))];
  const header = ['scenario', 'warm-up s', ...names.map((n) => `${n} JIT % first slice → window (GC %, n)`)];
  const pct = (share: number | undefined) => (share === undefined ? '-' : (share * 100).toFixed(1));
  const rows = withSamples.map((r) => [
    r.id,
    r.warmup ? `${r.warmup.seconds} ${r.warmup.stoppedBy}${windowsLetGo(r)}` : '',
    ...names.map((n) => {
      const s = r.samples![n];
      if (!s) return '';
      const first = r.warmup?.slices[0]?.jitShare[n];
      return `${first === undefined ? '' : `${pct(first)} → `}${pct(s.jitShare)} (${pct(s.gcShare)}, ${s.samples})`;
    }),
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function formatNumber(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function writeResults(dir: string, startedAt: Date, content: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(
    dir,
    `${startedAt
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z')}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify(content, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
  );
  return file;
}
