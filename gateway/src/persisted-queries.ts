import type { Redis, Result } from 'ioredis';
import type { PersistedQueryOptions } from '@apollo/server';
import { closeRedis, connectRedis } from '@paygraph/shared/events/redis-pubsub';
import { log } from '@paygraph/shared/log';
import { documentBytesMax, persistedQueriesMax, persistedQueryTtlSeconds, redisCommandTimeoutMs } from './limits';

/**
 * Where automatic persisted queries live. With REDIS_URL every gateway replica reads and writes
 * the same documents, so a hash registered through one is known to the next (without it each
 * replica kept its own, and a client's hash missed on every other replica). Without Redis, Apollo
 * Server's own bounded in-memory cache keeps them, per process.
 *
 * Apollo Server's `persistedQueries.cache` takes any implementation of its KeyValueCache
 * interface (get, set with a TTL, delete), which this is, over ioredis. Bounded: at most
 * persistedQueriesMax documents (a sorted set indexes them by registration time; one Lua script
 * sets a document and drops the oldest past the bound, atomically), each of at most
 * documentBytesMax bytes (the gateway refuses longer texts before they could be registered), each
 * expiring persistedQueryTtlSeconds after its last registration.
 * Redis away or slow (redisCommandTimeoutMs): a lookup misses (the client sends its text again,
 * which is then served) and a registration is dropped; one log line per outage.
 */
export type PersistedQueryCache = NonNullable<PersistedQueryOptions['cache']>;

export interface PersistedQueries {
  /** What ApolloServer's `persistedQueries` option gets. */
  options: PersistedQueryOptions;
  close(): Promise<void>;
}

/**
 * The prefix of the persisted queries' Redis keys; the braces keep a document and the index in one Redis Cluster slot.
 */
export const persistedQueryKeyPrefixDefault = '{paygraph:apq}';

/**
 * KEYS[1]: the document's key, KEYS[2]: the index (sorted by registration time).
 * ARGV: the text, its TTL in seconds, the most documents kept, the time now in ms.
 */
const setScript = `
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[2]) * 1000)
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  redis.call('DEL', unpack(oldest))
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`;

export interface RedisPersistedQueryOptions {
  url: string;
  keyPrefix?: string;
  entriesMax?: number;
  ttlSeconds?: number;
}

export class RedisPersistedQueryCache implements PersistedQueryCache {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly entriesMax: number;
  private readonly ttlSeconds: number;
  private redisDown = false;

  constructor(options: RedisPersistedQueryOptions) {
    this.keyPrefix = options.keyPrefix ?? persistedQueryKeyPrefixDefault;
    this.entriesMax = options.entriesMax ?? persistedQueriesMax;
    this.ttlSeconds = options.ttlSeconds ?? persistedQueryTtlSeconds;
    // A lookup waits at most redisCommandTimeoutMs; while Redis is away, not at all.
    this.redis = connectRedis(options.url, 'persisted queries', { commandTimeout: redisCommandTimeoutMs });
    this.redis.defineCommand('paygraphPersistedQuerySet', { numberOfKeys: 2, lua: setScript });
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const value = await this.redis.get(this.keyOf(key));
      this.answered();
      return value ?? undefined;
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /** Apollo Server passes its `ttl` option (seconds); this cache's own TTL is the most it keeps a document. */
  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    if (Buffer.byteLength(value, 'utf8') > documentBytesMax) return;
    const ttlSeconds = Math.max(1, Math.min(options?.ttl ?? this.ttlSeconds, this.ttlSeconds));
    try {
      await this.redis.paygraphPersistedQuerySet(
        this.keyOf(key),
        this.indexKey(),
        value,
        String(ttlSeconds),
        String(this.entriesMax),
        String(Date.now()),
      );
      this.answered();
    } catch (error) {
      this.failed(error);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      const removed = await this.redis.multi().del(this.keyOf(key)).zrem(this.indexKey(), this.keyOf(key)).exec();
      this.answered();
      return removed?.[0]?.[1] === 1;
    } catch (error) {
      this.failed(error);
      return false;
    }
  }

  /**
   * Settles once the connection to Redis is up (true), or after timeoutMs without it (false); until then lookups miss.
   */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  /** Documents the index holds now (expired ones are dropped at the next registration). */
  async size(): Promise<number> {
    return this.redis.zcard(this.indexKey());
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }

  private keyOf(key: string): string {
    return `${this.keyPrefix}:${key}`;
  }

  private indexKey(): string {
    return `${this.keyPrefix}:index`;
  }

  private answered(): void {
    if (!this.redisDown) return;
    this.redisDown = false;
    log().warn('persisted queries: Redis answers again; replicas share persisted queries again');
  }

  private failed(error: unknown): void {
    if (this.redisDown) return;
    this.redisDown = true;
    log().warn(
      `persisted queries: Redis is not answering (${error instanceof Error ? error.message : String(error)}); lookups miss until it does, and clients send their texts again`,
    );
  }
}

/** Redis's shared cache when a URL is given; Apollo Server's bounded in-memory cache otherwise. */
export function persistedQueries(redisUrl: string | null, keyPrefix?: string): PersistedQueries {
  if (redisUrl === null) return { options: { ttl: persistedQueryTtlSeconds }, close: async () => {} };
  const cache = new RedisPersistedQueryCache({ url: redisUrl, ...(keyPrefix === undefined ? {} : { keyPrefix }) });
  return { options: { cache, ttl: persistedQueryTtlSeconds }, close: () => cache.close() };
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** setScript, defined on each persisted-query client with defineCommand. */
    paygraphPersistedQuerySet(
      key: string,
      indexKey: string,
      value: string,
      ttlSeconds: string,
      entriesMax: string,
      nowMs: string,
    ): Result<unknown, Context>;
  }
}
