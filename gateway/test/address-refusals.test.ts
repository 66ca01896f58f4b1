import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../test/support/stack';
import { contractOperation } from '../../test/support/graphql';
import { token, unique } from '../../test/support/env';
import { sleep } from '../../test/support/bank';
import { codes, startGuardedGateway, type GuardedGateway, type RawResponse } from './support/guarded-gateway';

/**
 * Refusals per client address, at a real gateway over real HTTP: requests refused before they have a principal (here
 * a bad token) take their address's budget; once it is used, that address's next requests are answered 429
 * RATE_LIMITED with Retry-After before anything of them is read or verified, while another address (127.0.0.2, also
 * loopback on Linux) is served, and the first is served again once the window frees room.
 */
const refusalsMax = 3;
/**
 * Long enough that the budget's refusals, sent one after another, stay in the window on a loaded machine (the
 * sliding window forgets the previous fixed window's share as the current one goes by); short enough to wait out.
 */
const refusalWindowMs = 5_000;

let stack: Stack;
let gateway: GuardedGateway;

beforeAll(async () => {
  stack = await startStack();
  // Not a literal at the call: the options type has no refusals before the throttle existed (the test then fails).
  const security = {
    refusals: { perAddressMax: refusalsMax, windowMs: refusalWindowMs },
    auditShards: null,
    auditLogFile: join(mkdtempSync(join(tmpdir(), 'paygraph-refusals-')), 'audit.jsonl'),
    redisUrl: null,
  };
  gateway = await startGuardedGateway(stack, { security });
});

afterAll(async () => {
  await gateway?.stop();
  await stack?.stop();
});

/** A POST from the given local address (a connection of its own), with the response's headers. */
function postFrom(localAddress: string, body: string, bearer: string): Promise<RawResponse> {
  const target = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers))
            if (typeof value === 'string') headers.set(name, value);
          resolve({ status: response.statusCode ?? 0, headers, body: text === '' ? {} : JSON.parse(text) });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A caller's own accounts: served to a good token (an empty list for a new owner), UNAUTHENTICATED to a bad one. */
function accountsOf(ownerId: string): string {
  return JSON.stringify({ query: contractOperation('AccountsByOwner'), variables: { ownerId } });
}

/** Asserts the throttle's answer: RATE_LIMITED, bucket refusals, Retry-After as its retryAfterSeconds. */
function expectThrottled(response: RawResponse): number {
  expect(response.status).toBe(429);
  expect(codes(response)).toEqual(['RATE_LIMITED']);
  const extensions = response.body.errors![0]!.extensions!;
  expect(extensions.bucket).toBe('refusals');
  expect(response.headers.get('retry-after')).toBe(String(extensions.retryAfterSeconds));
  // All the budget's refusals in the current window: free once part of the next has gone, at most two windows.
  expect(extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  expect(extensions.retryAfterSeconds).toBeLessThanOrEqual((2 * refusalWindowMs) / 1000);
  return extensions.retryAfterSeconds as number;
}

describe('refusals per client address', () => {
  it('answers an address 429 once it has used its budget of refusals, serves another, and the first again later', async () => {
    const ownerId = unique('refusals');
    const good = await token(ownerId, 'customer');
    for (let i = 0; i < refusalsMax; i++) {
      const refused = await postFrom('127.0.0.1', accountsOf(ownerId), 'not-a-token');
      expect(refused.status).toBe(401);
      expect(codes(refused)).toEqual(['UNAUTHENTICATED']);
    }
    const calls = gateway.subgraphCalls();
    const retryAfterSeconds = expectThrottled(await postFrom('127.0.0.1', accountsOf(ownerId), 'not-a-token'));
    // Answered before the token is verified and the body parsed: a good token and a body that is not JSON alike.
    expectThrottled(await postFrom('127.0.0.1', accountsOf(ownerId), good));
    expectThrottled(await postFrom('127.0.0.1', '{ not json', good));
    expect(gateway.subgraphCalls()).toBe(calls);
    // Another address is served meanwhile.
    const served = await postFrom('127.0.0.2', accountsOf(ownerId), good);
    expect(served.status).toBe(200);
    expect(served.body.errors).toBeUndefined();
    expect(served.body.data?.accounts?.edges).toEqual([]);
    // Once the window has freed room, the first address is served, and its bad token refused as such.
    await sleep(retryAfterSeconds * 1000);
    const again = await postFrom('127.0.0.1', accountsOf(ownerId), good);
    expect(again.status).toBe(200);
    expect(again.body.data?.accounts?.edges).toEqual([]);
    const refusedAgain = await postFrom('127.0.0.1', accountsOf(ownerId), 'not-a-token');
    expect(refusedAgain.status).toBe(401);
    expect(codes(refusedAgain)).toEqual(['UNAUTHENTICATED']);
  });
});
