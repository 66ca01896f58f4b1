import { describe, expect, it } from 'vitest';
import { busyEndpointIds } from '../../src/domain/busy-endpoints';
import { busyEndpointsListedMax, endpointConcurrencyMax } from '../../src/limits';

/**
 * The endpoints a claim skips (review finding 5): each once, endpoints at their bound first, and the list bounded for
 * SQL.
 */
describe('busyEndpointIds', () => {
  const enabled = (owners: number, perOwner: number) =>
    Array.from({ length: owners * perOwner }, (_, i) => ({ id: `e${i}`, ownerId: `o${i % owners}` }));

  it('lists endpoints at their bound and every endpoint of a full owner, each once', () => {
    const inFlight = new Map([
      ['e0', endpointConcurrencyMax],
      ['e1', 1],
      ['e9', endpointConcurrencyMax],
    ]);
    const ids = busyEndpointIds(
      inFlight,
      endpointConcurrencyMax,
      new Set(['o0']),
      enabled(3, 3),
      busyEndpointsListedMax,
    );
    // o0's endpoints are e0, e3, e6; e9 is not enabled (say, just disabled) but at its bound.
    expect(ids).toEqual(['e0', 'e9', 'e3', 'e6']);
    expect(busyEndpointIds(inFlight, endpointConcurrencyMax, new Set(), enabled(3, 3), busyEndpointsListedMax)).toEqual(
      ['e0', 'e9'],
    );
  });

  it("keeps the list for the statements' NOT IN bounded however many owners are full, endpoints at their bound first", () => {
    const owners = 2_000;
    const all = enabled(owners, 5);
    const inFlight = new Map([[`e${all.length - 1}`, endpointConcurrencyMax]]);
    const full = new Set(Array.from({ length: owners }, (_, i) => `o${i}`));
    const ids = busyEndpointIds(inFlight, endpointConcurrencyMax, full, all, busyEndpointsListedMax);
    expect(ids).toHaveLength(busyEndpointsListedMax);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe(`e${all.length - 1}`);
  });
});
