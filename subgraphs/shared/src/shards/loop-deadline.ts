import { assert } from '../result';
import { loopDeadlineTickMs, loopDeadlineTickCountedMsMax } from '../limits';

export interface LoopDeadline {
  /** Rejects with the error once limitMs of the process's own listening time have passed. */
  readonly expired: Promise<never>;
  cancel(): void;
}

/**
 * A deadline that counts only time this process was free to read an answer. A plain timer
 * counts a stretch of synchronous work too, and fires before the answer that arrived meanwhile
 * is read (Node runs expired timers before polling I/O): a 3.5 s stall of a CI test process
 * (a 1,000-posting batch) failed a probe the shard had answered in milliseconds, and opened its
 * breaker. Each tick counts at most two ticks' worth, and the rejection waits for one more poll
 * of I/O (setImmediate), so an answer that is already here wins.
 */
export function loopDeadline(limitMs: number, error: () => Error): LoopDeadline {
  assert(limitMs > 0, `a loop deadline needs a positive limit, not ${limitMs}`);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    let counted = 0;
    let last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      counted += Math.min(now - last, loopDeadlineTickCountedMsMax);
      last = now;
      if (counted < limitMs) return;
      clearInterval(timer);
      setImmediate(() => reject(error()));
    }, loopDeadlineTickMs);
    timer.unref();
  });
  // Raced by its callers; one that settled first leaves nobody to hear a later rejection.
  expired.catch(() => {});
  return { expired, cancel: () => clearInterval(timer) };
}
