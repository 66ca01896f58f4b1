import { LRUCache } from 'lru-cache';

/** How much a PerReaderCache holds: per reader, in all, and of one value. */
export interface PerReaderBounds {
  answersPerReader: number;
  bytesPerReader: number;
  bytes: number;
  bytesOfOne: number;
}

/**
 * Values kept per reader (one tenant) within bytes: each reader holds at most answersPerReader values and
 * bytesPerReader bytes (its own LRU), all readers together bytes (an LRU of readers sized by their values' bytes, so
 * the reader least recently served loses everything first), and a value larger than bytesOfOne is not kept. The
 * account subgraph's rendered answers and the gateway's copies of them (docs/PERFORMANCE.md) are kept so.
 */
export class PerReaderCache<V extends object> {
  private readonly readers: LRUCache<string, { values: LRUCache<string, V> }>;

  constructor(
    private readonly bounds: PerReaderBounds,
    private readonly bytesOf: (value: V) => number,
  ) {
    if (!(bounds.bytesOfOne <= bounds.bytesPerReader && bounds.bytesPerReader <= bounds.bytes))
      throw new RangeError('per-reader bounds: one value ≤ a reader’s bytes ≤ all bytes');
    this.readers = new LRUCache({
      // eslint-disable-next-line @typescript-eslint/naming-convention -- lru-cache's option, not ours to name
      maxSize: bounds.bytes,
      sizeCalculation: ({ values }) => Math.max(1, values.calculatedSize),
    });
  }

  get(reader: string, key: string): V | undefined {
    return this.readers.get(reader)?.values.get(key);
  }

  /** Keeps the value unless it is larger than one may be; whether it was kept. */
  set(reader: string, key: string, value: V): boolean {
    if (this.bytesOf(value) > this.bounds.bytesOfOne) return false;
    const values =
      this.readers.get(reader)?.values ??
      new LRUCache<string, V>({
        max: this.bounds.answersPerReader,
        // eslint-disable-next-line @typescript-eslint/naming-convention -- lru-cache's option, not ours to name
        maxSize: this.bounds.bytesPerReader,
        sizeCalculation: (kept) => Math.max(1, this.bytesOf(kept)),
      });
    values.set(key, value);
    // A new wrapper each time: lru-cache recounts an entry's size only when its value changes.
    this.readers.set(reader, { values });
    return true;
  }

  /** Bytes held in all. */
  bytes(): number {
    return this.readers.calculatedSize;
  }
}
