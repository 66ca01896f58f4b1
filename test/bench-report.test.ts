import { describe, it, expect } from 'vitest';
import { allCpuMsPerUnit, ceilingRatios, resultsTable } from '../scripts/bench/report';
import type { ScenarioResult } from '../scripts/bench/scenarios';

/**
 * The benchmark's table prints each scenario's CPU per unit over all its processes and that sum
 * divided by e-raw-1's (the payment's SQL alone), so the distance to the ceiling is read, not
 * computed by hand; the machine's other processes ("other") are not the scenario's.
 */
function scenario(id: string, cpuMsPerUnit: Record<string, number>): ScenarioResult {
  return {
    id,
    engine: '-',
    mode: 'closed-loop',
    concurrency: 4,
    offeredPerSecond: null,
    unitsPerRequest: 1,
    cpuMsPerUnit,
    mysqlPerUnit: null,
    otherCpuShare: 0.1,
    load: { unitsPerSecond: 100, latencyMs: { p50: 1, p99: 2 }, failedUnits: 0, shedRequests: 0 },
  } as unknown as ScenarioResult;
}

describe('the results table', () => {
  it("sums the CPU of the benchmark's processes per unit and sets it against e-raw-1's", () => {
    const raw = scenario('e-raw-1', { mysql: 0.3, bench: 0.2, other: 9 });
    const read = scenario('f-gateway', { gateway: 1, account: 1.5, mysql: 0.5, bench: 0.5, other: 40 });
    expect(allCpuMsPerUnit(raw)).toBeCloseTo(0.5);
    expect(allCpuMsPerUnit(read)).toBeCloseTo(3.5);
    expect(ceilingRatios([read, raw]).get('f-gateway')).toBeCloseTo(7);
    const table = resultsTable([read, raw]);
    expect(table).toContain('| all CPU ms/op | ÷ e-raw-1 |');
    expect(table).toContain('| 3.500 | 7.00× |');
    expect(ceilingRatios([read]).get('f-gateway')).toBeNull();
  });
});
