import { readFileSync, readdirSync } from 'node:fs';

/**
 * A process and everything it started, to stop them together. `npx vitest` is npm's process, which does not pass a
 * SIGTERM on to vitest: stopping npx alone left vitest and its workers running after npm test had exited (and
 * released the machine's lock), so the next run's tests met this one's on the same test databases.
 */
export function processTreeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent === undefined) continue;
    const siblings = children.get(parent);
    if (siblings) siblings.push(Number(entry));
    else children.set(parent, [Number(entry)]);
  }
  const tree: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** The parent's pid (field 4 of /proc/<pid>/stat), or undefined once the process is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Sends the signal to the process and to every process under it, deepest first; a process gone meanwhile is skipped. */
export function signalTree(root: number, signal: NodeJS.Signals): void {
  for (const pid of processTreeOf(root).reverse()) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
