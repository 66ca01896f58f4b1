import net from 'node:net';
import { redisReconnectDelayMs, redisWriteBufferBytesMax } from '../limits';
import { log } from '../log';

/**
 * The two Redis commands the ledger hints need, PUBLISH and SUBSCRIBE, spoken directly in
 * RESP over one TCP connection each. A full client library would bring far more than this
 * needs; what matters here is that both sides reconnect by themselves and that a hint that
 * cannot be sent is dropped rather than queued without bound: hints are never the truth, the
 * ledger tables are, and the subscribers' safety poll covers anything dropped.
 */
export interface RedisTarget {
  host: string;
  port: number;
  username: string | null;
  password: string | null;
}

export function parseRedisUrl(url: string): RedisTarget {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:') throw new Error(`REDIS_URL: "${url}" is not a redis:// URL (TLS is not supported)`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    username: parsed.username === '' ? null : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? null : decodeURIComponent(parsed.password),
  };
}

/** One RESP value: what Redis answers and pushes. */
export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

/**
 * Reads one complete RESP value at `offset`; null when the buffer does not hold all of it yet.
 */
export function parseResp(buffer: Buffer, offset: number): { value: RespValue; next: number } | null {
  if (offset >= buffer.length) return null;
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return null;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return null;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespValue[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buffer, next);
        if (!item) return null;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte "${type}" from Redis`);
  }
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''), 'utf8');
}

export interface ConnectionHandlers {
  /** After every (re)connect; `authSent` says an AUTH went first, whose reply arrives before any other. */
  onOpen: (send: (args: readonly string[]) => boolean, authSent: boolean) => void;
  onValue: (value: RespValue) => void;
  /** After every loss, before the reconnect is scheduled. */
  onClose?: () => void;
}

/**
 * A connection that reconnects after every loss until closed. Commands that cannot be sent
 * (not connected, or more than writeBufferBytesMax already waiting) are refused, not queued.
 */
export class RedisConnection {
  private socket: net.Socket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  connected = false;

  constructor(
    private readonly target: RedisTarget,
    private readonly handlers: ConnectionHandlers,
    private readonly writeBufferBytesMax: number = redisWriteBufferBytesMax,
  ) {
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
      const authSent = this.target.password !== null;
      if (authSent) {
        this.send(this.target.username !== null ? ['AUTH', this.target.username, this.target.password!] : ['AUTH', this.target.password!]);
      }
      this.handlers.onOpen((args) => this.send(args), authSent);
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // 'close' always follows 'error', so the reconnect is scheduled in one place.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.connected = false;
      this.socket = null;
      this.handlers.onClose?.();
      if (!this.closed) this.timer = setTimeout(() => this.connect(), redisReconnectDelayMs);
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = parseResp(this.buffer, offset);
      if (!parsed) break;
      offset = parsed.next;
      if (parsed.value instanceof RespError) log().error(`redis: ${parsed.value.message}`);
      this.handlers.onValue(parsed.value);
    }
    this.buffer = this.buffer.subarray(offset);
  }

  /** Drops the connection (it reconnects unless closed): e.g. when replies no longer pair with commands. */
  reset(): void {
    this.socket?.destroy();
  }

  /** False when the command was dropped: not connected, or too much is already waiting. */
  send(args: readonly string[]): boolean {
    const socket = this.socket;
    if (!socket || !this.connected || socket.writableLength > this.writeBufferBytesMax) return false;
    socket.write(encodeCommand(args));
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      socket.destroySoon();
    });
  }
}

export interface RedisPublisher {
  /** False when the message was dropped (Redis unreachable or backed up). */
  publish(channel: string, message: string): boolean;
  close(): Promise<void>;
}

export function createRedisPublisher(url: string): RedisPublisher {
  const connection = new RedisConnection(parseRedisUrl(url), { onOpen: () => {}, onValue: () => {} });
  return {
    publish: (channel, message) => connection.send(['PUBLISH', channel, message]),
    close: () => connection.close(),
  };
}

export interface RedisSubscriber {
  close(): Promise<void>;
}

/**
 * Subscribes to one channel. onReady runs after every (re)subscription: messages published
 * while the connection was down are gone, so the caller re-reads whatever they would have said.
 */
export function createRedisSubscriber(
  url: string,
  channel: string,
  onMessage: (message: string) => void,
  onReady: () => void = () => {},
): RedisSubscriber {
  const connection = new RedisConnection(parseRedisUrl(url), {
    onOpen: (send) => void send(['SUBSCRIBE', channel]),
    onValue: (value) => {
      if (!Array.isArray(value)) return;
      const [kind, from, payload] = value;
      if (kind === 'subscribe' && from === channel) onReady();
      else if (kind === 'message' && from === channel && typeof payload === 'string') onMessage(payload);
    },
  });
  return { close: () => connection.close() };
}
