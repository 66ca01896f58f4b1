import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { allCpuMsPerUnit } from './report';
import type { RuntimeChoice } from './runtime';
import type { ScenarioResult } from './scenarios';

/**
 * `--node 20,24`: the same benchmark once per Node, back to back (each a run of its own: its own
 * stack, fixtures and results file), then a table of the second against the first per scenario:
 * units/s and CPU per unit, in all and per process. The machine drifts between runs, so each
 * row quotes both runs' load and calibration; alternate pairs (`--node 20,24` then `--node 24,20`)
 * to see the drift.
 */
export async function compareRuntimes(argv: readonly string[], choices: readonly RuntimeChoice[]): Promise<void> {
  const args = withoutNodeOption(argv);
  const files: string[] = [];
  for (const choice of choices) files.push(await runOnce([...args, '--node', String(choice)]));
  const runs = files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as RunFile);
  console.log(`\n${pairTable(runs)}\n`);
}

interface RunFile {
  machine: { processesNode: { version: string } | null };
  scenarios: ScenarioResult[];
}

function withoutNodeOption(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--node') i += 1;
    else if (!argv[i]!.startsWith('--node=')) out.push(argv[i]!);
  }
  return out;
}

/** Runs this benchmark again in a child (same Node, same loader) and answers its results file. */
function runOnce(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let file: string | null = null;
    let tail = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4_096);
      const match = /results written to (\S+\.json)/.exec(tail);
      if (match) file = match[1]!;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 && file ? resolve(file) : reject(new Error(`the run with ${args.join(' ')} failed (${code})`)),
    );
  });
}

const pairColumns = ['gateway', 'account', 'transaction', 'mysql'] as const;

export function pairTable(runs: readonly RunFile[]): string {
  const [a, b] = runs as [RunFile, RunFile];
  const nodeOf = (r: RunFile) => r.machine.processesNode?.version ?? '?';
  const header = [
    'scenario',
    `${nodeOf(a)} ops/s`,
    `${nodeOf(b)} ops/s`,
    'ops/s ratio',
    'all CPU ms/op ratio',
    ...pairColumns.map((c) => `${c} CPU ratio`),
    'load start (each run)',
    'calib ms (each run)',
  ];
  const ratio = (x: number | undefined, y: number | undefined) =>
    x === undefined || y === undefined || x === 0 ? '' : `${(y / x).toFixed(2)}×`;
  const rows = a.scenarios.flatMap((ra) => {
    const rb = b.scenarios.find((r) => r.id === ra.id);
    if (!rb) return [];
    return [
      [
        ra.id,
        String(Math.round(ra.load.unitsPerSecond)),
        String(Math.round(rb.load.unitsPerSecond)),
        ratio(ra.load.unitsPerSecond, rb.load.unitsPerSecond),
        ratio(allCpuMsPerUnit(ra), allCpuMsPerUnit(rb)),
        ...pairColumns.map((c) => ratio(ra.cpuMsPerUnit[c], rb.cpuMsPerUnit[c])),
        `${ra.loadAverage?.start?.[0] ?? '?'} / ${rb.loadAverage?.start?.[0] ?? '?'}`,
        `${ra.calibrationMs ?? '?'} / ${rb.calibrationMs ?? '?'}`,
      ],
    ];
  });
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
