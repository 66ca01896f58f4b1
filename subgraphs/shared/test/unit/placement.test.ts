import { describe, expect, it } from 'vitest';
import { buildTopology } from '../../src/shards/topology';
import { Placement } from '../../src/shards/placement';
import { seedMap } from '../../src/shards/shard-map';
import { logicalShardCount } from '../../src/limits';

/** A placement without pools: routing only, following a map of two databases. */
function placementOf(): { placement: Placement<{ index: number; name: string }>; seed: ReturnType<typeof seedMap> } {
  const topology = buildTopology('mysql://root@127.0.0.1:3306/p_s0,mysql://root@127.0.0.1:3306/p_s1', undefined);
  const all = topology.urls.map((_, index) => ({ index, name: `s${index}` }));
  const placement = new Placement(topology, all, () => {
    throw new Error('routing only');
  });
  return { placement, seed: seedMap(topology) };
}

const every = Array.from({ length: logicalShardCount }, (_, l) => l);

describe("a new row's logical shard (Placement.openLogical: an account's, an FX quote's)", () => {
  it('is drawn among those the map does not fence: with one left open, that one every time', () => {
    // A move fencing most of them: 64 random draws over all 64 missed the open one about one time in three.
    const { placement, seed } = placementOf();
    const open = 17;
    expect(placement.apply({ ...seed, version: 2, fenced: every.filter((l) => l !== open) })).toBe(true);
    for (let i = 0; i < 500; i++) expect(placement.openLogical()).toBe(open);
  });

  it('is any one when every one is fenced (refused where it is written), and spreads over all when none is', () => {
    const { placement, seed } = placementOf();
    const seen = new Set<number>();
    for (let i = 0; i < 5_000; i++) seen.add(placement.openLogical());
    expect(seen.size).toBe(logicalShardCount);
    expect(placement.apply({ ...seed, version: 2, fenced: every })).toBe(true);
    const drawn = placement.openLogical();
    expect(drawn >= 0 && drawn < logicalShardCount).toBe(true);
  });
});

describe("a logical shard's database, fenced or not (Placement.placedOn: who holds a range's live rows)", () => {
  it("is the map's database whether the map fences the range or not, where shardFor refuses and logicalOn omits it", () => {
    const { placement, seed } = placementOf();
    const [low, high] = [3, logicalShardCount - 3];
    const moved = { ...seed, version: 2, logical: seed.logical.map((d, l) => (l === high ? 0 : d)), fenced: [low] };
    expect(placement.apply(moved)).toBe(true);
    expect(placement.placedOn(low).index).toBe(seed.logical[low]);
    expect(() => placement.shardFor(low)).toThrow();
    expect(placement.logicalOn(placement.all[seed.logical[low]!]!)).not.toContain(low);
    // A range the map moved is placed where it went, not where its copy stays.
    expect(seed.logical[high]).toBe(1);
    expect(placement.placedOn(high).index).toBe(0);
  });
});
