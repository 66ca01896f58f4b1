import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { listen } from '@paygraph/shared/server/http';
import { createGateway, type Gateway } from '../src/server';
import { testSecurityOptions, testTokens, testTrusts, token } from '../../test/support/env';

/**
 * POST /uploads/statements to a settlement process that takes the whole body and never answers (hung): the gateway
 * proxied the upload with no timeout, so the client waited for ever once its body had arrived (Node's requestTimeout
 * stops counting then). It is answered 503 SUBGRAPH_UNAVAILABLE, retryable, once the subgraph has been silent for the
 * gateway's limit (limits.ts uploadSubgraphIdleTimeoutMs, set smaller here); and at once when the subgraph's
 * connection breaks after the body (a crash), which was not answered either.
 */
const idleTimeoutMs = 1_000;
/** The gateway and the test's own work on a loaded machine. */
const marginMs = 2_000;
const fileBytes = 256 * 1024;
/** Bytes the subgraph was sent, per upload it took whole. */
const received: number[] = [];
/** What the subgraph does once it has taken a body: nothing, or drop the connection. */
let behaviour: 'hang' | 'crash' = 'hang';
let hung: http.Server;
let gateway: Gateway;
let uploadUrl: string;

beforeAll(async () => {
  hung = http.createServer((req) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    // Reads the body, then never answers (hang) or drops the connection (crash).
    req.on('end', () => {
      received.push(bytes);
      if (behaviour === 'crash') req.socket.destroy();
    });
  });
  const url = `http://127.0.0.1:${await listen(hung, 0, '127.0.0.1')}/graphql`;
  gateway = await createGateway(
    testTokens(),
    { account: url, transaction: url, settlement: url, webhooks: url },
    testTrusts(),
    { security: testSecurityOptions(), uploads: { idleTimeoutMs } },
  );
  uploadUrl = `http://127.0.0.1:${await listen(gateway.http, 0, '127.0.0.1')}/uploads/statements`;
});
afterAll(async () => {
  // The hung subgraph's connections first: an upload still waiting on it then ends, and the gateway stops.
  hung?.closeAllConnections();
  hung?.close();
  gateway?.http.closeAllConnections();
  gateway?.http.close();
  await gateway?.stop();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** POSTs `file` as an operator's client does, and reads the JSON answer. */
function post(url: string, bearer: string, file: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${bearer}`,
        'content-type': 'application/octet-stream',
        'content-length': String(file.length),
      },
    });
    request.once('response', (response) => {
      const parts: Buffer[] = [];
      response.on('data', (chunk: Buffer) => parts.push(chunk));
      response.once('end', () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }),
      );
    });
    request.once('error', reject);
    request.end(file);
  });
}

/** `answer`, or a failure once `ms` have passed without it. */
async function within<T>(ms: number, answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a statement upload to a settlement process that does not answer', () => {
  it('is answered 503 SUBGRAPH_UNAVAILABLE (retryable) once the subgraph has been silent for the limit', async () => {
    const operator = await token('ops-upload-hung', 'operator');
    const started = performance.now();
    const answer = await within(idleTimeoutMs + marginMs, post(uploadUrl, operator, Buffer.alloc(fileBytes, 'x')));
    const ms = performance.now() - started;
    console.log(`an upload to a hung settlement subgraph was answered after ${Math.round(ms)} ms`);
    expect(answer).toMatchObject({ status: 503, body: { error: { code: 'SUBGRAPH_UNAVAILABLE' } } });
    // The subgraph had taken the whole body: the wait was for its answer, not for the client.
    expect(received).toEqual([fileBytes]);
    expect(ms).toBeGreaterThanOrEqual(idleTimeoutMs - 50);
  });

  it('is answered 503 SUBGRAPH_UNAVAILABLE at once when the connection breaks after the body', async () => {
    behaviour = 'crash';
    received.length = 0;
    const operator = await token('ops-upload-crash', 'operator');
    const started = performance.now();
    const answer = await within(marginMs, post(uploadUrl, operator, Buffer.alloc(fileBytes, 'x')));
    expect(answer).toMatchObject({ status: 503, body: { error: { code: 'SUBGRAPH_UNAVAILABLE' } } });
    expect(received).toEqual([fileBytes]);
    expect(performance.now() - started).toBeLessThan(idleTimeoutMs);
  });
});
