import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findBinary } from './server-process';

/**
 * What the tests need from the system besides MySQL and Redis, which npm test installs as it
 * starts those servers when none answers: Debian's Chromium for the Explorer's browser test,
 * the Galera library with rsync for the Galera failover test, and perf for the test of the
 * benchmark's sampler. As root with apt-get it installs the missing packages (`apt-get update`
 * once, then `apt-get install -y`), saying so; otherwise it stops before anything else runs,
 * naming the one command that installs them.
 */

/** Debian's Chromium, which the browser tests drive (test/support/browser.ts). */
export const chromiumPath = '/usr/bin/chromium';

/** Where the galera library may be: Debian/Ubuntu's galera-4, then other distributions'. */
const galeraLibraryPaths = [
  '/usr/lib/libgalera_smm.so',
  '/usr/lib/galera/libgalera_smm.so',
  '/usr/lib64/galera-4/libgalera_smm.so',
  '/usr/lib64/galera/libgalera_smm.so',
];

/** The installed galera library's path (scripts/lib/galera-cluster.ts starts nodes with it), if any. */
export function galeraLibrary(): string | undefined {
  return galeraLibraryPaths.find((path) => existsSync(path));
}

/** A Debian package some test files need, and how npm test sees whether it is there. */
export interface SystemNeed {
  /** Debian's package name. */
  pkg: 'chromium' | 'galera-4' | 'rsync' | 'linux-perf';
  /** What is missing without it, in the log line. */
  what: string;
  /** The test files that need it: a run of other files only does not. */
  files: readonly string[];
}

const galeraTest = 'test/galera-failover.isolated.test.ts';

export const systemNeeds: readonly SystemNeed[] = [
  { pkg: 'chromium', what: `Chromium at ${chromiumPath}`, files: ['test/explorer.test.ts'] },
  { pkg: 'galera-4', what: 'the Galera library (libgalera_smm.so)', files: [galeraTest] },
  { pkg: 'rsync', what: "rsync (the Galera nodes' state transfer)", files: [galeraTest] },
  {
    pkg: 'linux-perf',
    what: 'perf (the benchmark samples JIT and GC with it)',
    files: ['test/bench-perf-sampler.test.ts'],
  },
];

/** What the decision reads of the machine; tests inject their own. */
export interface SystemProbe {
  /** Whether the package's file (binary or library) is present now. */
  present(pkg: SystemNeed['pkg']): boolean;
  /** Whether this process runs as root (uid 0). */
  root: boolean;
  /** Whether apt-get is on PATH (a Debian or Ubuntu system). */
  aptGet: boolean;
}

export function machineProbe(): SystemProbe {
  return {
    present: (pkg) => {
      switch (pkg) {
        case 'chromium':
          return existsSync(chromiumPath);
        case 'galera-4':
          return galeraLibrary() !== undefined;
        case 'rsync':
          return findBinary(['rsync']) !== undefined;
        case 'linux-perf':
          return findBinary(['perf']) !== undefined;
      }
    },
    root: process.getuid?.() === 0,
    aptGet: findBinary(['apt-get']) !== undefined,
  };
}

export type SystemPlan =
  | { kind: 'ready'; checked: readonly SystemNeed[] }
  | { kind: 'install'; missing: readonly SystemNeed[]; commands: readonly (readonly string[])[] }
  | { kind: 'stop'; missing: readonly SystemNeed[]; message: string };

/**
 * The test files vitest's arguments select, as filters: the arguments that are not options nor an
 * option's value. None means every file. An argument after a bare option (`--project shared`) is
 * taken as its value, so a filter is never read where there is none; at worst a run checks more.
 */
export function fileFilters(args: readonly string[]): string[] {
  return args.filter((arg, i) => {
    if (arg.startsWith('-')) return false;
    const before = args[i - 1];
    return before === undefined || !before.startsWith('-') || before.includes('=');
  });
}

/** The needs of the files a run selects: a need applies when a filter is part of one of its files' paths. */
export function needsOf(args: readonly string[], needs: readonly SystemNeed[] = systemNeeds): SystemNeed[] {
  const filters = fileFilters(args);
  if (filters.length === 0) return [...needs];
  return needs.filter((need) =>
    need.files.some((file) => filters.some((filter) => file.includes(filter.replace(/^\.\//, '')))),
  );
}

/** The one command that installs `packages` on Debian, with sudo when not root. */
export function installCommand(packages: readonly string[], root: boolean): string {
  const sudo = root ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y ${packages.join(' ')}`;
}

/** What npm test does about the selected needs: nothing, install (as root with apt-get), or stop naming the command. */
export function planSystemPackages(needs: readonly SystemNeed[], probe: SystemProbe): SystemPlan {
  const missing = needs.filter((need) => !probe.present(need.pkg));
  if (missing.length === 0) return { kind: 'ready', checked: needs };
  const packages = missing.map((need) => need.pkg);
  const lacking = `the tests need ${missing.map((need) => need.what).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed`;
  if (probe.root && probe.aptGet) {
    return {
      kind: 'install',
      missing,
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', ...packages],
      ],
    };
  }
  const message = probe.aptGet
    ? `${lacking}; npm test installs them only as root. Run: ${installCommand(packages, false)}`
    : `${lacking}, and this is not a Debian system (no apt-get): install ${packages.join(', ')} with the system's packages (on Debian: ${installCommand(packages, true)})`;
  return { kind: 'stop', missing, message };
}

/** Runs one command with the terminal's output; answers its exit code (or the error that kept it from starting). */
export type CommandRunner = (command: readonly string[]) => { code: number | null; error?: Error };

const aptRunner: CommandRunner = (command) => {
  const result = spawnSync(command[0]!, command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.error === undefined ? { code: result.status } : { code: null, error: result.error };
};

export interface EnsureSystemPackagesOptions {
  /** vitest's arguments: which files the run selects. */
  args: readonly string[];
  log: (line: string) => void;
  probe?: SystemProbe;
  run?: CommandRunner;
}

/**
 * Installs what the selected test files need when it can, or throws naming the one command to
 * run; once installed, every package must be found, or it throws saying which is still missing.
 */
export function ensureSystemPackages(options: EnsureSystemPackagesOptions): void {
  const probe = options.probe ?? machineProbe();
  const run = options.run ?? aptRunner;
  const plan = planSystemPackages(needsOf(options.args), probe);
  if (plan.kind === 'ready') {
    if (plan.checked.length > 0) options.log(`system packages present: ${plan.checked.map((n) => n.pkg).join(', ')}`);
    return;
  }
  if (plan.kind === 'stop') throw new Error(plan.message);
  options.log(
    `installing ${plan.missing.map((n) => n.pkg).join(', ')} from Debian's packages (missing: ${plan.missing.map((n) => n.what).join(', ')})`,
  );
  for (const command of plan.commands) {
    options.log(`running: ${command.join(' ')}`);
    const result = run(command);
    if (result.code !== 0) {
      const why = result.error === undefined ? `exit code ${result.code}` : result.error.message;
      throw new Error(`${command.join(' ')} failed (${why}); install them yourself and run npm test again`);
    }
  }
  const still = plan.missing.filter((need) => !probe.present(need.pkg));
  if (still.length > 0)
    throw new Error(`apt-get installed, yet ${still.map((n) => n.what).join(', ')} still cannot be found`);
  options.log(`installed ${plan.missing.map((n) => n.pkg).join(', ')}`);
}
