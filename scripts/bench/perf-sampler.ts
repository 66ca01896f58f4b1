import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  jitJudgedSampleShareMin,
  perfSampleHz,
  perfStartPollMs,
  perfStartTimeoutMs,
  perfStopTimeoutMs,
} from './limits';

/**
 * What share of each process's CPU went to V8's JIT compilers and to its garbage collector, read
 * from `perf record -g` (cpu-clock samples with frame-pointer call chains) over the processes of
 * a warm-up slice or a measured window.
 *
 * Why perf and not the threads' names: V8 compiles in the background on its platform workers,
 * but the same workers mark and sweep for the collector, and on Node 20 every thread of the
 * process is called "node" (Node 24 names them MainThread, V8Worker, DelayedTaskSche,
 * SignalInspector: still no line between compiling and collecting); and part of the compiling
 * (parsing and bytecode of a lazily compiled function, Sparkplug, finalising an optimised
 * job) runs on the main thread. A sample's call chain says what it was doing wherever it ran: the
 * binaries of Node (both the machine's and the registry's `node` package) keep their symbols, and
 * V8's C++ keeps frame pointers, so a chain walks from the leaf up to the thread's entry.
 *
 * A sample is JIT when the innermost frame of one of the kinds below belongs to a compiler
 * (parser, bytecode generator, Sparkplug, Maglev, TurboFan, the compile dispatcher and its
 * jobs, the deoptimizer), GC when it belongs to the collector; the innermost wins, so a
 * collection triggered while compiling counts as GC.
 */
export type SampleKind = 'jit' | 'gc' | 'other';

const jitFrame =
  /v8::internal::(compiler|maglev|baseline|interpreter)::|v8::internal::(Compiler|Parser|PreParser|ParserBase<[^>]*>|ScopeIterator|DeclarationScope|Deoptimizer|OptimizingCompileDispatcher|BackgroundCompileTask|BackgroundMergeTask|LazyCompileDispatcher)::|CompilationJob|Runtime_Compile|Runtime_InstallBaselineCode|Runtime_NotifyDeoptimized/;
const gcFrame =
  /v8::internal::(Heap::(CollectGarbage|PerformGarbageCollection|CollectAllGarbage)|ScavengerCollector|Scavenger|MarkCompactCollector|MinorMarkCompactCollector|MinorMarkSweepCollector|ConcurrentMarking|IncrementalMarking|MarkingVisitorBase|Sweeper|ArrayBufferSweeper|Evacuator|FullEvacuator|PointersUpdatingJob|ScavengeJob|GCTracer|MemoryReducer)|cppgc::internal::(Marker|Sweeper)/;

/** The kind of one sample, from its frames listed innermost first (as perf script prints them). */
export function classifySample(frames: readonly string[]): SampleKind {
  for (const frame of frames) {
    if (jitFrame.test(frame)) return 'jit';
    if (gcFrame.test(frame)) return 'gc';
  }
  return 'other';
}

/** One process's samples in a slice or window, and how many of them were of each kind. */
export interface ProcessSamples {
  samples: number;
  jit: number;
  gc: number;
  /** Samples of the main thread (the thread whose id is the process's), and of those, GC. */
  mainThread: number;
  mainThreadGc: number;
}

/** What the sampler found per process, by the name the benchmark gives it. */
export type SampleReport = Record<string, ProcessSamples & { jitShare: number; gcShare: number }>;

export function emptySamples(): ProcessSamples {
  return { samples: 0, jit: 0, gc: 0, mainThread: 0, mainThreadGc: 0 };
}

/**
 * Reads `perf script -F pid,tid,ip,sym` text: a header line "pid/tid" per sample, then one
 * indented line per frame ("address symbol"), then a blank line.
 */
export class PerfScriptParser {
  readonly byPid = new Map<number, ProcessSamples>();
  private pid = -1;
  private tid = -1;
  private frames: string[] = [];

  line(text: string): void {
    if (text.length === 0) return this.flush();
    // perf right-aligns the pid in a field of 5 or more: " 7206/7206" starts with a space, a frame with a tab.
    const header = /^ *(\d+)\/(\d+)/.exec(text);
    if (header) {
      this.flush();
      this.pid = Number(header[1]);
      this.tid = Number(header[2]);
    } else if (this.pid >= 0) {
      this.frames.push(text);
    }
  }

  flush(): void {
    if (this.pid < 0) return;
    const kind = classifySample(this.frames);
    const entry = this.byPid.get(this.pid) ?? emptySamples();
    entry.samples += 1;
    if (kind === 'jit') entry.jit += 1;
    if (kind === 'gc') entry.gc += 1;
    if (this.tid === this.pid) {
      entry.mainThread += 1;
      if (kind === 'gc') entry.mainThreadGc += 1;
    }
    this.byPid.set(this.pid, entry);
    this.pid = -1;
    this.frames = [];
  }
}

export function sampleReport(
  byPid: ReadonlyMap<number, ProcessSamples>,
  pids: ReadonlyMap<string, number>,
): SampleReport {
  const report: SampleReport = {};
  for (const [name, pid] of pids) {
    const s = byPid.get(pid) ?? emptySamples();
    const share = (n: number) => (s.samples === 0 ? 0 : Math.round((n / s.samples) * 1000) / 1000);
    report[name] = { ...s, jitShare: share(s.jit), gcShare: share(s.gc) };
  }
  return report;
}

let available: boolean | null = null;

