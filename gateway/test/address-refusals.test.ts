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
 * Refusals per client address, at a real gateway over real HTTP: requests refused before they have a principal (a bad
 * token, a body Apollo Server or the HTTP server refuses) take their address's budget, and requests in flight hold
 * it; once it is used, that address's next requests are answered 429 RATE_LIMITED with Retry-After before anything of
 * them is read or verified, except those with a token verified already, while another address (127.0.0.x, all
 * loopback on Linux) is served, and the first is served again once the window frees room. What a browser on another
 * site can be made to send is not counted.
 */
const refusalsMax = 3;
/**
 * Long enough that the budget's refusals, sent one after another, stay in the window however loaded the machine (the
 * sliding window forgets the previous fixed window's share as the current one goes by); the test moves the throttle's
 * clock past it rather than wait.
 */
const refusalWindowMs = 25_000;
/** Added to the throttle's clock (its `now`): the step "once the window has freed room" moves it. */
let clockShiftMs = 0;

let stack: Stack;
let gateway: GuardedGateway;

beforeAll(async () => {
  stack = await startStack();
  // Not a literal at the call: the options type has no refusals before the throttle existed (the test then fails).
  const security = {
    refusals: { perAddressMax: refusalsMax, windowMs: refusalWindowMs, now: () => Date.now() + clockShiftMs },
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

interface Sent {
  /** The Authorization header's token; none when null. */
  bearer: string | null;
  contentType?: string;
  method?: string;
  /** Sends `Expect: 100-continue`: the body is then to be sent once the gateway says so. */
  expectContinue?: true;
  /** Sends Apollo Server's `apollo-require-preflight` header, which lets a simple content type past its CSRF check. */
  preflight?: true;
}

/** A request from the given local address (a connection of its own), its body written whole at once or not. */
function requestFrom(localAddress: string, sent: Sent, contentLength?: number) {
  const target = new URL(gateway.url);
  const headers: Record<string, string | number> = { 'content-type': sent.contentType ?? 'application/json' };
  if (sent.bearer !== null) headers.authorization = `Bearer ${sent.bearer}`;
  if (contentLength !== undefined) headers['content-length'] = contentLength;
  if (sent.expectContinue) headers.expect = '100-continue';
  if (sent.preflight) headers['apollo-require-preflight'] = 'true';
  let request!: http.ClientRequest;
  const answered = new Promise<RawResponse>((resolve, reject) => {
    const options = { host: target.hostname, port: target.port, path: target.pathname, localAddress, agent: false };
    request = http.request({ ...options, method: sent.method ?? 'POST', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers))
          if (typeof value === 'string') answerHeaders.set(name, value);
        resolve({
          status: response.statusCode ?? 0,
          headers: answerHeaders,
          body: text === '' ? {} : JSON.parse(text),
        });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
  });
  return { request, answered };
}

/** A POST from the given local address, with the response's headers. */
function postFrom(localAddress: string, body: string, bearer: string | null, contentType?: string) {
  const { request, answered } = requestFrom(localAddress, { bearer, ...(contentType ? { contentType } : {}) });
  request.end(body);
  return answered;
}

/** A POST that sends `Expect: 100-continue`, and its body only once told to: whether it was told, and the answer. */
async function postExpectingContinue(localAddress: string, body: string, bearer: string) {
  const sent = requestFrom(localAddress, { bearer, expectContinue: true }, Buffer.byteLength(body));
  let continued = false;
  sent.request.on('continue', () => {
    continued = true;
    sent.request.end(body);
  });
  sent.request.flushHeaders();
  const response = await sent.answered;
  // Answered without being told to send the body: it is never sent.
  if (!continued) sent.request.destroy();
  return { continued, response };
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

async function expectServed(response: Promise<RawResponse>): Promise<void> {
  const served = await response;
  expect(served.status).toBe(200);
  expect(served.body.errors).toBeUndefined();
  expect(served.body.data?.accounts?.edges).toEqual([]);
}

async function expectUnauthenticated(response: Promise<RawResponse>): Promise<void> {
  const refused = await response;
  expect(refused.status).toBe(401);
  expect(codes(refused)).toEqual(['UNAUTHENTICATED']);
}

describe('refusals per client address', () => {
  it('answers an address 429 once it has used its budget of refusals, serves another, and the first again later', async () => {
    const ownerId = unique('refusals');
    const good = await token(ownerId, 'customer');
    for (let i = 0; i < refusalsMax; i++)
      await expectUnauthenticated(postFrom('127.0.0.1', accountsOf(ownerId), 'bad'));
    const calls = gateway.subgraphCalls();
    const retryAfterSeconds = expectThrottled(await postFrom('127.0.0.1', accountsOf(ownerId), 'not-a-token'));
    // Answered before the token is verified and the body parsed: a token never verified and a body that is not JSON.
    expectThrottled(await postFrom('127.0.0.1', accountsOf(ownerId), good));
    expectThrottled(await postFrom('127.0.0.1', '{ not json', good));
    // A client that waits to be told before it sends its body is answered without being told.
    const unasked = await postExpectingContinue('127.0.0.1', accountsOf(ownerId), good);
    expect(unasked.continued).toBe(false);
    expectThrottled(unasked.response);
    expect(gateway.subgraphCalls()).toBe(calls);
    // Another address is served meanwhile, told to send its body; the first is still refused.
    const asked = await postExpectingContinue('127.0.0.2', accountsOf(ownerId), good);
    expect(asked.continued).toBe(true);
    await expectServed(Promise.resolve(asked.response));
    expectThrottled(await postFrom('127.0.0.1', accountsOf(ownerId), 'not-a-token'));
    // Once the window has freed room, the first address's bad token is refused as such, and its good one served.
    clockShiftMs += retryAfterSeconds * 1000;
    await expectUnauthenticated(postFrom('127.0.0.1', accountsOf(ownerId), 'not-a-token'));
    await expectServed(postFrom('127.0.0.1', accountsOf(ownerId), good));
  });

  it('serves a token it verified already from an address it refuses, and counts nothing that token is refused', async () => {
    const ownerId = unique('refusals-known');
    const known = await token(ownerId, 'customer');
    await expectServed(postFrom('127.0.0.3', accountsOf(ownerId), known));
    for (let i = 0; i < refusalsMax; i++)
      await expectUnauthenticated(postFrom('127.0.0.3', accountsOf(ownerId), 'bad'));
    expectThrottled(await postFrom('127.0.0.3', accountsOf(ownerId), 'not-a-token'));
    // A user sharing the address (a NAT, a proxy) with a flood is served with a token the gateway knows.
    await expectServed(postFrom('127.0.0.3', accountsOf(ownerId), known));
    for (let i = 0; i < 2 * refusalsMax; i++)
      expect((await postFrom('127.0.0.3', '{ not json', known)).status).toBe(400);
    await expectServed(postFrom('127.0.0.3', accountsOf(ownerId), known));
    // A token never verified is not let in: verifying it is what the throttle spares the gateway.
    const fresh = await token(unique('refusals-fresh'), 'customer');
    expectThrottled(await postFrom('127.0.0.3', accountsOf(ownerId), fresh));
  });

  it('counts a malformed request Apollo Server refuses after a forged token, and a body that is not JSON', async () => {
    for (let i = 0; i < refusalsMax; i++) {
      const refused = await postFrom('127.0.0.4', JSON.stringify({ query: 1 }), 'forged.token.here');
      expect(refused.status).toBe(400);
    }
    expectThrottled(await postFrom('127.0.0.4', accountsOf(unique('refusals')), 'not-a-token'));
    for (let i = 0; i < refusalsMax; i++) expect((await postFrom('127.0.0.5', '{ not json', null)).status).toBe(400);
    expectThrottled(await postFrom('127.0.0.5', accountsOf(unique('refusals')), null));
  });

  it('does not count what a page on another site can make its visitors send (CSRF refusals, preflights)', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    for (let i = 0; i < 2 * refusalsMax; i++) {
      expect((await postFrom('127.0.0.6', body, null, 'text/plain')).status).toBe(400);
      expect((await postFrom('127.0.0.6', '{ not json', null, 'text/plain')).status).toBe(400);
      const { request, answered } = requestFrom('127.0.0.6', { bearer: null, method: 'OPTIONS' });
      request.end();
      expect((await answered).status).not.toBe(429);
    }
    await expectUnauthenticated(postFrom('127.0.0.6', accountsOf(unique('refusals')), null));
  });

  it('answers what Apollo Server refuses as CSRF from its headers without reading or asking for its body', async () => {
    const csrf = /Cross-Site Request Forgery/;
    // Headers sent, the body never: the answer comes from the headers alone (before, the gateway waited for the body).
    // Each from an address of its own: a request not yet closed holds its address's budget while the rest is drained.
    const types = ['text/plain', 'Multipart/Form-Data; boundary=x', 'application/x-www-form-urlencoded'];
    for (const [i, contentType] of types.entries()) {
      const { request, answered } = requestFrom(`127.0.1.${i + 1}`, { bearer: null, contentType }, 500_000);
      request.flushHeaders();
      const response = await answered;
      request.destroy();
      expect(response.status).toBe(400);
      expect(response.body.errors?.[0]?.message).toMatch(csrf);
    }
    // Sent with Expect: 100-continue, it is never asked for.
    const asked = requestFrom('127.0.1.9', { bearer: null, contentType: 'text/plain', expectContinue: true }, 500_000);
    let continued = false;
    asked.request.on('continue', () => (continued = true));
    asked.request.flushHeaders();
    expect((await asked.answered).body.errors?.[0]?.message).toMatch(csrf);
    asked.request.destroy();
    expect(continued).toBe(false);
    // A body that does not parse is refused as CSRF too: it was not parsed. As JSON, or with Apollo Server's CSRF
    // header, the same body is read and parsed, and refused for not parsing.
    expect((await postFrom('127.0.0.8', '{ not json', null, 'text/plain')).body.errors?.[0]?.message).toMatch(csrf);
    const read = requestFrom('127.0.0.9', { bearer: null, contentType: 'text/plain', preflight: true });
    read.request.end('{ not json');
    const answers = [await read.answered, await postFrom('127.0.0.9', '{ not json', null, 'application/json')];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body.errors?.[0]?.message).toMatch(/JSON/);
    }
  });

  it('admits at most its budget of requests at once from one address, however slowly their bodies come', async () => {
    const body = Buffer.from(accountsOf(unique('refusals-slow')));
    const half = Math.floor(body.length / 2);
    const sent = Array.from({ length: refusalsMax + 5 }, () => {
      const { request, answered } = requestFrom('127.0.0.7', { bearer: 'not-a-token' }, body.length);
      request.write(body.subarray(0, half));
      const outcome = { response: null as RawResponse | null, request };
      // A request not answered fails below, by its missing status; its error is not the test's to throw.
      answered.then(
        (response) => (outcome.response = response),
        () => {},
      );
      return outcome;
    });
    // The requests past the budget are answered 429 unread; those let in wait for the rest of their body.
    const answered = () => sent.filter((s) => s.response !== null);
    for (let waited = 0; answered().length < 5 && waited < 20_000; waited += 50) await sleep(50);
    await sleep(300);
    expect(answered().map((s) => s.response!.status)).toEqual([429, 429, 429, 429, 429]);
    const waiting = sent.filter((s) => s.response === null);
    expect(waiting).toHaveLength(refusalsMax);
    for (const s of sent) s.request.end(body.subarray(half));
    for (let waited = 0; answered().length < sent.length && waited < 20_000; waited += 50) await sleep(50);
    for (const s of waiting) expect(s.response?.status).toBe(401);
    expectThrottled(await postFrom('127.0.0.7', accountsOf(unique('refusals')), 'not-a-token'));
  });
});
