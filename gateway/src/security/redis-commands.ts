import { parseRedisUrl, RedisConnection, RespError, type RedisTarget, type RespValue } from '@paygraph/shared/events/redis-pubsub';
import { err, ok, type Result } from '@paygraph/shared/result';
import { redisCommandBufferBytesMax, redisCommandTimeoutMs } from '../limits';

/**
 * Request and reply over one RESP connection, for the rate limiter's script. The RESP reading
 * and writing are the ledger hints' (events/redis-pubsub.ts); what this adds is the pairing of
 * each reply with its command (Redis answers in order) and a deadline per command. Redis being
 * away, slow or refusing is an expected failure and comes back as a value: the caller decides
 * without Redis rather than waiting for it.
 */
export type RedisFailure =
  | { kind: 'Unavailable' }
  | { kind: 'Timeout' }
  | { kind: 'Refused'; message: string };

interface Pending {
  settle: ((result: Result<RespValue, RedisFailure>) => void) | null;
  timer: NodeJS.Timeout | null;
}

export interface RedisCommands {
  command(args: readonly string[]): Promise<Result<RespValue, RedisFailure>>;
  close(): Promise<void>;
}

export function createRedisCommands(url: string, timeoutMs: number = redisCommandTimeoutMs): RedisCommands {
  return new RedisCommandConnection(parseRedisUrl(url), timeoutMs);
}

/**
 * Pairs each reply with its command over the shared reconnecting RESP connection
 * (events/redis-pubsub.ts): Redis answers in order, so replies are matched first in, first out.
 */
class RedisCommandConnection implements RedisCommands {
  /** Commands sent and not yet answered, oldest first; a timed-out one keeps its place for its reply. */
  private readonly pending: Pending[] = [];
  private readonly connection: RedisConnection;

  constructor(target: RedisTarget, private readonly timeoutMs: number) {
    this.connection = new RedisConnection(target, {
      // A refused AUTH makes every later command fail with NOAUTH, which the caller sees.
      onOpen: (_send, authSent) => {
        if (authSent) this.pending.push({ settle: null, timer: null });
      },
      onValue: (value) => this.receive(value),
      onClose: () => {
        for (const waiting of this.pending.splice(0)) settle(waiting, err({ kind: 'Unavailable' }));
      },
    }, redisCommandBufferBytesMax);
  }

  private receive(value: RespValue): void {
    const waiting = this.pending.shift();
    // A reply nobody asked for means the pairing is lost: start over on a new connection.
    if (!waiting) {
      this.connection.reset();
      return;
    }
    settle(waiting, value instanceof RespError ? err({ kind: 'Refused', message: value.message }) : ok(value));
  }

  command(args: readonly string[]): Promise<Result<RespValue, RedisFailure>> {
    return new Promise((resolve) => {
      const waiting: Pending = { settle: resolve, timer: null };
      this.pending.push(waiting);
      if (!this.connection.send(args)) {
        this.pending.pop();
        resolve(err({ kind: 'Unavailable' }));
        return;
      }
      waiting.timer = setTimeout(() => settle(waiting, err({ kind: 'Timeout' })), this.timeoutMs);
    });
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** Settles a command once; a late reply to a timed-out command is read and dropped. */
function settle(waiting: Pending, result: Result<RespValue, RedisFailure>): void {
  if (waiting.timer) clearTimeout(waiting.timer);
  waiting.timer = null;
  const resolve = waiting.settle;
  waiting.settle = null;
  resolve?.(result);
}
