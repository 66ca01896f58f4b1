import { LRUCache } from 'lru-cache';
import { verifiedTokenCacheEntriesMax, verifiedTokenCacheMs } from './limits';

/**
 * Tokens already verified, by their exact text, so that a caller sending the same token on
 * every request costs one signature check per verifiedTokenCacheMs instead of one per request
 * (HMAC and RSA checks were a tenth of the gateway's CPU per payment, docs/PERFORMANCE.md). Only
 * successes are kept, never past the token's own exp, and never longer than
 * verifiedTokenCacheMs, which bounds how long a key withdrawn from the JWKS keeps working.
 * Bounded (lru-cache): when full, the least recently used entry goes.
 */
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(): an entry's end is the token's exp. */
  now(): number;
}

export class VerifiedTokenCache<T extends NonNullable<unknown>> {
  private readonly entries: LRUCache<string, T>;

  constructor(
    private readonly clock: Clock = Date,
    entriesMax: number = verifiedTokenCacheEntriesMax,
  ) {
    // ttlResolution 0: the clock is read at every check, not reused for a millisecond, so an
    // entry is never served past its end (and tests may move the clock).
    this.entries = new LRUCache<string, T>({ max: entriesMax, ttlResolution: 0, perf: clock });
  }

  get(token: string): T | undefined {
    return this.entries.get(token);
  }

  /**
   * expiresAt: the token's exp, in seconds since the epoch. untilExp: kept until then, not verifiedTokenCacheMs at most
   * (identity.ts verifiedOnce: a record that a token verified, never believed in place of a verification).
   */
  set(token: string, value: T, expiresAt: number, options: { untilExp?: boolean } = {}): void {
    const nowMs = this.clock.now();
    const end = options.untilExp === true ? expiresAt * 1000 : Math.min(expiresAt * 1000, nowMs + verifiedTokenCacheMs);
    // lru-cache calls an entry stale once more than `ttl` has passed; valid means before its end.
    const ttl = end - nowMs - 1;
    if (ttl <= 0) return;
    this.entries.set(token, value, { ttl });
  }

  get size(): number {
    return this.entries.size;
  }
}

/** One cache per verifier configuration: a token checked against one secret says nothing about another. */
export function cacheFor<K extends object, T extends NonNullable<unknown>>(
  caches: WeakMap<K, VerifiedTokenCache<T>>,
  key: K,
  entriesMax: number = verifiedTokenCacheEntriesMax,
): VerifiedTokenCache<T> {
  let cache = caches.get(key);
  if (!cache) {
    cache = new VerifiedTokenCache<T>(Date, entriesMax);
    caches.set(key, cache);
  }
  return cache;
}
