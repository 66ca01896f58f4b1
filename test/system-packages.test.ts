import { describe, expect, it } from 'vitest';
import {
  ensureSystemPackages,
  needsOf,
  planSystemPackages,
  systemNeeds,
  type CommandRunner,
  type SystemNeed,
  type SystemProbe,
} from '../scripts/lib/system-packages';

/**
 * What npm test does about the packages the tests need from the system (chromium, galera-4,
 * rsync, linux-perf): the decision on an injected probe of the machine and an injected command
 * runner, so that no package is installed or removed here. That the real probe finds them is shown
 * by every full run: the Explorer, Galera and perf sampler tests fail without them.
 */
type Pkg = SystemNeed['pkg'];

/** A machine with `installed`, root or not, with apt-get or not; an install adds what it names. */
function fakeMachine(installed: Pkg[], root: boolean, aptGet = true) {
  const present = new Set<Pkg>(installed);
  const ran: string[][] = [];
  const probe: SystemProbe = { present: (pkg) => present.has(pkg), root, aptGet };
  const run: CommandRunner = (command) => {
    ran.push([...command]);
    if (command[1] === 'install') for (const pkg of command.slice(3)) present.add(pkg as Pkg);
    return { code: 0 };
  };
  return { probe, run, ran, present };
}

function logged() {
  const lines: string[] = [];
  return { lines, log: (line: string) => void lines.push(line) };
}

describe('npm test and the system packages', () => {
  it('does nothing but say so when every package is there', () => {
    const machine = fakeMachine(['chromium', 'galera-4', 'rsync', 'linux-perf'], false);
    const { lines, log } = logged();
    ensureSystemPackages({ args: [], log, probe: machine.probe, run: machine.run });
    expect(machine.ran).toEqual([]);
    expect(lines).toEqual(['system packages present: chromium, galera-4, rsync, linux-perf']);
  });

  it('installs only the missing ones as root: apt-get update once, then apt-get install -y, each logged', () => {
    const machine = fakeMachine(['rsync', 'linux-perf'], true);
    const { lines, log } = logged();
    ensureSystemPackages({ args: [], log, probe: machine.probe, run: machine.run });
    expect(machine.ran).toEqual([
      ['apt-get', 'update'],
      ['apt-get', 'install', '-y', 'chromium', 'galera-4'],
    ]);
    expect(lines).toEqual([
      expect.stringMatching(/^installing chromium, galera-4 from Debian's packages \(missing: Chromium at/),
      'running: apt-get update',
      'running: apt-get install -y chromium galera-4',
      'installed chromium, galera-4',
    ]);
  });

  it('stops at once, not root, naming the one command with sudo; nothing runs', () => {
    const machine = fakeMachine([], false);
    expect(() => ensureSystemPackages({ args: [], log: () => {}, probe: machine.probe, run: machine.run })).toThrow(
      'Run: sudo apt-get update && sudo apt-get install -y chromium galera-4 rsync linux-perf',
    );
    expect(machine.ran).toEqual([]);
  });

  it('without apt-get, names the packages and the Debian command, even as root', () => {
    const plan = planSystemPackages(systemNeeds, fakeMachine(['chromium'], true, false).probe);
    expect(plan).toMatchObject({ kind: 'stop' });
    expect(plan.kind === 'stop' && plan.message).toMatch(
      /not a Debian system \(no apt-get\): install galera-4, rsync, linux-perf .*apt-get install -y galera-4 rsync linux-perf/,
    );
  });

  it('stops when apt-get fails, or when what it installed still cannot be found', () => {
    const failing = fakeMachine([], true);
    const refused: CommandRunner = (command) => (command[1] === 'update' ? { code: 0 } : { code: 100 });
    expect(() => ensureSystemPackages({ args: [], log: () => {}, probe: failing.probe, run: refused })).toThrow(
      'apt-get install -y chromium galera-4 rsync linux-perf failed (exit code 100)',
    );
    const hollow = fakeMachine([], true);
    const noop: CommandRunner = () => ({ code: 0 });
    expect(() => ensureSystemPackages({ args: [], log: () => {}, probe: hollow.probe, run: noop })).toThrow(
      /still cannot be found/,
    );
  });

  it('checks only what the selected files need', () => {
    const pkgs = (args: string[]) => needsOf(args).map((n) => n.pkg);
    const every = ['chromium', 'galera-4', 'rsync', 'linux-perf'];
    expect(pkgs([])).toEqual(every);
    expect(pkgs(['test/explorer.test.ts'])).toEqual(['chromium']);
    expect(pkgs(['./test/explorer.test.ts', '--reporter=verbose'])).toEqual(['chromium']);
    expect(pkgs(['galera'])).toEqual(['galera-4', 'rsync']);
    expect(pkgs(['test/bench-perf-sampler.test.ts'])).toEqual(['linux-perf']);
    expect(pkgs(['subgraphs/webhooks/test/int/retention.test.ts'])).toEqual([]);
    // An option's value is no filter: the run may select every file.
    expect(pkgs(['--project', 'shared'])).toEqual(every);
    expect(pkgs(['-t', 'explorer'])).toEqual(every);
    // A missing package a run does not need stops nothing.
    const machine = fakeMachine([], false);
    ensureSystemPackages({ args: ['test/scripts.test.ts'], log: () => {}, probe: machine.probe, run: machine.run });
    expect(machine.ran).toEqual([]);
  });
});
