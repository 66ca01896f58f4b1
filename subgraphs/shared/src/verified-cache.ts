import { verifiedTokenCacheEntriesMax, verifiedTokenCacheMs } from './limits';

/**
 * Tokens already verified, by their exact text, so that a caller sending the same token on
 * every request costs one signature check per verifiedTokenCacheMs instead of one per request
 * (HMAC and RSA checks were a tenth of the gateway's CPU per payment, docs/PERFORMANCE.md). Only
 * successes are kept, never past the token's own exp, and never longer than
 * verifiedTokenCacheMs, which bounds how long a key withdrawn from the JWKS keeps working.
 * Bounded: when full, the oldest entry goes.
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; validUntilMs: number }>();

  get(token: string, nowMs: number = Date.now()): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.validUntilMs > nowMs) return entry.value;
    this.entries.delete(token);
    return undefined;
  }

  /** expiresAt: the token's exp, in seconds since the epoch. */
  set(token: string, value: T, expiresAt: number, nowMs: number = Date.now()): void {
    const validUntilMs = Math.min(expiresAt * 1000, nowMs + verifiedTokenCacheMs);
    if (validUntilMs <= nowMs) return;
    if (this.entries.size >= verifiedTokenCacheEntriesMax) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { value, validUntilMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

/** One cache per verifier configuration: a token checked against one secret says nothing about another. */
export function cacheFor<K extends object, T>(caches: WeakMap<K, VerifiedTokenCache<T>>, key: K): VerifiedTokenCache<T> {
  let cache = caches.get(key);
  if (!cache) {
    cache = new VerifiedTokenCache<T>();
    caches.set(key, cache);
  }
  return cache;
}
