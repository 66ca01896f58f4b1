import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileTopFunctions } from './limits';

/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per package, so
 * that a missed target comes with where the CPU went. Self time of a node is the sum of the
 * time deltas of the samples taken while it was on top of the stack.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** The process it was taken of, when the caller knows. */
  process?: string;
  totalMs: number;
  /** Time spent idle (waiting for I/O), left out of the shares below. */
  idleMs: number;
  topFunctions: Array<{ function: string; where: string; selfMs: number; share: number }>;
  topPackages: Array<{ package: string; selfMs: number; share: number }>;
}

function packageOf(url: string): string {
  if (url === '') return '(native/V8)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node (core)';
  const repo = /\/(gateway|subgraphs\/[a-z]+|scripts)\//.exec(url);
  return repo ? `paygraph ${repo[1]}` : url;
}

/**
 * The processes run compiled (dist/<name>.js), and V8's profile names the bundle: where a source
 * map lies beside the file, a frame is named by the .ts file and line it came from, so that the
 * summary groups our code by part as it did when the sources ran.
 */
const sourceMaps = new Map<string, SourceMap | null>();

function sourcePosition(url: string, lineNumber: number, columnNumber: number): { url: string; lineNumber: number } {
  // Packages are named by their own files, as before: only our bundles are mapped.
  if (!url.startsWith('file://') || !url.endsWith('.js') || url.includes('/node_modules/')) return { url, lineNumber };
  let map = sourceMaps.get(url);
  if (map === undefined) {
    const mapFile = `${fileURLToPath(url)}.map`;
    map = existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null;
    sourceMaps.set(url, map);
  }
  const entry = map?.findEntry(lineNumber, columnNumber) as
    { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource === undefined || entry.originalLine === undefined) return { url, lineNumber };
  return { url: new URL(entry.originalSource, url).href, lineNumber: entry.originalLine };
}

export function summariseProfile(file: string, top: number = profileTopFunctions): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, { fn: string; where: string; us: number }>();
  const byPackage = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName } = node.callFrame;
    const { url, lineNumber } = sourcePosition(
      node.callFrame.url,
      node.callFrame.lineNumber,
      node.callFrame.columnNumber,
    );
    totalUs += us;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where =
      url === ''
        ? ''
        : `${url.replace(/^file:\/\/.*?\/(node_modules|gateway|subgraphs|scripts)\//, '$1/')}:${lineNumber + 1}`;
    const key = `${functionName}@${where}`;
    const entry = byFunction.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const pkg = packageOf(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number) => Math.round((us / Math.max(busyUs, 1)) * 1000) / 10;
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ function: e.fn, where: e.where, selfMs: Math.round(e.us / 1000), share: share(e.us) })),
    topPackages: [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, us]) => ({ package: pkg, selfMs: Math.round(us / 1000), share: share(us) })),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `${summary.process ? `${summary.process} ` : ''}${summary.file}: ${summary.totalMs - summary.idleMs} ms busy of ${summary.totalMs} ms`,
  ];
  lines.push('  self time by package:');
  for (const p of summary.topPackages)
    lines.push(`    ${p.share.toFixed(1).padStart(5)}%  ${String(p.selfMs).padStart(7)} ms  ${p.package}`);
  lines.push('  top functions by self time:');
  for (const f of summary.topFunctions)
    lines.push(`    ${f.share.toFixed(1).padStart(5)}%  ${String(f.selfMs).padStart(7)} ms  ${f.function}  ${f.where}`);
  return lines.join('\n');
}

/**
 * Every profile a run wrote into `dir`, one per start of a process (bench-stack.ts:
 * <process>.<start>.cpuprofile), summarised; none when the directory cannot be read (said through `log`).
 */
export function summariseProfileDir(dir: string, log: (line: string) => void): ProfileSummary[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => ({ ...summariseProfile(join(dir, f)), process: f.split('.')[0]! }));
  } catch (error) {
    log(`no CPU profiles in ${dir}: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}
