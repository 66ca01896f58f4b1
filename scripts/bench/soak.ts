import { checkInvariants } from './invariants';
import {
  openLoopRateShare,
  soakFloorWindowSeconds,
  soakRssToleranceShare,
  soakSampleIntervalMs,
  soakWarmupSeconds,
} from './limits';
import { runClosedLoop, runOpenLoop, type LoadClient, type LoadResult } from './load';
import { rssBytesOf } from './proc-stats';
import { singlePaymentOps, type BenchContext } from './scenarios';

/**
 * The soak: scenario (a) at 70% of its maximum (or a given rate), first for a warm-up of
 * soakWarmupSeconds and then for the measured `seconds`, sampling the resident set of every
 * process of the system (the gateway and each subgraph) every soakSampleIntervalMs.
 *
 * The verdict per process reads the floor of each minute of the measured window (its lowest
 * sample, the heap right after a major collection): every floor must lie within
 * ±soakRssToleranceShare of the first minute's. A leak raises the floor minute after minute; V8's
 * sawtooth between collections moves single samples by ±20% or more without any growth, so
 * the raw range is reported beside the verdict but does not decide it.
 */
export interface SoakOptions {
  ctx: BenchContext;
  client: LoadClient;
  concurrency: number;
  /** The measured window, after the warm-up. */
  seconds: number;
  rate: number | null;
  probeSeconds: number;
  /** The processes whose RSS is sampled, by name (empty when measuring a system started elsewhere). */
  processes: () => ReadonlyMap<string, number>;
}

export interface RssSample {
  /** Seconds since the warm-up began. */
  atSeconds: number;
  rssMiB: number;
}

export interface MemoryVerdict {
  samples: RssSample[];
  /** The lowest sample of each full minute of the measured window, in order. */
  floorsMiB: number[];
  /** How far the lowest and highest floor lie from the first (−0.03 is 3% below it). */
  floorRangeShares: { min: number; max: number } | null;
  /** How far the lowest and highest single sample of the measured window lie from the first floor. */
  sampleRangeShares: { min: number; max: number } | null;
  /** Every floor within ±soakRssToleranceShare of the first; null with fewer than two full minutes. */
  flat: boolean | null;
}

export interface SoakReport {
  warmupSeconds: number;
  seconds: number;
  ratePerSecond: number;
  load: LoadResult;
  memory: Record<string, MemoryVerdict>;
  /** Every process flat (null when no process could be judged). */
  flat: boolean | null;
}

const mebibyte = 1024 * 1024;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { ctx } = options;
  let rate = options.rate;
  if (rate === null) {
    const probe = singlePaymentOps(ctx, 'uniform');
    const max = await runClosedLoop({
      client: options.client,
      seconds: options.probeSeconds,
      concurrency: options.concurrency,
      next: probe.next,
    });
    rate = Math.max(1, Math.round(max.unitsPerSecond * openLoopRateShare));
    ctx.log(`soak: the maximum is ${max.unitsPerSecond} payments/s, so the soak offers ${rate}/s`);
  }
  const warmupSeconds = soakWarmupSeconds;
  ctx.log(
    `soak: ${warmupSeconds} s of warm-up, then ${options.seconds} s measured; RSS of ${[...options.processes().keys()].join(', ') || 'no process'} every ${soakSampleIntervalMs / 1000} s`,
  );
  const samples = new Map<string, RssSample[]>();
  const started = Date.now();
  const sample = () => {
    const atSeconds = Math.round((Date.now() - started) / 100) / 10;
    for (const [name, pid] of options.processes()) {
      const rss = rssBytesOf(pid);
      if (rss === undefined) continue;
      const list = samples.get(name) ?? [];
      list.push({ atSeconds, rssMiB: Math.round((rss / mebibyte) * 10) / 10 });
      samples.set(name, list);
    }
  };
  sample();
  const timer = setInterval(sample, soakSampleIntervalMs);
  const ops = singlePaymentOps(ctx, 'uniform');
  let load: LoadResult;
  try {
    load = await runOpenLoop({
      client: options.client,
      seconds: warmupSeconds + options.seconds,
      ratePerSecond: rate,
      next: ops.next,
    });
  } finally {
    clearInterval(timer);
  }
  sample();
  if (ctx.shards) await checkInvariants(ctx.shards);
  const memory = Object.fromEntries(
    [...samples].map(([name, list]) => [name, judgeMemory(list, warmupSeconds, options.seconds)]),
  );
  const verdicts = Object.values(memory)
    .map((m) => m.flat)
    .filter((flat): flat is boolean => flat !== null);
  const report: SoakReport = {
    warmupSeconds,
    seconds: options.seconds,
    ratePerSecond: rate,
    load,
    memory,
    flat: verdicts.length === 0 ? null : verdicts.every((flat) => flat),
  };
  ctx.log(`soak: ${load.unitsPerSecond} payments/s, p99 ${load.latencyMs.p99} ms`);
  for (const [name, m] of Object.entries(memory)) ctx.log(`soak: ${describeVerdict(name, m)}`);
  return report;
}

/**
 * The verdict on one process's samples: the floor of each full soakFloorWindowSeconds window
 * after the warm-up (a window the run did not cover to its end is left out), each against the
 * first. Pure, so that tests can hold it to sawtooth and leak shapes.
 */
export function judgeMemory(
  samples: readonly RssSample[],
  warmupSeconds: number,
  measuredSeconds: number,
): MemoryVerdict {
  const windows = Math.floor(measuredSeconds / soakFloorWindowSeconds);
  const floorsMiB: number[] = [];
  for (let w = 0; w < windows; w++) {
    const from = warmupSeconds + w * soakFloorWindowSeconds;
    const inside = samples.filter((s) => s.atSeconds >= from && s.atSeconds < from + soakFloorWindowSeconds);
    if (inside.length > 0) floorsMiB.push(Math.min(...inside.map((s) => s.rssMiB)));
  }
  const first = floorsMiB[0];
  const measured = samples.filter(
    (s) => s.atSeconds >= warmupSeconds && s.atSeconds < warmupSeconds + windows * soakFloorWindowSeconds,
  );
  const range = (values: readonly number[]) =>
    first === undefined || values.length === 0
      ? null
      : {
          min: roundShare(Math.min(...values) / first - 1),
          max: roundShare(Math.max(...values) / first - 1),
        };
  const floorRangeShares = range(floorsMiB);
  return {
    samples: [...samples],
    floorsMiB,
    floorRangeShares,
    sampleRangeShares: range(measured.map((s) => s.rssMiB)),
    flat:
      floorsMiB.length < 2 || floorRangeShares === null
        ? null
        : floorRangeShares.min >= -soakRssToleranceShare && floorRangeShares.max <= soakRssToleranceShare,
  };
}

export function describeVerdict(name: string, m: MemoryVerdict): string {
  const percent = (share: number) => `${share >= 0 ? '+' : ''}${(share * 100).toFixed(1)}%`;
  const floors = m.floorRangeShares
    ? ` (${percent(m.floorRangeShares.min)} … ${percent(m.floorRangeShares.max)} of the first)`
    : '';
  const samples = m.sampleRangeShares
    ? `; single samples ${percent(m.sampleRangeShares.min)} … ${percent(m.sampleRangeShares.max)}`
    : '';
  const verdict = m.flat === null ? 'not judged (fewer than two full minutes)' : m.flat ? 'flat' : 'NOT flat';
  return `${name} RSS per-minute floors ${m.floorsMiB.join(', ')} MiB${floors}${samples}: ${verdict}`;
}

function roundShare(share: number): number {
  return Math.round(share * 1000) / 1000;
}
