import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './processes';

/**
 * --loop-probe: each process of the stack loads loop-probe.mjs (NODE_OPTIONS=--import), which
 * writes every second how late its event loop ran and its garbage collector's pauses; this reads
 * the seconds of one window back, per process. The latency tail of an open loop is the queue
 * behind the slowest stalls, and these say whose and how long.
 */
export const loopProbeModule = join(repoRoot, 'scripts/bench/loop-probe.mjs');

export interface LoopProbeReport {
  /** Seconds of the window the process reported. */
  seconds: number;
  /** The worst second's p99 and the longest delay of the event loop, ms. */
  loopP99MsWorst: number;
  loopMsMax: number;
  /** Garbage collections on the main thread, their total and their longest pause, ms. */
  gcCount: number;
  gcTotalMs: number;
  gcLongestMs: number;
  /** The main thread's pauses of at least 5 ms (loop-probe.mjs longGcPauseMs): when each began (epoch ms), how long, what kind. */
  longGcPauses: GcPause[];
}

export interface GcPause {
  at: number;
  ms: number;
  kind: string;
}

interface ProbeLine {
  at: number;
  loopP99Ms: number;
  loopMsMax: number;
  gcCount: number;
  gcTotalMs: number;
  gcLongestMs: number;
  longGc?: GcPause[];
}

/** What each process's probe wrote for the seconds ending in (startMs, endMs] (epoch ms). */
export function readLoopProbes(
  dir: string,
  pids: ReadonlyMap<string, number>,
  startMs: number,
  endMs: number,
): Record<string, LoopProbeReport> {
  const report: Record<string, LoopProbeReport> = {};
  for (const [name, pid] of pids) {
    const file = join(dir, `${pid}.jsonl`);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as ProbeLine)
      .filter((l) => l.at > startMs && l.at <= endMs);
    if (lines.length === 0) continue;
    const round = (ms: number) => Math.round(ms * 100) / 100;
    report[name] = {
      seconds: lines.length,
      loopP99MsWorst: Math.max(...lines.map((l) => l.loopP99Ms)),
      loopMsMax: Math.max(...lines.map((l) => l.loopMsMax)),
      gcCount: lines.reduce((sum, l) => sum + l.gcCount, 0),
      gcTotalMs: round(lines.reduce((sum, l) => sum + l.gcTotalMs, 0)),
      gcLongestMs: Math.max(...lines.map((l) => l.gcLongestMs)),
      longGcPauses: lines.flatMap((l) => l.longGc ?? []).filter((p) => p.at >= startMs && p.at <= endMs),
    };
  }
  return report;
}
