import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { rateLimitCountersMax, rateLimitKeyCharsMax, rateLimitWindowMs, redisCommandTimeoutMs } from '../limits';
import type { Redis, Result } from 'ioredis';
import { closeRedis, connectRedis } from '@paygraph/shared/events/redis-pubsub';
import { log } from '@paygraph/shared/log';

/**
 * Budgets per principal over a sliding window: the count of the current fixed window plus the
 * previous window's count weighted by how much of it still overlaps the last windowMs. That is
 * the usual sliding-window counter: two numbers per budget, no burst of twice the budget at a
 * window's edge, and an exact answer to "when will this request fit" (Retry-After).
 *
 * Refused requests take nothing from the budget, so a client that waits as told gets through.
 * With Redis the budgets are shared by every gateway process (one Lua script decides and
 * counts atomically, sent with EVALSHA through ioredis's defineCommand); without it, or while
 * Redis does not answer within redisCommandTimeoutMs, each process keeps its own.
 */
export type Bucket = 'money' | 'other';

export interface Charge {
  bucket: Bucket;
  weight: number;
  /** The budget per window for this principal and bucket. */
  limit: number;
}

export type Decision =
  | { allowed: true }
  /** retryAfterMs is null when the request alone weighs more than the whole budget. */
  | { allowed: false; bucket: Bucket; retryAfterMs: number | null };

export interface RateLimiter {
  take(principal: string, charges: readonly Charge[], nowMs?: number): Promise<Decision>;
  close(): Promise<void>;
}

export type Fit = { fits: true } | { fits: false; retryAfterMs: number | null };

/**
 * Whether `weight` more fits, given the previous and current windows' counts and how far into
 * the current window `fraction` (0..1) is; when not, how long until it would.
 */
export function slidingWindowFit(
  previous: number,
  current: number,
  fraction: number,
  weight: number,
  limit: number,
  windowMs: number,
): Fit {
  if (previous * (1 - fraction) + current + weight <= limit) return { fits: true };
  if (weight > limit) return { fits: false, retryAfterMs: null };
  // Within this window: the previous window's share shrinks until it leaves room.
  if (current + weight <= limit)
    return { fits: false, retryAfterMs: Math.ceil((1 - (limit - current - weight) / previous - fraction) * windowMs) };
  // In the next window, this window's count is the one that shrinks.
  const into = current > 0 ? 1 - (limit - weight) / current : 0;
  return { fits: false, retryAfterMs: Math.ceil((1 - fraction + into) * windowMs) };
}

interface Counter {
  window: number;
  current: number;
  previous: number;
}

/** One process's budgets, in an lru-cache bounded to countersMax (least recently used forgotten first). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly counters: LRUCache<string, Counter>;

  constructor(
    private readonly windowMs: number = rateLimitWindowMs,
    countersMax: number = rateLimitCountersMax,
  ) {
    this.counters = new LRUCache({ max: countersMax });
  }

  async take(principal: string, charges: readonly Charge[], nowMs: number = Date.now()): Promise<Decision> {
    return this.takeNow(principal, charges, nowMs);
  }

  /** Synchronous, so that checking every bucket and counting them is one step. */
  takeNow(principal: string, charges: readonly Charge[], nowMs: number): Decision {
    const window = Math.floor(nowMs / this.windowMs);
    const fraction = (nowMs % this.windowMs) / this.windowMs;
    const counters = charges.map((charge) => this.counter(`${charge.bucket}\u0000${principal}`, window));
    for (const [i, charge] of charges.entries()) {
      const counter = counters[i]!;
      const fit = slidingWindowFit(
        counter.previous,
        counter.current,
        fraction,
        charge.weight,
        charge.limit,
        this.windowMs,
      );
      if (!fit.fits) return { allowed: false, bucket: charge.bucket, retryAfterMs: fit.retryAfterMs };
    }
    charges.forEach((charge, i) => {
      counters[i]!.current += charge.weight;
    });
    return { allowed: true };
  }

  /**
   * Whether one more charge would fit the principal's budget now, counting nothing: for a check made before the
   * request's fate is known (security/refusal-throttle.ts). A principal without a counter gets none, so checks alone
   * never push another's counter out of the cache.
   */
  fitsNow(principal: string, charge: Charge, nowMs: number): Fit {
    const window = Math.floor(nowMs / this.windowMs);
    const fraction = (nowMs % this.windowMs) / this.windowMs;
    const kept = this.counters.get(`${charge.bucket}\u0000${principal}`);
    const current = kept?.window === window ? kept.current : 0;
    const previous = kept?.window === window ? kept.previous : kept?.window === window - 1 ? kept.current : 0;
    return slidingWindowFit(previous, current, fraction, charge.weight, charge.limit, this.windowMs);
  }

  private counter(key: string, window: number): Counter {
    // get() makes the counter the most recently used; a full cache forgets the least recently used.
    let counter = this.counters.get(key);
    if (!counter || counter.window !== window) {
      counter = { window, current: 0, previous: counter?.window === window - 1 ? counter.current : 0 };
      this.counters.set(key, counter);
    }
    return counter;
  }

  /** Counters held now, for tests of the bound. */
  size(): number {
    return this.counters.size;
  }

  async close(): Promise<void> {}
}

