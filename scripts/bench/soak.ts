import { checkInvariants } from './invariants';
import { openLoopRateShare, soakFloorWindowSeconds, soakRssToleranceShare, soakSampleIntervalMs, soakWarmupSeconds } from './limits';
import { runClosedLoop, runOpenLoop, type LoadClient, type LoadResult } from './load';
import { rssBytesOf } from './proc-stats';
import { singlePaymentOps, type BenchContext } from './scenarios';

/**
 * The soak: scenario (a) at 70% of its maximum (or a given rate) for a long window, sampling
 * the gateway's resident set every soakSampleIntervalMs. After the warm-up the RSS must stay
 * within ±soakRssToleranceShare of its first post-warm-up sample: a leak grows without bound,
 * a healthy heap saws around a level.
 */
export interface SoakOptions {
  ctx: BenchContext;
  client: LoadClient;
  concurrency: number;
  seconds: number;
  rate: number | null;
  probeSeconds: number;
  gatewayPid: number | null;
}

export interface SoakReport {
  seconds: number;
  ratePerSecond: number;
  load: LoadResult;
  samples: Array<{ atSeconds: number; rssMiB: number }>;
  warmupSeconds: number;
  baselineMiB: number | null;
  minShare: number | null;
  maxShare: number | null;
  /** Every post-warm-up sample within ±soakRssToleranceShare of the baseline (the strict reading). */
  flat: boolean | null;
  /**
   * The lowest sample of each minute after warm-up (the heap right after a collection), and how
   * far the last minute's lies from the first's: a leak raises this floor, a sawtooth does not.
   */
  floorsMiB: number[];
  floorDriftShare: number | null;
}

const mebibyte = 1024 * 1024;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { ctx } = options;
  let rate = options.rate;
  if (rate === null) {
    const probe = singlePaymentOps(ctx, 'uniform');
    const max = await runClosedLoop({ client: options.client, seconds: options.probeSeconds, concurrency: options.concurrency, next: probe.next });
    rate = Math.max(1, Math.round(max.unitsPerSecond * openLoopRateShare));
    ctx.log(`soak: the maximum is ${max.unitsPerSecond} payments/s, so the soak offers ${rate}/s`);
  }
  const samples: SoakReport['samples'] = [];
  const started = Date.now();
  const sample = () => {
    const rss = options.gatewayPid === null ? undefined : rssBytesOf(options.gatewayPid);
    if (rss !== undefined) samples.push({ atSeconds: Math.round((Date.now() - started) / 1000), rssMiB: Math.round((rss / mebibyte) * 10) / 10 });
  };
  sample();
  const timer = setInterval(sample, soakSampleIntervalMs);
  const ops = singlePaymentOps(ctx, 'uniform');
  let load: LoadResult;
  try {
    load = await runOpenLoop({ client: options.client, seconds: options.seconds, ratePerSecond: rate, next: ops.next });
  } finally {
    clearInterval(timer);
  }
  sample();
  if (ctx.shards) await checkInvariants(ctx.shards);
  // A short soak still gets a judgement: its warm-up is at most half of it.
  const warmupSeconds = Math.min(soakWarmupSeconds, Math.floor(options.seconds / 2));
  const after = samples.filter((s) => s.atSeconds >= warmupSeconds);
  const baseline = after[0]?.rssMiB ?? null;
  const shares = baseline === null ? [] : after.map((s) => s.rssMiB / baseline - 1);
  const minShare = shares.length === 0 ? null : Math.round(Math.min(...shares) * 1000) / 1000;
  const maxShare = shares.length === 0 ? null : Math.round(Math.max(...shares) * 1000) / 1000;
  const floors = new Map<number, number>();
  for (const s of after) {
    const minute = Math.floor((s.atSeconds - warmupSeconds) / soakFloorWindowSeconds);
    floors.set(minute, Math.min(floors.get(minute) ?? Infinity, s.rssMiB));
  }
  const floorsMiB = [...floors.values()];
  const report: SoakReport = {
    seconds: options.seconds, ratePerSecond: rate, load, samples, warmupSeconds, baselineMiB: baseline, minShare, maxShare,
    flat: minShare === null || maxShare === null ? null : minShare >= -soakRssToleranceShare && maxShare <= soakRssToleranceShare,
    floorsMiB,
    floorDriftShare: floorsMiB.length < 2 ? null : Math.round((floorsMiB.at(-1)! / floorsMiB[0]! - 1) * 1000) / 1000,
  };
  ctx.log(`soak: ${load.unitsPerSecond} payments/s, p99 ${load.latencyMs.p99} ms; gateway RSS after warm-up ${baseline} MiB, ` +
    `range ${minShare} … ${maxShare} of it: ${report.flat ? 'flat' : 'NOT flat'}; per-minute floors ${floorsMiB.join(', ')} MiB ` +
    `(drift ${report.floorDriftShare})`);
  return report;
}