/** Whether `perf record` can sample every CPU here (installed, and allowed by perf_event_paranoid: root, or ≤ 0). */
export function perfAvailable(): boolean {
  if (available !== null) return available;
  const dir = mkdtempSync(join(tmpdir(), 'bench-perf-'));
  try {
    const args = ['record', '-q', '-a', '-e', 'cpu-clock', '-o', join(dir, 'probe.data'), '--', 'true'];
    const probe = spawnSync('perf', args, { stdio: 'ignore', timeout: perfStartTimeoutMs });
    available = probe.status === 0;
  } catch {
    available = false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return available;
}

/** The processes that did at least jitJudgedSampleShareMin of the work sampled: those whose JIT share is judged. */
export function judgedProcesses(report: SampleReport): Array<[string, SampleReport[string]]> {
  const total = Object.values(report).reduce((sum, s) => sum + s.samples, 0);
  return Object.entries(report).filter(([, s]) => total > 0 && s.samples / total >= jitJudgedSampleShareMin);
}

/** The judged process (judgedProcesses) that spent the largest share of its samples compiling; null when none is judged. */
export function topJudgedJit(report: SampleReport): { process: string; jitShare: number } | null {
  const judged = judgedProcesses(report);
  if (judged.length === 0) return null;
  const [process, top] = judged.reduce((a, b) => (b[1].jitShare > a[1].jitShare ? b : a));
  return { process, jitShare: top.jitShare };
}

/** No process had a sample: perf ran but saw nothing (or could not read what it wrote), so nothing can be judged. */
export function sawNothing(report: SampleReport): boolean {
  return Object.values(report).every((s) => s.samples === 0);
}

export interface PerfSession {
  /** perf's own process (undefined if it could not start). */
  readonly pid: number | undefined;
  /** Where perf writes its record: removed by stop(), or by a sampling() that rejects. */
  readonly dataDir: string;
  /**
   * Resolves once perf samples; rejects if it exits first or has not begun within perfStartTimeoutMs, having ended
   * perf and removed its record (a bench that stops there calls no stop()).
   */
  sampling(): Promise<void>;
  /** Stops sampling and answers what each process spent its samples on. */
  stop(): Promise<SampleReport>;
}

/**
 * Starts `perf record` on every CPU (`-a`) and answers the given processes' samples (a process of the
 * map that has ended has none). Samples at perfSampleHz per CPU.
 *
 * System-wide, not `-p <the processes>`: `-p` opens events per thread, and the kernel switches a
 * thread's events out and in at every context switch of that thread: two processes bouncing a byte
 * over pipes took 38–42 µs a round trip under `-p`, 24 with `-a` or without perf (12-02, 200,000 round
 * trips, alternated): ≈ 8 µs a switch, on a system that switches 7–18 times a payment
 * (docs/PERFORMANCE.md, "a-70's tail"). `-a`'s events are per CPU and stay put.
 *
 * perf runs a workload that marks when sampling begins (perf enables its events as the workload starts, once it
 * has read every process's memory map) and ends when this process does: a bench that dies without stop() leaves
 * no system-wide perf behind, as `-p` never did (it ended with the processes it sampled).
 */
export function startPerf(pids: ReadonlyMap<string, number>): PerfSession {
  const dir = mkdtempSync(join(tmpdir(), 'bench-perf-'));
  const file = join(dir, 'perf.data');
  const marker = join(dir, 'sampling');
  const workload = ['sh', '-c', 'touch "$1"; exec tail -f /dev/null --pid="$2"', 'sh', marker, String(process.pid)];
  const record = ['record', '-q', '-g', '-e', 'cpu-clock', '-F', String(perfSampleHz), '-a', '-o', file];
  const perf = spawn('perf', [...record, '--', ...workload], { stdio: 'ignore' });
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    const end = () => {
      ended = true;
      resolve();
    };
    perf.once('exit', end);
    perf.once('error', end);
  });
  return {
    pid: perf.pid,
    dataDir: dir,
    sampling: async () => {
      try {
        await untilMarked(marker, () => ended);
      } catch (error) {
        perf.kill('SIGKILL');
        await exited;
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    },
    stop: async () => {
      try {
        perf.kill('SIGINT');
        const timer = setTimeout(() => perf.kill('SIGKILL'), perfStopTimeoutMs);
        await exited;
        clearTimeout(timer);
        return sampleReport(await readSamples(file, pids), pids);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function untilMarked(marker: string, ended: () => boolean): Promise<void> {
  const deadline = Date.now() + perfStartTimeoutMs;
  while (!existsSync(marker)) {
    if (ended())
      throw new Error('perf exited before it sampled (perf record -a needs root or perf_event_paranoid ≤ 0)');
    if (Date.now() > deadline) throw new Error(`perf had not begun sampling after ${perfStartTimeoutMs} ms`);
    await sleep(perfStartPollMs);
  }
}

async function readSamples(file: string, pids: ReadonlyMap<string, number>): Promise<Map<number, ProcessSamples>> {
  // Only the listed processes' call chains are written out: the record holds every process's.
  const args = ['script', '-i', file, '-F', 'pid,tid,ip,sym', '--pid', [...new Set(pids.values())].join(',')];
  const script = spawn('perf', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const parser = new PerfScriptParser();
  const lines = createInterface({ input: script.stdout!, crlfDelay: Infinity });
  for await (const line of lines) parser.line(line);
  parser.flush();
  return parser.byPid;
}