/**
 * KEYS: per bucket, its current and previous window's key. ARGV: the fraction of the current
 * window gone, the window in ms, then per bucket its weight and limit. Returns {1} when every
 * bucket has room (and counts the request in each), else {0, bucket index, retry ms or -1}.
 * The arithmetic is slidingWindowFit's.
 */
const takeScript = `
local fraction = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local buckets = #KEYS / 2
for i = 1, buckets do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local weight = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  if previous * (1 - fraction) + current + weight > limit then
    if weight > limit then return {0, i, -1} end
    if current + weight <= limit then
      return {0, i, math.ceil((1 - (limit - current - weight) / previous - fraction) * windowMs)}
    end
    local into = 0
    if current > 0 then into = 1 - (limit - weight) / current end
    return {0, i, math.ceil((1 - fraction + into) * windowMs)}
  end
end
for i = 1, buckets do
  redis.call('INCRBY', KEYS[2 * i - 1], ARGV[1 + 2 * i])
  redis.call('PEXPIRE', KEYS[2 * i - 1], 2 * windowMs)
end
return {1}
`;

export interface RedisRateLimiterOptions {
  url: string;
  /** Prefix of every key, so that several systems (or test runs) can share one Redis. */
  keyPrefix: string;
  windowMs?: number;
}

/** Budgets shared through Redis; this process's own budgets decide while Redis does not answer. */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly fallback: MemoryRateLimiter;
  private readonly windowMs: number;
  private redisDown = false;

  constructor(private readonly options: RedisRateLimiterOptions) {
    this.windowMs = options.windowMs ?? rateLimitWindowMs;
    // A decision waits at most redisCommandTimeoutMs for Redis; while it is away, at once.
    this.redis = connectRedis(options.url, 'rate limits', { commandTimeout: redisCommandTimeoutMs });
    // Sent as EVALSHA (EVAL once, when Redis does not know the script yet); the keys are counted per call.
    this.redis.defineCommand('paygraphRateTake', { lua: takeScript });
    this.fallback = new MemoryRateLimiter(this.windowMs);
  }

  async take(principal: string, charges: readonly Charge[], nowMs: number = Date.now()): Promise<Decision> {
    const window = Math.floor(nowMs / this.windowMs);
    const fraction = (nowMs % this.windowMs) / this.windowMs;
    const who =
      principal.length > rateLimitKeyCharsMax ? createHash('sha256').update(principal).digest('hex') : principal;
    const keys = charges.flatMap((c) => [
      `${this.options.keyPrefix}:${c.bucket}:${who}:${window}`,
      `${this.options.keyPrefix}:${c.bucket}:${who}:${window - 1}`,
    ]);
    const args = charges.flatMap((c) => [String(c.weight), String(c.limit)]);
    let reply: unknown;
    try {
      reply = await this.redis.paygraphRateTake(keys.length, ...keys, String(fraction), String(this.windowMs), ...args);
    } catch (error) {
      return this.withoutRedis(principal, charges, nowMs, error instanceof Error ? error.message : String(error));
    }
    if (!Array.isArray(reply)) return this.withoutRedis(principal, charges, nowMs, 'an unexpected reply');
    if (this.redisDown) {
      this.redisDown = false;
      log().warn('rate limits: Redis answers again; budgets are shared again');
    }
    const [allowed, index, retryMs] = reply as unknown[];
    if (allowed === 1) return { allowed: true };
    const charge = charges[Number(index) - 1];
    if (!charge) throw new Error(`the rate-limit script named bucket ${String(index)} of ${charges.length}`);
    return { allowed: false, bucket: charge.bucket, retryAfterMs: retryMs === -1 ? null : Number(retryMs) };
  }

  /** Settles once the connection to Redis is up (true), or after timeoutMs without it (false). */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.redis.once('ready', onReady);
    });
  }

  private withoutRedis(principal: string, charges: readonly Charge[], nowMs: number, why: string): Decision {
    if (!this.redisDown) {
      this.redisDown = true;
      log().warn(`rate limits: Redis is not answering (${why}); each gateway process counts on its own until it does`);
    }
    return this.fallback.takeNow(principal, charges, nowMs);
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** takeScript, defined on each rate-limit client with defineCommand. */
    paygraphRateTake(numberOfKeys: number, ...keysAndArgs: string[]): Result<unknown, Context>;
  }
}
