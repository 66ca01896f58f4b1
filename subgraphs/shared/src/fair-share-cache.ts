/**
 * A bounded cache shared by many callers, where one caller's flood cannot evict the others'
 * entries. An LRU of entriesMax shared by all (what the FX quote terms cache was) lets one
 * caller who adds entriesMax entries push out every other caller's; a fixed share per caller
 * would leave a lone busy caller (the benchmark, one back office) a fraction of the bound.
 * Here a caller may use the whole bound while nobody else needs it, and when the bound is
 * reached an insert evicts the oldest entry of the caller holding the most (the inserting caller
 * itself when it is one of those). So a flooding caller evicts its own entries once it holds as
 * many as anyone, and a caller holding no more than another is never evicted by that other's
 * inserts: with n callers, each keeps at least entriesMax / n. The number of callers is bounded
 * too, since each holds at least one entry. No library offers this (lru-cache evicts by recency
 * alone); every operation is O(1): callers are kept in buckets by their entry count.
 */
export class FairShareCache<V> {
  /** Each caller's entries, oldest first (a Map keeps insertion order). */
  private readonly byCaller = new Map<string, Map<string, V>>();
  /** Callers by how many entries they hold, for finding the largest at once. */
  private readonly callersHolding = new Map<number, Set<string>>();
  private largest = 0;
  private total = 0;
  private evicted = 0;

  constructor(readonly entriesMax: number) {
    if (!Number.isSafeInteger(entriesMax) || entriesMax < 1)
      throw new RangeError(`entriesMax must be a positive integer, got ${entriesMax}`);
  }

  get(caller: string, key: string): V | undefined {
    return this.byCaller.get(caller)?.get(key);
  }

  set(caller: string, key: string, value: V): void {
    const entries = this.byCaller.get(caller);
    if (entries?.has(key)) {
      entries.set(key, value);
      return;
    }
    if (this.total >= this.entriesMax) this.evictFor(caller);
    const own = this.byCaller.get(caller) ?? new Map<string, V>();
    this.byCaller.set(caller, own);
    this.move(caller, own.size, own.size + 1);
    own.set(key, value);
    this.total++;
  }

  delete(caller: string, key: string): void {
    const entries = this.byCaller.get(caller);
    if (!entries?.delete(key)) return;
    this.total--;
    this.move(caller, entries.size + 1, entries.size);
    if (entries.size === 0) this.byCaller.delete(caller);
  }

  /** Entries held in all, and by one caller. */
  size(caller?: string): number {
    return caller === undefined ? this.total : (this.byCaller.get(caller)?.size ?? 0);
  }

  /** Callers holding entries now. */
  callers(): number {
    return this.byCaller.size;
  }

  /** Entries evicted for room since the cache was made. */
  evictions(): number {
    return this.evicted;
  }

  /**
   * Makes room for one entry of `caller`: the oldest entry of a largest holder goes, the caller's own when it is one.
   */
  private evictFor(caller: string): void {
    const largest = this.callersHolding.get(this.largest)!;
    const victim = largest.has(caller) ? caller : largest.values().next().value!;
    const oldest = this.byCaller.get(victim)!.keys().next().value!;
    this.delete(victim, oldest);
    this.evicted++;
  }

  private move(caller: string, from: number, to: number): void {
    if (from > 0) {
      const bucket = this.callersHolding.get(from)!;
      bucket.delete(caller);
      if (bucket.size === 0) {
        this.callersHolding.delete(from);
        if (this.largest === from && to < from) this.largest = to;
      }
    }
    if (to > 0) {
      const bucket = this.callersHolding.get(to) ?? new Set<string>();
      this.callersHolding.set(to, bucket);
      bucket.add(caller);
    }
    if (to > this.largest) this.largest = to;
  }
}
