import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioResult } from './scenarios';

/** The results table (markdown, so it can go into docs/PERFORMANCE.md as printed) and the JSON file. */
export const cpuColumns = ['gateway', 'hive-gateway', 'account', 'transaction', 'settlement', 'mysql', 'bench', 'in-process'] as const;

export function resultsTable(results: readonly ScenarioResult[]): string {
  const present = cpuColumns.filter((c) => results.some((r) => r.cpuMsPerUnit[c] !== undefined));
  const header = [
    'scenario', 'engine', 'load', 'ops/s', 'p50 ms', 'p99 ms', 'failed', ...present.map((c) => `${c} CPU ms/op`), 'SQL stmts/op',
    'others\' CPU',
  ];
  const rows = results.map((r) => [
    r.id,
    r.engine,
    r.mode === 'open-loop' ? `open ${r.offeredPerSecond}/s` : r.mode === 'sql' ? `${r.concurrency} conns` : `${r.concurrency} clients`,
    formatNumber(r.load.unitsPerSecond),
    r.load.latencyMs.p50.toFixed(1),
    r.load.latencyMs.p99.toFixed(1),
    String(r.load.failedUnits + r.load.shedRequests * r.unitsPerRequest),
    ...present.map((c) => (r.cpuMsPerUnit[c] === undefined ? '' : r.cpuMsPerUnit[c]!.toFixed(3))),
    r.mysqlPerUnit ? r.mysqlPerUnit.statements.toFixed(1) : '',
    r.otherCpuShare === null ? '' : `${Math.round(r.otherCpuShare * 100)}%`,
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function formatNumber(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function writeResults(dir: string, startedAt: Date, content: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, `${JSON.stringify(content, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  return file;
}
