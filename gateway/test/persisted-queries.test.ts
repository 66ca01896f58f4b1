import { describe, it, expect, afterAll } from 'vitest';
import { Redis } from 'ioredis';
import { testRedisUrl, unique } from '../../test/support/env';
import { RedisPersistedQueryCache } from '../src/persisted-queries';
import { documentBytesMax } from '../src/limits';

/**
 * The Redis cache behind automatic persisted queries (Apollo Server's KeyValueCache interface):
 * what one instance writes another reads, it holds at most its bound (the oldest go first), every
 * document expires, and an oversized text is never stored. Each test has its own key prefix.
 */
const caches: RedisPersistedQueryCache[] = [];
/** A cache of its own, once its connection is up (before that every lookup misses, by design). */
async function cache(
  keyPrefix: string,
  options: { entriesMax?: number; ttlSeconds?: number } = {},
): Promise<RedisPersistedQueryCache> {
  const made = new RedisPersistedQueryCache({ url: testRedisUrl(), keyPrefix, ...options });
  caches.push(made);
  // Generous for a loaded 2-core machine: a local Redis connects in milliseconds.
  expect(await made.ready(10_000)).toBe(true);
  return made;
}

afterAll(async () => {
  for (const made of caches) await made.close();
});

describe('the Redis persisted-query cache', () => {
  it('is shared: what one client sets another gets; delete removes it', async () => {
    const prefix = `{${unique('apq-test')}}`;
    const [one, other] = [await cache(prefix), await cache(prefix)];
    await one.set('h1', 'query A { a }');
    expect(await other.get('h1')).toBe('query A { a }');
    expect(await other.get('h2')).toBeUndefined();
    expect(await other.delete('h1')).toBe(true);
    expect(await one.get('h1')).toBeUndefined();
  });

  it('keeps at most entriesMax documents, dropping the oldest', async () => {
    const bounded = await cache(`{${unique('apq-test')}}`, { entriesMax: 3 });
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5']) await bounded.set(key, `query ${key} { a }`);
    expect(await bounded.size()).toBe(3);
    expect(await bounded.get('k1')).toBeUndefined();
    expect(await bounded.get('k2')).toBeUndefined();
    expect(await bounded.get('k5')).toBe('query k5 { a }');
  });

  it('gives every document a TTL, at most its own even when Apollo Server asks for longer', async () => {
    const prefix = `{${unique('apq-test')}}`;
    const short = await cache(prefix, { ttlSeconds: 60 });
    await short.set('t1', 'query T { a }', { ttl: 86_400 });
    const raw = new Redis(testRedisUrl());
    try {
      const ttl = await raw.ttl(`${prefix}:t1`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
    } finally {
      raw.disconnect();
    }
  });

  it('never stores a text longer than the gateway accepts', async () => {
    const limited = await cache(`{${unique('apq-test')}}`);
    await limited.set('big', `query { a } ${'#'.repeat(documentBytesMax)}`);
    expect(await limited.get('big')).toBeUndefined();
    expect(await limited.size()).toBe(0);
  });
});
