import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { findShared } from '../../../../scripts/lib/contract';

/**
 * Statement uploads over real HTTP, as an operator's client sends them (POST /uploads/statements), and a raw socket
 * for what a client library would not do: send headers, then a body slowly, and watch when the server answers.
 */
export interface UploadAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, any>;
}

/** The gateway's upload URL beside its /graphql. */
export function uploadUrlOf(graphqlUrl: string): string {
  return new URL('/uploads/statements', graphqlUrl).toString();
}

/**
 * POSTs `body` (bytes: sent with a Content-Length; an iterable: chunked, written with backpressure and stopped as soon
 * as the answer comes) and reads the JSON answer.
 */
export function upload(
  url: string,
  token: string | null,
  body: Buffer | AsyncIterable<Buffer>,
  headers: Record<string, string> = {},
): Promise<UploadAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/octet-stream',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(Buffer.isBuffer(body) ? { 'content-length': String(body.length) } : {}),
        ...headers,
      },
    });
    let answered = false;
    request.once('response', (response) => {
      answered = true;
      const parts: Buffer[] = [];
      response.on('data', (chunk: Buffer) => parts.push(chunk));
      response.once('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text ? JSON.parse(text) : {} });
      });
    });
    // A request cut off after its answer came (a refusal halfway) is what the test expects; before it, a failure.
    request.once('error', (error) => {
      if (!answered) reject(error);
    });
    if (Buffer.isBuffer(body)) request.end(body);
    else void writeChunked(request, body, () => answered);
  });
}

async function writeChunked(
  request: http.ClientRequest,
  body: AsyncIterable<Buffer>,
  answered: () => boolean,
): Promise<void> {
  for await (const chunk of body) {
    if (answered() || request.destroyed) break;
    if (!request.write(chunk)) await new Promise((resolve) => request.once('drain', resolve));
  }
  if (!request.destroyed) request.end();
}

/** `bytes` bytes of generated text (a seeded pattern of ASCII lines), in chunks of `chunkBytes`, made as they are sent. */
export async function* generatedBytes(bytes: number, chunkBytes = 64 * 1024, seed = 0): AsyncGenerator<Buffer> {
  const line = Buffer.from(`${seed} the quick brown fox jumps over the lazy dog 0123456789\n`);
  const block = Buffer.alloc(chunkBytes);
  for (let i = 0; i < chunkBytes; i++) block[i] = line[i % line.length]!;
  for (let sent = 0; sent < bytes; sent += chunkBytes) {
    const size = Math.min(chunkBytes, bytes - sent);
    yield size === chunkBytes ? block : block.subarray(0, size);
  }
}

/** What a slow sender saw: the answer's status line and when it came, and whether the server closed the socket. */
export interface SlowSend {
  statusLine: string;
  answerAfterMs: number;
  bytesSentBeforeAnswer: number;
  closedByServer: boolean;
}

/**
 * Sends a request's head (with a large Content-Length), then its body `pieceBytes` every `pauseMs`, until the server
 * answers; then stops and waits (up to closeWaitMs) for the server to close the connection.
 */
export function slowSend(
  url: string,
  head: Record<string, string>,
  options: { declaredBytes: number; pieceBytes: number; pauseMs: number; closeWaitMs: number },
): Promise<SlowSend> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    const started = performance.now();
    let sent = 0;
    let received = '';
    let answerAfterMs = -1;
    let bytesSentBeforeAnswer = -1;
    let timer: NodeJS.Timeout | null = null;
    const lines = Object.entries({ ...head, 'content-length': String(options.declaredBytes) })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const finish = (closedByServer: boolean) => {
      if (timer) clearInterval(timer);
      socket.destroy();
      resolve({ statusLine: received.split('\r\n')[0] ?? '', answerAfterMs, bytesSentBeforeAnswer, closedByServer });
    };
    socket.once('connect', () => {
      socket.write(`POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\n${lines}\r\n`);
      timer = setInterval(() => {
        if (answerAfterMs >= 0 || socket.destroyed) return;
        socket.write(Buffer.alloc(options.pieceBytes, 120));
        sent += options.pieceBytes;
      }, options.pauseMs);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (answerAfterMs < 0) {
        answerAfterMs = performance.now() - started;
        bytesSentBeforeAnswer = sent;
        setTimeout(() => finish(false), options.closeWaitMs).unref();
      }
    });
    socket.once('end', () => finish(true));
    socket.once('close', () => finish(true));
    socket.once('error', (error) => (answerAfterMs >= 0 ? finish(true) : reject(error)));
  });
}

/** A bank statement of the shared fixtures beside the checkout (found as bank-fixtures.test.ts finds them), or null. */
export function sharedFixture(relative: string): string | null {
  return findShared(join('shared', 'fixtures', 'bank-statements', relative));
}
