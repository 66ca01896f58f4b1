import { describe, expect, it } from 'vitest';
import { describeVerdict, judgeMemory, type RssSample } from '../scripts/bench/soak';
import { soakFloorWindowSeconds, soakRssToleranceShare } from '../scripts/bench/limits';

/**
 * The soak's memory verdict (scripts/bench/soak.ts): per process, the lowest RSS sample of each
 * minute after the warm-up must stay within ±10% of the first minute's. A sawtooth passes however
 * wide it swings; a floor that climbs fails.
 */
const warmupSeconds = 60;
const measuredSeconds = 300;
const everySeconds = 5;

/** Samples every 5 s from the start of the warm-up to the end, RSS as a function of time. */
function samplesOf(rssAt: (atSeconds: number) => number): RssSample[] {
  const samples: RssSample[] = [];
  for (let at = 0; at <= warmupSeconds + measuredSeconds; at += everySeconds)
    samples.push({ atSeconds: at, rssMiB: rssAt(at) });
  return samples;
}

/** V8's sawtooth: the heap climbs for 40 s from `floor` to 1.5 × floor, then a collection drops it. */
const sawtooth = (floor: number) => (at: number) => floor * (1 + 0.5 * ((at % 40) / 40));

describe('soak memory verdict', () => {
  it('judges a wide sawtooth around a steady floor flat, one floor per full minute after the warm-up', () => {
    const verdict = judgeMemory(samplesOf(sawtooth(200)), warmupSeconds, measuredSeconds);
    expect(verdict.floorsMiB).toEqual([200, 200, 200, 200, 200]);
    expect(verdict.flat).toBe(true);
    expect(verdict.floorRangeShares).toEqual({ min: 0, max: 0 });
    // Single samples swing far past ±10%; they are reported, and do not decide.
    expect(verdict.sampleRangeShares!.max).toBeGreaterThan(soakRssToleranceShare);
    expect(describeVerdict('gateway', verdict)).toMatch(
      /^gateway RSS per-minute floors 200, 200, 200, 200, 200 MiB .*: flat$/,
    );
  });

  it('judges a floor that climbs past 10% not flat', () => {
    // +4% a minute: the fifth minute's floor is ~16% above the first's.
    const leak = (at: number) =>
      sawtooth(200)(at) + (200 * 0.04 * Math.max(0, at - warmupSeconds)) / soakFloorWindowSeconds;
    const verdict = judgeMemory(samplesOf(leak), warmupSeconds, measuredSeconds);
    expect(verdict.floorsMiB).toHaveLength(5);
    expect(verdict.floorRangeShares!.max).toBeGreaterThan(soakRssToleranceShare);
    expect(verdict.flat).toBe(false);
    expect(describeVerdict('account', verdict)).toMatch(/NOT flat$/);
  });

  it('ignores the warm-up and a last window the run did not cover to its end', () => {
    // High during the warm-up (start-up, JIT) and a single low sample at the very end.
    const samples = samplesOf((at) => (at < warmupSeconds ? 900 : 300));
    samples.push({ atSeconds: warmupSeconds + measuredSeconds + 1, rssMiB: 10 });
    const verdict = judgeMemory(samples, warmupSeconds, measuredSeconds);
    expect(verdict.floorsMiB).toEqual([300, 300, 300, 300, 300]);
    expect(verdict.flat).toBe(true);
  });

  it('does not judge fewer than two full minutes', () => {
    const verdict = judgeMemory(samplesOf(sawtooth(100)), warmupSeconds, 90);
    expect(verdict.floorsMiB).toEqual([100]);
    expect(verdict.flat).toBeNull();
  });
});
