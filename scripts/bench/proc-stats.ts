import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { withServer } from '../../subgraphs/shared/src/db/server-connection';
import { calibrationLoopIterations } from './limits';

/**
 * CPU time and memory of processes, read from /proc. CPU is utime + stime (fields 14 and 15
 * of /proc/<pid>/stat) in clock ticks; the benchmark reads it before and after a window and
 * divides the difference by the operations of that window.
 */
const clockTicksPerSecondFallback = 100;
const pageBytesFallback = 4_096;

function sysconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isSafeInteger(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

const clockTicksPerSecond = sysconf('CLK_TCK', clockTicksPerSecondFallback);
const pageBytes = sysconf('PAGESIZE', pageBytesFallback);

/** The fields after the command name, which is in parentheses and may itself hold spaces. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU ms (user + system) the process has used so far; undefined once it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  // After the command the fields start at number 3 (state), so utime (14) is index 11.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicksPerSecond;
}

/** CPU ms the process has spent in the kernel so far (stime); undefined once it is gone. */
function systemCpuMsOf(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? (Number(fields[12]) * 1000) / clockTicksPerSecond : undefined;
}

/** Resident set size in bytes (field 24). */
export function rssBytesOf(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  return Number(fields[21]) * pageBytes;
}

/**
 * The pid of the MySQL/MariaDB server the benchmark talks to: the one whose pid file the server names
 * (`@@pid_file`), read when the caller can ask it; else the only `mariadbd`/`mysqld` this machine runs. With
 * several servers running (a private one for a test beside the machine's) and no answer from the server, none is
 * guessed: a wrong pid would read another server's CPU as MySQL's (it read 0 once a second server ran).
 */
export async function findMysqlServerPid(askPidFile?: () => Promise<string | null>): Promise<number | undefined> {
  const file = askPidFile ? await askPidFile().catch(() => null) : null;
  if (file) {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0) return pid;
    } catch {
      // Not readable by this user (another server's files): the scan below decides.
    }
  }
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') found.push(Number(entry));
    } catch {
      // The process ended while the directory was being read.
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

/** Asks the server at a shard's URL where its pid file is (for findMysqlServerPid). */
export function pidFileOf(shardUrl: string): () => Promise<string | null> {
  return () =>
    withServer(shardUrl, async (conn) => {
      const [rows] = await conn.query('SELECT @@pid_file AS file');
      const file = (rows as Array<{ file: string | null }>)[0]?.file;
      return file ?? null;
    });
}

export type CpuSnapshot = Map<string, number>;

/**
 * CPU ms of each named process now; the benchmark's own process is read through process.cpuUsage.
 * The key "machine" holds the whole machine's busy time, from which cpuDelta derives "other", and
 * "steal" the time the hypervisor gave this VM's wanting CPUs to something else.
 */
export function snapshotCpu(pids: ReadonlyMap<string, number>): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  const machine = machineTimesMs();
  if (machine !== undefined) {
    snapshot.set('machine', machine.busyMs);
    snapshot.set('steal', machine.stealMs);
  }
  for (const [name, pid] of pids) {
    const ms = pid === process.pid ? ownCpuMs() : cpuMsOf(pid);
    if (ms !== undefined) snapshot.set(name, ms);
  }
  return snapshot;
}

function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * CPU ms each process used between two snapshots, and "other": what the rest of the machine
 * (other people's tests, compilers) used meanwhile, which the figures of a shared machine need
 * beside them; and "steal": what the hypervisor ran elsewhere while this VM's CPUs wanted to run.
 * Steal is no one's CPU here, so "other" leaves it out: counted in it, a window whose host was
 * busy read as other processes on this machine (a-70's 14% in 06-24-06Z, with nothing else running).
 */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, end] of after) {
    const start = before.get(name);
    if (start !== undefined && name !== 'machine' && name !== 'steal') delta[name] = end - start;
  }
  const machineStart = before.get('machine');
  const machineEnd = after.get('machine');
  if (machineStart !== undefined && machineEnd !== undefined) {
    const ours = Object.values(delta).reduce((sum, ms) => sum + ms, 0);
    delta.other = Math.max(0, machineEnd - machineStart - ours);
  }
  const stealStart = before.get('steal');
  const stealEnd = after.get('steal');
  if (stealStart !== undefined && stealEnd !== undefined) delta.steal = stealEnd - stealStart;
  return delta;
}

/**
 * What the whole machine's CPUs did so far (every core, the first line of /proc/stat): busy (user,
 * nice, system, irq, softirq), set against the processes the benchmark knows to show how much CPU
 * something else on the machine took during a window; and steal, the time a CPU of this VM was
 * ready to run and the hypervisor ran another guest (apart: this machine did no work in it).
 */
