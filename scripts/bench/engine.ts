import { createPayment } from '../../subgraphs/transaction/src/services/payment';
import { postingSettingsDefault, type EngineMode } from '../../subgraphs/shared/src/config/shared';
import { log } from '../../subgraphs/shared/src/log';
import { openShards } from '../../subgraphs/shared/src/shards/pool';
import { amountMinorUnitsMaxDefault, shardPoolSizeDefault } from '../../subgraphs/shared/src/limits';
import { checkInvariants } from './invariants';
import { requestsPerRunMax } from './limits';
import { Recorder, type LoadResult } from './load';
import {
  cpuFigures,
  mysqlCounters,
  windowAfterLeadIn,
  mysqlPerUnit,
  paymentInputs,
  warmUp,
  type BenchContext,
  type ScenarioResult,
} from './scenarios';
import { fxQuoteTtlSecondsDefault, holdTtlSecondsDefault } from '../../subgraphs/transaction/src/limits';

/**
 * The posting engines compared with nothing in front of them: the transaction subgraph's own
 * createPayment (account reads, idempotency claim, the posting and the payment row, exactly as
 * a request runs it) called inside the benchmark's process by concurrent callers, every payment
 * to the hot merchant, with the subgraphs stopped. Through the API, the gateway and GraphQL cost
 * the same per payment whatever the engine, which hides how much the engines differ; here the
 * engine is what is left. The benchmark's process does the subgraph's work, so its CPU column is
 * the engine's.
 */
export interface EngineOptions {
  ctx: BenchContext;
  shardUrls: string;
  engine: EngineMode;
  concurrency: number;
  /**
   * Connections per shard of the engine's own pools: shardPoolSizeDefault (10) unless given (npm test's bench smoke
   * keeps to its connection budget).
   */
  poolSize?: number;
}

export async function runEngineScenario(options: EngineOptions): Promise<ScenarioResult> {
  const { ctx, engine, concurrency } = options;
  const shards = openShards({
    urls: options.shardUrls,
    poolSize: options.poolSize ?? shardPoolSizeDefault,
    posting: { ...postingSettingsDefault, engine },
  });
  const inputs = paymentInputs(ctx, 'merchant');
  const service = {
    shards,
    identity: { sub: 'bench-operator', role: 'operator' as const },
    now: () => new Date(),
    client: { deviceId: null, ip: null, userAgent: null },
    amountMax: amountMinorUnitsMaxDefault,
    holdTtlSeconds: holdTtlSecondsDefault,
    fxQuoteTtlSeconds: fxQuoteTtlSecondsDefault,
    log: log(),
  };
  const run = async (seconds: number): Promise<LoadResult> => {
    const recorder = new Recorder();
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline && recorder.requests < requestsPerRunMax) {
        const t0 = performance.now();
        recorder.requests += 1;
        recorder.units += 1;
        try {
          const result = await createPayment(service, inputs.next());
          if (result.ok) recorder.succeededUnits += 1;
          else recorder.fail(new Error(result.error.kind));
        } catch (error) {
          recorder.fail(error);
        }
        recorder.record(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return recorder.result((performance.now() - started) / 1000);
  };
  try {
    // The engine compiles in this process: warmed up as the scenarios are (adaptive under npm run bench).
    // The warm-up reads the server's counters after each slice, as the window does at its edges.
    const counters = () => mysqlCounters(shards);
    const warmup = await warmUp(ctx, {}, run, counters);
    // The server's counters count from the window's start, after its lead-in.
    const {
      value: load,
      cpuMs,
      conditions,
      started: statusBefore,
    } = await windowAfterLeadIn(ctx, ctx.seconds, run, counters);
    const statusAfter = await counters();
    if (load.succeededUnits === 0)
      throw new Error(`d-engine-${engine}: nothing succeeded; first errors: ${load.errors.join(' | ')}`);
    const result: ScenarioResult = {
      id: `d-engine-${engine}`,
      title: `hot merchant, createPayment called in process (no HTTP, no GraphQL), ${engine} engine`,
      engine,
      mode: 'closed-loop',
      concurrency,
      offeredPerSecond: null,
      unitsPerRequest: 1,
      unit: 'payment',
      crossShardShare: 0,
      load,
      ...cpuFigures(cpuMs, load),
      mysqlPerUnit: mysqlPerUnit(statusBefore, statusAfter, load.succeededUnits),
      invariants: ctx.shards ? await checkInvariants(ctx.shards) : null,
      warmup,
      ...conditions,
    };
    ctx.log(
      `${result.id}: ${load.unitsPerSecond} payments/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, failed ${load.failedUnits}; ` +
        `CPU ms/payment (the engine runs in "bench"): ${Object.entries(result.cpuMsPerUnit)
          .map(([n, ms]) => `${n} ${ms}`)
          .join(', ')}`,
    );
    return result;
  } finally {
    await shards.close();
  }
}
