import net from 'node:net';
import { encodeCommand, parseRedisUrl, parseResp, RespError, type RedisTarget, type RespValue } from '@paygraph/shared/events/redis-pubsub';
import { redisReconnectDelayMs } from '@paygraph/shared/limits';
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

class RedisCommandConnection implements RedisCommands {
  private socket: net.Socket | null = null;
  private connected = false;
  private closed = false;
  private buffer: Buffer = Buffer.alloc(0);
  /** Commands sent and not yet answered, oldest first; a timed-out one keeps its place for its reply. */
  private readonly pending: Pending[] = [];
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly target: RedisTarget, private readonly timeoutMs: number) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const socket = net.createConnection({ host: this.target.host, port: this.target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.connected = true;
      this.buffer = Buffer.alloc(0);
      if (this.target.password !== null) {
        const auth = this.target.username !== null ? ['AUTH', this.target.username, this.target.password] : ['AUTH', this.target.password];
        // A refused AUTH makes every later command fail with NOAUTH, which the caller sees.
        this.pending.push({ settle: null, timer: null });
        socket.write(encodeCommand(auth));
      }
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // 'close' always follows 'error', so the failure is handled in one place.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.connected = false;
      this.socket = null;
      for (const waiting of this.pending.splice(0)) settle(waiting, err({ kind: 'Unavailable' }));
      if (!this.closed) this.reconnectTimer = setTimeout(() => this.connect(), redisReconnectDelayMs);
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = parseResp(this.buffer, offset);
      if (!parsed) break;
      offset = parsed.next;
      const waiting = this.pending.shift();
      // A reply nobody asked for means the pairing is lost: start over on a new connection.
      if (!waiting) {
        this.socket?.destroy();
        return;
      }
      const value = parsed.value;
      settle(waiting, value instanceof RespError ? err({ kind: 'Refused', message: value.message }) : ok(value));
    }
    this.buffer = this.buffer.subarray(offset);
  }

  command(args: readonly string[]): Promise<Result<RespValue, RedisFailure>> {
    const socket = this.socket;
    if (!socket || !this.connected || socket.writableLength > redisCommandBufferBytesMax) {
      return Promise.resolve(err({ kind: 'Unavailable' }));
    }
    return new Promise((resolve) => {
      const waiting: Pending = { settle: resolve, timer: null };
      waiting.timer = setTimeout(() => settle(waiting, err({ kind: 'Timeout' })), this.timeoutMs);
      this.pending.push(waiting);
      socket.write(encodeCommand(args));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      socket.destroySoon();
    });
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