export function machineTimesMs(): { busyMs: number; stealMs: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const ms = (ticks: number) => (ticks * 1000) / clockTicksPerSecond;
    return { busyMs: ms(user! + nice! + system! + irq! + softirq!), stealMs: ms(steal ?? 0) };
  } catch {
    return undefined;
  }
}

/** The 1-, 5- and 15-minute load averages of /proc/loadavg (what `uptime` prints); null where unreadable. */
export function loadAverages(): [number, number, number] | null {
  try {
    const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).map(Number);
    return [one!, five!, fifteen!];
  } catch {
    return null;
  }
}

/**
 * The time of a fixed integer loop (calibrationLoopIterations, ≈ 100 ms on a fast moment): this
 * machine's speed moves by ±10% or more between runs and within one, and a figure taken on a slow
 * moment reads slow. Taken before the run, before each window and after the run.
 */
export function calibrationLoopMs(): number {
  const started = performance.now();
  let x = 0;
  for (let i = 0; i < calibrationLoopIterations; i++) x = (x + i) % 7;
  if (x < 0) throw new Error('unreachable');
  return Math.round(performance.now() - started);
}

/**
 * What a process asked of the kernel so far: its read and write calls (/proc/<pid>/io syscr, syscw: read(2), write(2)
 * and their vector forms, which Node's sockets and files use; MySQL's recv and send are not among them) and its
 * threads' context switches (/proc/<pid>/task/<tid>/status): voluntary, a thread waiting to be woken (a socket, a
 * lock, a timer), and involuntary, a thread put off a core for another. One process waking another costs this VM more
 * than the work either does (docs/PERFORMANCE.md, "What one unit costs"), and these count the wakes.
 */
export interface KernelCounts {
  reads: number;
  writes: number;
  waits: number;
  preempted: number;
  /**
   * CPU ms spent in the kernel on the process's behalf (stime, field 15 of /proc/<pid>/stat): its calls, its wakes and
   * its page faults. Against the process's whole CPU it tells a wake's price in the kernel from the price its own code
   * pays after one (a-70's rise, docs/PERFORMANCE.md, "a-70's tail").
   */
  systemMs: number;
}

/**
 * The process's counts now; undefined once it is gone or when /proc does not show them to this user. The switches are
 * those of the threads alive now: a thread that ends takes its own with it (its read and write calls stay counted).
 */
export function kernelCountsOf(pid: number): KernelCounts | undefined {
  let counts: KernelCounts;
  let threads: string[];
  try {
    const io = Object.fromEntries(
      readFileSync(`/proc/${pid}/io`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(':').map((part) => part.trim())),
    ) as Record<string, string>;
    const systemMs = systemCpuMsOf(pid);
    if (systemMs === undefined) return undefined;
    counts = { reads: Number(io.syscr), writes: Number(io.syscw), waits: 0, preempted: 0, systemMs };
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    // Gone, or not this user's to read.
    return undefined;
  }
  for (const tid of threads) {
    const switches = threadSwitchesOf(pid, tid);
    counts.waits += switches.waits;
    counts.preempted += switches.preempted;
  }
  return Object.values(counts).every(Number.isFinite) ? counts : undefined;
}

/** A thread's voluntary and involuntary context switches; none for a thread ended since its directory was listed. */
function threadSwitchesOf(pid: number, tid: string): { waits: number; preempted: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  } catch {
    return { waits: 0, preempted: 0 };
  }
  return {
    waits: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    preempted: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
  };
}

export type KernelSnapshot = Map<string, KernelCounts>;

/** Every named process's counts now (the benchmark's own too); a process whose counts cannot be read is left out. */
export function snapshotKernel(pids: ReadonlyMap<string, number>): KernelSnapshot {
  const snapshot: KernelSnapshot = new Map();
  for (const [name, pid] of pids) {
    const counts = kernelCountsOf(pid);
    if (counts) snapshot.set(name, counts);
  }
  return snapshot;
}

/** Each process's counts between two snapshots, one missing from either left out (the run line divides by units). */
export function kernelDelta(before: KernelSnapshot, after: KernelSnapshot): Record<string, KernelCounts> {
  const delta: Record<string, KernelCounts> = {};
  for (const [name, end] of after) {
    const start = before.get(name);
    if (!start) continue;
    delta[name] = {
      reads: end.reads - start.reads,
      writes: end.writes - start.writes,
      waits: end.waits - start.waits,
      preempted: end.preempted - start.preempted,
      systemMs: end.systemMs - start.systemMs,
    };
  }
  return delta;
}
