import type { Shard } from './pool';
import { invariantBroken } from '../result';
import { loaderBatchSizeMax, coalescerInFlightPerShardMax, coalescerWaitingPerShardMax } from '../limits';
import { ShardUnavailable } from './unavailable';
import { callerContext, inBatchSpan, type TracedCaller } from '../tracing';

interface Waiting<K, V> extends TracedCaller {
  key: K;
  resolve: (v: V) => void;
  reject: (e: unknown) => void;
}

interface ShardQueue<K, V> {
  waiting: Array<Waiting<K, V>>;
  inFlight: number;
  scheduled: boolean;
}

/**
 * Joins the same kind of statement from concurrent requests into one per shard. A call goes out
 * at the end of the event loop's current turn, together with every other call made for that
 * shard in that turn; while a statement is out, new calls wait for it and then go out together
 * (up to loaderBatchSizeMax keys a statement). So a lone request waits for nothing, and under
 * load the statements grow instead of multiplying — the merged batcher's rule. Used on the
 * payment path for the unlocked account reads and the idempotency claims, which every payment
 * makes and which need no transaction. Each caller still gets its own answer, and applies its
 * own authorization to it. At most waitingMax calls (coalescerWaitingPerShardMax) wait per shard:
 * one more is refused at once with ShardUnavailable (SHARD_UNAVAILABLE, retryable), before
 * anything is sent for it.
 */
export class Coalescer<K, V> {
  private readonly queues = new Map<Shard, ShardQueue<K, V>>();

  /**
   * run answers one value per key, in the keys' order. `name` says what the statement does, in
   * traces (a coalesced statement serves several requests: tracing.ts inBatchSpan).
   */
  constructor(
    private readonly name: string,
    private readonly run: (shard: Shard, keys: K[]) => Promise<V[]>,
    private readonly waitingMax: number = coalescerWaitingPerShardMax,
  ) {}

  load(shard: Shard, key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const queue = this.queueOf(shard);
      if (queue.waiting.length >= this.waitingMax) {
        reject(new ShardUnavailable(shard.name, `${this.name}: ${queue.waiting.length} calls already wait`));
        return;
      }
      queue.waiting.push({ key, resolve, reject, context: callerContext() });
      this.schedule(shard, queue);
    });
  }

  private queueOf(shard: Shard): ShardQueue<K, V> {
    let queue = this.queues.get(shard);
    if (!queue) {
      queue = { waiting: [], inFlight: 0, scheduled: false };
      this.queues.set(shard, queue);
    }
    return queue;
  }

  private schedule(shard: Shard, queue: ShardQueue<K, V>): void {
    if (queue.scheduled || queue.inFlight >= coalescerInFlightPerShardMax) return;
    queue.scheduled = true;
    setImmediate(() => {
      queue.scheduled = false;
      this.flush(shard, queue);
    });
  }

  private flush(shard: Shard, queue: ShardQueue<K, V>): void {
    const batch = queue.waiting.splice(0, loaderBatchSizeMax);
    if (batch.length === 0) return;
    queue.inFlight += 1;
    void this.send(shard, batch).finally(() => {
      queue.inFlight -= 1;
      if (queue.waiting.length > 0) this.schedule(shard, queue);
    });
    if (queue.waiting.length > 0) this.schedule(shard, queue);
  }

  private async send(shard: Shard, waiting: Array<Waiting<K, V>>): Promise<void> {
    try {
      const values = await inBatchSpan(this.name, shard.name, waiting, () => this.run(shard, keysOf(waiting)));
      if (values.length !== waiting.length) {
        invariantBroken(`coalesced statement answered ${values.length} of ${waiting.length}`);
      }
      for (let i = 0; i < waiting.length; i++) waiting[i]!.resolve(values[i]!);
    } catch (error) {
      for (const w of waiting) w.reject(error);
    }
  }
}

/**
 * The keys of a batch, in order. Loops, not callbacks (here and in send): a closure made per call is compiled again
 * after each major GC (docs/PERFORMANCE.md).
 */
function keysOf<K, V>(waiting: ReadonlyArray<Waiting<K, V>>): K[] {
  const keys: K[] = [];
  for (const w of waiting) keys.push(w.key);
  return keys;
}
