import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parse, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { Client, ExecutionResult as WsResult, Sink, SubscribePayload } from 'graphql-ws';
import { Supergraph } from '@apollo/federation-internals';
import { supergraphPath } from '../src/compose';
import { bridgeEventStream, type BridgeLimits } from '../src/subscriptions/bridge';
import { planOperation, type StreamSubscription } from '../src/subscriptions/operation';
import { subgraphFields } from '../src/subscriptions/served-by';

/**
 * The bridge's answer to what the account subgraph says when a forwarded subscription starts:
 * a refusal that is only for now (a shard away: SHARD_UNAVAILABLE; a read that failed) is tried
 * again after reconnectDelayMs and the stream goes on; one that is the client's to act on
 * (BAD_USER_INPUT, FORBIDDEN, UNAUTHENTICATED) ends the stream with it. The
 * upstream here is a scripted graphql-ws peer, so that the refusal comes exactly when wanted;
 * the streams against the real account subgraph are in subscription-streams.test.ts.
 */
const sdl = readFileSync(supergraphPath, 'utf8');
const apiSchema = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
const limits: BridgeLimits = {
  pageSize: 50,
  consumerStallMsMax: 5_000,
  socketBufferBytesMax: 1 << 20,
  reconnectAttemptsMax: 3,
  reconnectDelayMs: 10,
};

function forwarded(after: string | null = 'c0'): StreamSubscription {
  const document = parse(
    'subscription($after: String) { balanceChanged(accountId: "acc_x", after: $after) { sequence } }',
  );
  const planned = planOperation(apiSchema, document, null, { after }, () => subgraphFields(sdl, 'account'));
  if (!planned.ok || planned.value.kind !== 'subscription' || planned.value.subscription.forwardQuery === null)
    throw new Error('not forwarded');
  return planned.value.subscription;
}

/** A graphql-ws peer that answers the n-th subscribe with the n-th script. */
function scriptedUpstream(scripts: Array<(sink: Sink<WsResult>) => void>): {
  client: Client;
  payloads: SubscribePayload[];
} {
  const payloads: SubscribePayload[] = [];
  const client = {
    subscribe: (payload: SubscribePayload, sink: Sink<WsResult>) => {
      const script = scripts[payloads.length];
      payloads.push(payload);
      // Answers in a later turn of the event loop, as a peer over a socket would.
      setImmediate(() => script?.(sink));
      return () => {};
    },
  } as unknown as Client;
  return { client, payloads };
}

function bridge(subscription: StreamSubscription, upstream: Client) {
  return bridgeEventStream(
    subscription,
    {
      upstream,
      readPage: () => Promise.reject(new Error('a forwarded stream reads no page')),
      socket: { bufferedAmount: 0, close: () => {} },
      limits,
      tokenHonoured: () => true,
    },
    () => {},
  );
}

const shardAway: GraphQLFormattedError = {
  message: 'shard s1 is unavailable',
  extensions: { code: 'SHARD_UNAVAILABLE', retryable: true },
};

describe('a forwarded subscription refused at the start', () => {
  it('is subscribed again after a retryable refusal or an internal error, from the same position, and delivers', async () => {
    const subscription = forwarded();
    const event = (sequence: number) => ({
      data: { balanceChanged: { [subscription.cursorKey]: `c${sequence}`, sequence } },
    });
    const { client, payloads } = scriptedUpstream([
      (sink) => sink.error([shardAway]),
      // A read that failed under load reaches the gateway as an internal error: read again too.
      (sink) =>
        sink.next({
          errors: [{ message: 'internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
        } as unknown as WsResult),
      (sink) => sink.next(event(7)),
    ]);
    const stream = bridge(subscription, client);
    const first = await stream.next();
    expect((first.value as ExecutionResult).data).toEqual({ balanceChanged: { sequence: 7 } });
    expect(payloads).toHaveLength(3);
    expect(payloads[2]!.query).toBe(subscription.forwardQuery);
    expect(payloads[2]!.variables?.[subscription.afterVariable]).toBe('c0');
    await stream.return(undefined);
  });

  it("without `after`, learns the account's head first and forwards the events after it", async () => {
    const subscription = forwarded(null);
    const { client, payloads } = scriptedUpstream([
      (sink) => sink.next({ data: { balanceHead: 'h5' } }),
      (sink) => sink.next({ data: { balanceChanged: { [subscription.cursorKey]: 'c6', sequence: 6 } } }),
    ]);
    const stream = bridge(subscription, client);
    const first = await stream.next();
    expect((first.value as ExecutionResult).data).toEqual({ balanceChanged: { sequence: 6 } });
    expect(payloads[0]!.query).toContain('balanceHead');
    expect(payloads[1]!.query).toBe(subscription.forwardQuery);
    expect(payloads[1]!.variables?.[subscription.afterVariable]).toBe('h5');
    await stream.return(undefined);
  });

  it("ends with a refusal that is the client's to act on (BAD_USER_INPUT)", async () => {
    const { client, payloads } = scriptedUpstream([
      (sink) => sink.error([{ message: 'bad cursor', extensions: { code: 'BAD_USER_INPUT' } }]),
    ]);
    const stream = bridge(forwarded(), client);
    await expect(stream.next()).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(payloads).toHaveLength(1);
  });

  it('gives up after reconnectAttemptsMax retryable refusals', async () => {
    const { client, payloads } = scriptedUpstream(
      Array.from({ length: 10 }, () => (sink: Sink<WsResult>) => sink.error([shardAway])),
    );
    const stream = bridge(forwarded(), client);
    await expect(stream.next()).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    expect(payloads).toHaveLength(limits.reconnectAttemptsMax + 1);
  });
});
