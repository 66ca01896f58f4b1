import { Redis, type RedisOptions } from 'ioredis';
import { redisPingIntervalMs, redisPingTimeoutMs, redisPublishesInFlightMax, redisReconnectDelayMs } from '../limits';
import { log } from '../log';

/**
 * Redis for the ledger hints (PUBLISH and SUBSCRIBE) and the gateway's rate limits, through
 * ioredis. Every client reconnects by itself, every redisReconnectDelayMs, for as long as it
 * lives; while it is not connected its commands are refused at once rather than queued
 * (enableOfflineQueue off): hints are never the truth, the ledger tables are, so a hint that
 * cannot be sent is dropped and the subscribers' safety poll covers it; a rate limit that
 * cannot ask Redis decides in memory. A connection that died silently is noticed by its PINGs
 * (watchLiveness) and made anew.
 */
export function connectRedis(url: string, purpose: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => redisReconnectDelayMs,
    ...options,
  });
  // One line per outage, not one per reconnect attempt; without a listener ioredis prints every error.
  let reported = false;
  client.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    log().warn(
      `${purpose}: Redis at ${redactedHost(url)} is not answering (${error.message}); retrying every ${redisReconnectDelayMs} ms`,
    );
  });
  client.on('ready', () => {
    reported = false;
  });
  watchLiveness(client);
  return client;
}

/**
 * Sends a PING every redisPingIntervalMs while the client is ready, and destroys the connection it went on when not a
 * byte has come back on it within redisPingTimeoutMs; likewise a connection whose handshake (ioredis's ready check)
 * is unanswered that long. ioredis then reconnects, and a subscriber subscribes anew. Any byte counts, a message or a
 * late reply too (a PING's promise may be failed by commandTimeout while the connection lives). The timers hold the
 * connection of their time, so a late one never cuts its successor; the PINGs stop when the client ends.
 */
function watchLiveness(client: Redis): void {
  const cutUnless = (stream: Redis['stream'], heard: () => boolean, what: string) =>
    setTimeout(() => {
      if (!heard()) stream.destroy(new Error(`${what} not answered within ${redisPingTimeoutMs} ms: reconnecting`));
    }, redisPingTimeoutMs).unref();
  const pings = setInterval(() => {
    if (client.status !== 'ready') return;
    const stream = client.stream;
    const bytesBefore = stream.bytesRead;
    client.ping().catch(() => {});
    cutUnless(stream, () => stream.bytesRead > bytesBefore, 'a PING');
  }, redisPingIntervalMs).unref();
  client.on('connect', () => {
    const stream = client.stream;
    cutUnless(stream, () => client.stream !== stream || client.status !== 'connect', 'the handshake');
  });
  client.once('end', () => clearInterval(pings));
}

/** QUIT when connected (what was sent still goes out), otherwise just stop reconnecting. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Lost on the way out: disconnect below.
    }
  }
  client.disconnect();
}

function redactedHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparseable URL)';
  }
}

export interface RedisPublisher {
  /** False when the message was dropped (Redis unreachable or backed up). */
  publish(channel: string, message: string): boolean;
  /** Resolves once connected (publishes are refused before): what a test awaits before counting on a hint. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Publishes fire-and-forget. At most redisPublishesInFlightMax wait for their reply at once:
 * past that Redis is not keeping up, and further hints are dropped instead of piling up.
 */
export function createRedisPublisher(url: string, inFlightMax: number = redisPublishesInFlightMax): RedisPublisher {
  const client = connectRedis(url, 'ledger hints');
  const connected = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  let inFlight = 0;
  return {
    publish: (channel, message) => {
      if (client.status !== 'ready' || inFlight >= inFlightMax) return false;
      inFlight += 1;
      client.publish(channel, message).then(
        () => void (inFlight -= 1),
        () => void (inFlight -= 1),
      );
      return true;
    },
    ready: () => connected,
    close: () => closeRedis(client),
  };
}

export interface RedisSubscriber {
  close(): Promise<void>;
}

/**
 * Subscribes to one channel. onReady runs after every (re)subscription: messages published
 * while the connection was down are gone, so the caller re-reads whatever they would have said.
 * The subscription is made anew on each connect (not ioredis's autoResubscribe), so that
 * onReady follows the SUBSCRIBE's reply.
 */
export function createRedisSubscriber(
  url: string,
  channel: string,
  onMessage: (message: string) => void,
  onReady: () => void = () => {},
): RedisSubscriber {
  const client = connectRedis(url, 'ledger hints', { autoResubscribe: false });
  client.on('message', (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  client.on('ready', () => {
    client.subscribe(channel).then(
      () => onReady(),
      // The connection went again before the reply; the next 'ready' subscribes again.
      () => {},
    );
  });
  return { close: () => closeRedis(client) };
}
