// Loaded into the gateway and each subgraph with `node --import` (NODE_OPTIONS) when the benchmark runs with
// --loop-probe: every loopProbeIntervalMs it appends to BENCH_LOOP_PROBE_DIR/<pid>.jsonl how late the event
// loop ran over the last interval (perf_hooks' monitorEventLoopDelay: p50, p99, max) and the garbage
// collector's pauses on the main thread (PerformanceObserver 'gc' entries: count, total, longest), so that
// a window's latency tail can be set against the processes' own stalls (loop-probe.ts reads the lines), and each
// pause of at least longGcPauseMs with when it began (epoch ms) and its kind, to be set against the window's stalls.
// Plain JavaScript: it runs beside dist/, not through the build. Nothing of it reaches a response.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import process from 'node:process';
import { setInterval } from 'node:timers';

const dir = process.env.BENCH_LOOP_PROBE_DIR;
const loopProbeIntervalMs = 1000;
const loopResolutionMs = 2;
const longGcPauseMs = 5;
const gcKinds = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);
if (dir) {
  const file = join(dir, `${process.pid}.jsonl`);
  const delay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  delay.enable();
  let gcCount = 0;
  let gcTotalMs = 0;
  let gcLongestMs = 0;
  let longGc = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount += 1;
      gcTotalMs += entry.duration;
      gcLongestMs = Math.max(gcLongestMs, entry.duration);
      if (entry.duration >= longGcPauseMs)
        longGc.push({
          at: Math.round(performance.timeOrigin + entry.startTime),
          ms: Math.round(entry.duration * 10) / 10,
          kind: gcKinds.get(entry.detail?.kind) ?? 'other',
        });
    }
  }).observe({ entryTypes: ['gc'] });
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  setInterval(() => {
    const line = {
      at: Date.now(),
      loopP50Ms: ms(delay.percentile(50)),
      loopP99Ms: ms(delay.percentile(99)),
      loopMsMax: ms(delay.max),
      gcCount,
      gcTotalMs: Math.round(gcTotalMs * 100) / 100,
      gcLongestMs: Math.round(gcLongestMs * 100) / 100,
      longGc,
    };
    delay.reset();
    gcCount = 0;
    gcTotalMs = 0;
    gcLongestMs = 0;
    longGc = [];
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, loopProbeIntervalMs).unref();
}
