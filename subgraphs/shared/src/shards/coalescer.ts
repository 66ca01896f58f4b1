import type { Shard } from './pool';
import { assert } from '../result';
import { loaderBatchSizeMax } from '../limits';

/**
 * Joins the same kind of statement from concurrent requests into one per shard: every call
 * made for a shard while the event loop finishes its current turn goes out together (up to
 * loaderBatchSizeMax keys a statement). Used on the payment path for the unlocked account reads
 * and the idempotency claims, which every payment makes and which need no transaction: a
 * hundred payments in flight then cost a few such statements instead of a hundred. Each caller
 * still gets its own answer, and applies its own authorization to it.
 */
export class Coalescer<K, V> {
  private readonly pending = new Map<Shard, Array<{ key: K; resolve: (v: V) => void; reject: (e: unknown) => void }>>();
  private scheduled = false;

  /** run answers one value per key, in the keys' order. */
  constructor(private readonly run: (shard: Shard, keys: K[]) => Promise<V[]>) {}

  load(shard: Shard, key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const list = this.pending.get(shard);
      if (list) list.push({ key, resolve, reject });
      else this.pending.set(shard, [{ key, resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [shard, waiting] of batches) {
      for (let i = 0; i < waiting.length; i += loaderBatchSizeMax) void this.send(shard, waiting.slice(i, i + loaderBatchSizeMax));
    }
  }

  private async send(shard: Shard, waiting: Array<{ key: K; resolve: (v: V) => void; reject: (e: unknown) => void }>): Promise<void> {
    try {
      const values = await this.run(shard, waiting.map((w) => w.key));
      assert(values.length === waiting.length, `coalesced statement answered ${values.length} of ${waiting.length}`);
      waiting.forEach((w, i) => w.resolve(values[i]!));
    } catch (error) {
      for (const w of waiting) w.reject(error);
    }
  }
}
