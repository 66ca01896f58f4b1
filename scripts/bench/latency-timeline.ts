import { pushTo } from '../../subgraphs/shared/src/collections';
import { latencySliceMs, stallSliceP50Factor } from './limits';
import type { GcPause } from './loop-probe';

/**
 * An open loop's latencies laid out over its window (docs/PERFORMANCE.md, "a-70's tail"): each
 * request in the slice of latencySliceMs its due time fell in. A p99 alone cannot tell a system
 * that is slow all the time from one that is quick but stops now and then: in a-70 most of the
 * requests at or over the p99 were due in one or two stretches of a few hundred milliseconds, and
 * which process was busy then (perf, per slice) says what stopped. Pure: no clock, no I/O.
 */
export interface LatencySlice {
  /** The slice's start, ms after the window's start. */
  atMs: number;
  requests: number;
  p50: number;
  max: number;
}

/** Consecutive slices whose p50 was over stallSliceP50Factor times the window's p50. */
export interface Stall {
  fromMs: number;
  toMs: number;
  requests: number;
  /** How many of the window's requests at or over its p99 were due inside this stall. */
  atOrOverP99: number;
}

export interface LatencyTimeline {
  /** When the window started (epoch ms): the processes' GC pauses (loop-probe.ts) are set against it. */
  startedAtEpochMs: number;
  sliceMs: number;
  slices: LatencySlice[];
  stalls: Stall[];
  /** Of the window's requests at or over its p99, the share due inside a stall (0 with no request). */
  p99ShareInStalls: number;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** The value at quantile `q` of ascending `sorted` (the load generator's p50, p90, p99 are read the same way). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * `dueMs` and `latencyMs` pair by index: each request's due time after the window's start and its
 * latency. `p50` and `p99` are the window's own, as its result reports them.
 */
export function latencyTimeline(
  dueMs: ArrayLike<number>,
  latencyMs: ArrayLike<number>,
  window: { p50: number; p99: number; startedAtEpochMs: number },
): LatencyTimeline {
  const bySlice = new Map<number, number[]>();
  for (let i = 0; i < dueMs.length; i++)
    pushTo(bySlice, Math.max(0, Math.floor(dueMs[i]! / latencySliceMs)), latencyMs[i]!);
  const slices = [...bySlice.entries()]
    .sort(([a], [b]) => a - b)
    .map(([slice, values]) => {
      const sorted = values.sort((a, b) => a - b);
      return {
        atMs: slice * latencySliceMs,
        requests: sorted.length,
        p50: round(quantile(sorted, 0.5)),
        max: round(sorted.at(-1)!),
      };
    });
  const stalls = stallsOf(slices, dueMs, latencyMs, window);
  const slow = countAtOrOver(latencyMs, window.p99);
  const inStalls = stalls.reduce((n, s) => n + s.atOrOverP99, 0);
  return {
    startedAtEpochMs: window.startedAtEpochMs,
    sliceMs: latencySliceMs,
    slices,
    stalls,
    p99ShareInStalls: slow === 0 ? 0 : Math.round((inStalls / slow) * 100) / 100,
  };
}

function countAtOrOver(values: ArrayLike<number>, threshold: number): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! >= threshold) n++;
  return n;
}

function stallsOf(
  slices: readonly LatencySlice[],
  dueMs: ArrayLike<number>,
  latencyMs: ArrayLike<number>,
  window: { p50: number; p99: number },
): Stall[] {
  const stalled = (s: LatencySlice) => s.p50 > stallSliceP50Factor * window.p50;
  const stalls: Stall[] = [];
  for (const slice of slices) {
    if (!stalled(slice)) continue;
    const last = stalls.at(-1);
    if (last && last.toMs === slice.atMs) last.toMs += latencySliceMs;
    else stalls.push({ fromMs: slice.atMs, toMs: slice.atMs + latencySliceMs, requests: 0, atOrOverP99: 0 });
  }
  for (let i = 0; i < dueMs.length; i++) {
    const stall = stalls.find((s) => dueMs[i]! >= s.fromMs && dueMs[i]! < s.toMs);
    if (!stall) continue;
    stall.requests += 1;
    if (latencyMs[i]! >= window.p99) stall.atOrOverP99 += 1;
  }
  return stalls;
}

/**
 * The processes' main-thread GC pauses of the window (--loop-probe), each at its second of the window, the
 * longest first: set beside the stalls, they say whose pause a stall began with.
 */
export function gcPausesSummary(
  timeline: Pick<LatencyTimeline, 'startedAtEpochMs'>,
  pauses: Record<string, readonly GcPause[]>,
  shown: number,
): string {
  // Pauses before the timeline's start (a probe's second may straddle it) are not the window's.
  const all = Object.entries(pauses)
    .flatMap(([name, list]) => list.map((p) => ({ name, ...p })))
    .filter((p) => p.at >= timeline.startedAtEpochMs)
    .sort((a, b) => b.ms - a.ms);
  if (all.length === 0) return 'no GC pause of 5 ms or more';
  const each = all
    .slice(0, shown)
    .map((p) => `${p.name} ${((p.at - timeline.startedAtEpochMs) / 1000).toFixed(1)} s ${p.kind} ${p.ms} ms`);
  return `GC pauses of 5 ms or more: ${all.length}, the longest ${each.join(', ')}`;
}

/** One line for the run's log: the stalls, and how much of the p99 they hold. */
export function stallSummary(timeline: LatencyTimeline): string {
  if (timeline.stalls.length === 0)
    return `no stall (no ${timeline.sliceMs} ms slice with its p50 over ${stallSliceP50Factor}× the window's)`;
  const each = timeline.stalls
    .map(
      (s) =>
        `${(s.fromMs / 1000).toFixed(1)}–${(s.toMs / 1000).toFixed(1)} s (${s.atOrOverP99} of its ${s.requests} at or over p99)`,
    )
    .join(', ');
  return `stalls: ${each}; ${Math.round(timeline.p99ShareInStalls * 100)}% of the requests at or over p99 were due in one`;
}
