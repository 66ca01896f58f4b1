import { describe, it, expect } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { EntryDraft } from '@paygraph/shared/ledger/index';
import { decodeHints, encodeHints, ledgerHintChannel } from '@paygraph/shared/events/ledger-hints';
import { createRedisPublisher, createRedisSubscriber } from '@paygraph/shared/events/redis-pubsub';
import { redisPingIntervalMs, redisPingTimeoutMs, redisReconnectDelayMs } from '@paygraph/shared/limits';
import { testRedisUrl, unique } from '../../../../test/support/env';
import { freePort } from '../../../../scripts/lib/free-port';
import { startTcpProxy, throughProxy } from '../../../../test/support/tcp-proxy';

const a = newId('account', toLogicalShard(3));
const b = newId('account', toLogicalShard(50));

function entry(accountId: string, sequence: bigint): EntryDraft {
  return {
    id: newId('entry', toLogicalShard(3)),
    accountId,
    sequence,
    postingId: 'p',
    bucket: 'AVAILABLE',
    amount: 1n,
    direction: 'CREDIT',
    balanceAfter: 1n,
    currency: 'USD',
  };
}

describe('ledger hints', () => {
  it('carry the highest sequence per account of a batch', () => {
    const message = encodeHints([entry(a, 4n), entry(b, 9n), entry(a, 6n), entry(a, 5n)]);
    expect(decodeHints(message)).toEqual([
      { accountId: a, sequence: 6n },
      { accountId: b, sequence: 9n },
    ]);
  });

  it('drop whatever they cannot read instead of failing', () => {
    expect(decodeHints('not json')).toEqual([]);
    expect(decodeHints('{"a":1}')).toEqual([]);
    expect(decodeHints(JSON.stringify([[a, '7'], ['acc_bad', '1'], [b, 3], [b, '0'], [b]]))).toEqual([
      { accountId: a, sequence: 7n },
    ]);
  });
});

describe('Redis pub/sub (ioredis)', () => {
  it('delivers a published hint to a subscriber once it is subscribed', async () => {
    const url = testRedisUrl();
    const channel = unique('paygraph-test-hints');
    const received: string[] = [];
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    let delivered = (): void => {};
    const subscriber = createRedisSubscriber(
      url,
      channel,
      (message) => {
        received.push(message);
        delivered();
      },
      () => subscribed(),
    );
    const publisher = createRedisPublisher(url);
    try {
      // The publisher refuses (returns false) until its own connection is up.
      await Promise.all([ready, publisher.ready()]);
      const arrived = new Promise<void>((resolve) => (delivered = resolve));
      expect(publisher.publish(channel, 'hello')).toBe(true);
      await arrived;
      expect(received[0]).toBe('hello');
    } finally {
      await publisher.close();
      await subscriber.close();
    }
  });

  it('holds at most its bound of publishes waiting for Redis: past it a hint is dropped at once, not queued', async () => {
    const publisher = createRedisPublisher(testRedisUrl(), 2);
    try {
      await publisher.ready();
      const channel = unique('paygraph-test-hints');
      // Sent in one turn: no reply can have come, so the third finds two in flight.
      expect([1, 2, 3].map((n) => publisher.publish(channel, String(n)))).toEqual([true, true, false]);
      // Once Redis has answered them, a hint goes again.
      await expect.poll(() => publisher.publish(channel, '4'), { timeout: 5_000 }).toBe(true);
    } finally {
      await publisher.close();
    }
  });

  it('notices a connection gone silent within its PINGs, and subscribes anew once Redis is reachable again', async () => {
    // A proxy that stops forwarding without closing anything, as a failover that sends no reset, or a link gone. Before
    // the PINGs (limits.ts redisPingIntervalMs) the subscriber, which only listens, never noticed: no new connection.
    const url = testRedisUrl();
    const redis = new URL(url);
    const proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const channel = unique('paygraph-test-hints');
    const received: string[] = [];
    let subscriptions = 0;
    const subscriber = createRedisSubscriber(
      throughProxy(url, proxy),
      channel,
      (message) => received.push(message),
      () => void (subscriptions += 1),
    );
    const publisher = createRedisPublisher(url);
    const noticedWithinMs = redisPingIntervalMs + redisPingTimeoutMs + redisReconnectDelayMs + 2_000;
    try {
      await publisher.ready();
      await expect.poll(() => subscriptions, { timeout: 5_000 }).toBe(1);
      proxy.setMode('blackhole');
      const connections = proxy.accepted;
      // It gave the silent connection up and is making a new one.
      await expect.poll(() => proxy.accepted, { timeout: noticedWithinMs, interval: 50 }).toBeGreaterThan(connections);
      proxy.setMode('pass');
      await expect.poll(() => subscriptions, { timeout: redisPingTimeoutMs + 3_000 }).toBeGreaterThan(1);
      expect(publisher.publish(channel, 'after')).toBe(true);
      await expect.poll(() => received, { timeout: 5_000 }).toContain('after');
    } finally {
      // The proxy first: a QUIT on a connection it holds silent would wait for ever.
      await proxy.close();
      await publisher.close();
      await subscriber.close();
    }
  }, 60_000);

  it('drops a hint at once while Redis does not answer, instead of queueing it', async () => {
    const publisher = createRedisPublisher(`redis://127.0.0.1:${await freePort()}`);
    try {
      expect(publisher.publish(ledgerHintChannel, '[]')).toBe(false);
    } finally {
      await publisher.close();
    }
  });
});
