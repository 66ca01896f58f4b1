import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { newId } from '@paygraph/shared/ids';
import { insertAccount, postOne, type PostingOutcome, systemAccountId } from '@paygraph/shared/ledger/index';
import { startTracing, tracerName, tracingOn, type Tracing } from '@paygraph/shared/tracing';
import { startStack, type Stack } from './support/stack';
import { token, unique } from './support/env';
import { contractOperation, gql } from './support/graphql';
import { deposit, openAccount } from './support/balance-events';
import { eventually } from './support/bank';
import { clientTrace, portOf, recordReceivedRequests, type ClientTrace } from './support/traces';

/**
 * OpenTelemetry traces in one process: the whole stack in this test process, an in-memory
 * exporter, and a client that sends its own traceparent. On, one trace runs from the client's
 * span through the gateway's server span, Apollo's gateway.fetch span per subgraph call, the
 * subgraph's server span (which continued the traceparent the gateway sent) to a span per shard
 * statement, whose text has placeholders and never a value. Off, no traceparent leaves the
 * gateway and paygraph makes no span, even when another library registered a provider.
 */
let stack: Stack;
let operator: string;
let payer: string;
let payee: string;
const getAccount = contractOperation('GetAccount');
const createPayment = contractOperation('CreatePayment');
/** Distinctive amounts: their digits appear in no span unless a bound value leaked. */
const funded = 97_531_864n;
const paid = 8_642_135n;

beforeAll(async () => {
  stack = await startStack();
  operator = await token(unique('trace-operator'), 'operator');
  payer = await openAccount(stack.gatewayUrl, operator, unique('trace-payer'));
  payee = await openAccount(stack.gatewayUrl, operator, unique('trace-payee'));
  await deposit(stack.gatewayUrl, operator, payer, funded);
});

afterAll(async () => {
  await stack?.stop();
});

function ask(document: string, variables: Record<string, unknown>, client: ClientTrace) {
  return gql(stack.gatewayUrl, document, variables, operator, { traceparent: client.traceparent });
}

function payment(): Record<string, unknown> {
  return {
    input: {
      idempotencyKey: unique('trace-pay'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: paid.toString(),
      currency: 'USD',
    },
  };
}

const subgraphPorts = () => new Map(Object.entries(stack.subgraphUrls).map(([name, url]) => [portOf(url), name]));

/**
 * Tracing is started once for these tests. @opentelemetry/api's proxy tracer, which
 * @apollo/gateway took at import, keeps the first provider it found for good: a second
 * startTracing in one process would leave Apollo's gateway spans with the first. A process
 * starts tracing once (main.ts), so only a test could meet this.
 */
describe('tracing on', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;

  beforeAll(async () => {
    tracing = await startTracing({ serviceName: 'paygraph-test', exporter });
  });
  beforeEach(() => exporter.reset());
  afterAll(async () => {
    await tracing?.shutdown();
  });

  /** The client's trace once it holds what `complete` wants (spans end as answers are written). */
  async function traceOf(client: ClientTrace, complete: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
    return eventually(`trace ${client.traceId}`, 10_000, async () => {
      await tracing.flush();
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === client.traceId);
      return complete(spans) ? spans : undefined;
    });
  }

  it('follows a GetAccount from the client through the gateway and the account subgraph to its shard statements', async () => {
    const client = clientTrace();
    const recorder = recordReceivedRequests();
    const answer = await ask(getAccount, { id: payer }, client).finally(() => recorder.stop());
    expect(answer.data?.account?.id).toBe(payer);
    const spans = await traceOf(client, (all) => statementsOf(all).length > 0 && serverSpans(all).length >= 2);
    const tree = checkTree(spans, client);
    expect(tree.subgraphsServed).toEqual(['account']);
    expectTraceparentSent(recorder.received, spans, client);
    expectNoBoundValues(spans, [payer, funded.toString()]);
  });

  it('follows a CreatePayment down to the posting batch and its round trips, as children of the request', async () => {
    const client = clientTrace();
    const variables = payment();
    const recorder = recordReceivedRequests();
    const answer = await ask(createPayment, variables, client).finally(() => recorder.stop());
    expect(answer.data?.createPayment?.__typename).toBe('Payment');
    const isBatch = (s: ReadableSpan) => s.name.startsWith('posting batch ');
    // Whole: a cross-shard payment's ending runs after its answer (services/endings-in-flight.ts), so its batch span
    // may still be open when the request's spans are in; every span's parent in the trace but the gateway's.
    const spans = await traceOf(
      client,
      (all) =>
        all.some(isBatch) &&
        statementsOf(all).some((s) => s.attributes['db.operation.name'] === 'BATCH') &&
        rootsOf(all).length === 1,
    );
    const tree = checkTree(spans, client);
    expect(tree.subgraphsServed).toContain('transaction');
    expectTraceparentSent(recorder.received, spans, client);
    // The request's own batch (no other request shared it): a child of the transaction subgraph's server span.
    const transactionServer = serverSpans(spans).find(
      (s) => s.attributes['server.port'] === portOf(stack.subgraphUrls.transaction),
    )!;
    const batches = spans.filter(isBatch);
    for (const batch of batches) expect(ancestorsOf(batch, spans)).toContain(transactionServer);
    const roundTrips = statementsOf(spans).filter((s) =>
      batches.some((b) => s.parentSpanContext?.spanId === b.spanContext().spanId),
    );
    expect(roundTrips.length).toBeGreaterThan(0);
    expect(roundTrips.some((s) => String(s.attributes['db.query.text']).includes('COMMIT'))).toBe(true);
    const input = variables.input as Record<string, string>;
    expectNoBoundValues(spans, [payer, payee, input.idempotencyKey!, paid.toString()]);
  });

  it('records a failed statement by its kind, never by the message that quotes its values', async () => {
    const shard = stack.shards.all[0]!;
    const id = newId('account', stack.shards.logicalOn(shard)[0]!);
    const row = { id, ownerId: unique('trace-dup'), type: 'PERSONAL', currency: 'USD', status: 'ACTIVE' } as const;
    await insertAccount(shard.db, row);
    const failure = await trace.getTracer('test').startActiveSpan('request', (span) =>
      insertAccount(shard.db, row)
        .then(
          () => null,
          (error: unknown) => error,
        )
        .finally(() => span.end()),
    );
    // What recording the error would have exported: its messages name the duplicate id.
    expect(messagesOf(failure)).toContain(id);
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const request = spans.find((s) => s.name === 'request')!;
    const failed = statementsOf(spans).filter((s) => s.parentSpanContext?.spanId === request.spanContext().spanId);
    expect(failed.map((s) => [s.status.code, s.attributes['error.type']])).toEqual([
      [SpanStatusCode.ERROR, 'ER_DUP_ENTRY'],
    ]);
    expect(failed[0]!.events).toEqual([]);
    expectNoBoundValues(failed, [id]);
  });

  it('makes a posting batch that serves two requests a trace of its own, linked to both and from both', async () => {
    const shard = stack.shards.all[0]!;
    const logical = stack.shards.logicalOn(shard)[0]!;
    const reserve = await systemAccountId(stack.shards, shard, 'RESERVE', 'USD');
    const accounts = [newId('account', logical), newId('account', logical)];
    for (const id of accounts)
      await insertAccount(shard.db, {
        id,
        ownerId: unique('trace-batch'),
        type: 'PERSONAL',
        currency: 'USD',
        status: 'ACTIVE',
      });
    const requests = ['request a', 'request b'];
    const tracer = trace.getTracer('test');
    // Both postings are submitted in the same turn of the event loop, so they share one batch.
    const outcomes = await Promise.all(
      requests.map((name, i) =>
        tracer.startActiveSpan(name, (span) =>
          postOne<PostingOutcome>(shard, {
            kind: 'spec',
            spec: {
              id: newId('posting', logical),
              kind: 'TEST_DEPOSIT',
              refId: null,
              dedupeKey: null,
              currency: 'USD',
              legs: [
                { accountId: reserve, bucket: 'AVAILABLE', amount: -5n },
                { accountId: accounts[i]!, bucket: 'AVAILABLE', amount: 5n },
              ],
            },
            finish: async (_tx, outcome) => outcome,
          }).finally(() => span.end()),
        ),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['APPLIED', 'APPLIED']);
    const spans = await eventually('the batch span', 10_000, async () => {
      await tracing.flush();
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.name === `posting batch ${shard.name}`) &&
        requests.every((r) => all.some((s) => s.name === r))
        ? all
        : undefined;
    });
    const [a, b] = requests.map((r) => spans.find((s) => s.name === r)!);
    const batch = spans.find((s) => s.name === `posting batch ${shard.name}`)!;
    expect(batch.parentSpanContext).toBeUndefined();
    expect(batch.spanContext().traceId).not.toBe(a!.spanContext().traceId);
    expect(batch.links.map((l) => l.context.spanId).sort()).toEqual(
      [a!.spanContext().spanId, b!.spanContext().spanId].sort(),
    );
    for (const request of [a!, b!])
      expect(request.links.map((l) => l.context.spanId)).toEqual([batch.spanContext().spanId]);
    expect(batch.attributes['paygraph.batch.items']).toBe(2);
    const inBatch = statementsOf(spans).filter((s) => s.parentSpanContext?.spanId === batch.spanContext().spanId);
    expect(inBatch.length).toBeGreaterThan(0);
    expect(inBatch.every((s) => s.spanContext().traceId === batch.spanContext().traceId)).toBe(true);
  });
});

/** After the tests above: tracing has been shut down, as it is in a process that never started it. */
describe('tracing off', () => {
  it('sends no traceparent to a subgraph and leaves no current span', async () => {
    const recorder = recordReceivedRequests();
    const answer = await ask(getAccount, { id: payer }, clientTrace()).finally(() => recorder.stop());
    expect(answer.data?.account?.id).toBe(payer);
    const toSubgraphs = recorder.received.filter((r) => subgraphPorts().has(r.port!));
    expect(toSubgraphs.map((r) => r.traceparent)).toEqual([undefined]);
    expect(tracingOn()).toBe(false);
    // Nothing is registered: the API hands out non-recording spans.
    expect(trace.getTracer('test').startSpan('probe').isRecording()).toBe(false);
  });

  it("makes no span of paygraph's and sends no traceparent even when another library registered a provider", async () => {
    const foreign = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: foreign })] });
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const recorder = recordReceivedRequests();
    let spans: ReadableSpan[];
    try {
      const tracer = trace.getTracer('test');
      // The test's own span: proves the provider records, and is the current span of the requests.
      await tracer.startActiveSpan('client', async (span) => {
        expect((await ask(getAccount, { id: payer }, clientTrace())).data?.account?.id).toBe(payer);
        expect((await ask(createPayment, payment(), clientTrace())).data?.createPayment?.__typename).toBe('Payment');
        span.end();
      });
      await provider.forceFlush();
      spans = foreign.getFinishedSpans();
    } finally {
      recorder.stop();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
    const toSubgraphs = recorder.received.filter((r) => subgraphPorts().has(r.port!));
    expect(toSubgraphs.length).toBeGreaterThanOrEqual(2);
    expect(toSubgraphs.map((r) => r.traceparent)).toEqual(toSubgraphs.map(() => undefined));
    expect(spans.map((s) => s.name)).toContain('client');
    expect(spans.filter((s) => s.instrumentationScope.name === tracerName).map((s) => s.name)).toEqual([]);
  });
});

function serverSpans(spans: readonly ReadableSpan[]): ReadableSpan[] {
  return spans.filter((s) => s.kind === SpanKind.SERVER && s.instrumentationScope.name === tracerName);
}

function statementsOf(spans: readonly ReadableSpan[]): ReadableSpan[] {
  return spans.filter((s) => s.kind === SpanKind.CLIENT && s.attributes['db.query.text'] !== undefined);
}

function ancestorsOf(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const found: ReadableSpan[] = [];
  for (
    let parent = byId.get(span.parentSpanContext?.spanId ?? '');
    parent;
    parent = byId.get(parent.parentSpanContext?.spanId ?? '')
  )
    found.push(parent);
  return found;
}

/**
 * The trace is one tree hanging from the client's span: the gateway's server span is its only
 * root, every subgraph server span is the child of a gateway.fetch span under it, and every
 * shard statement has a subgraph's server span as its nearest server ancestor. Answers which
 * subgraphs served the request.
 */
/** The spans of a trace whose parent is not among them. */
function rootsOf(spans: readonly ReadableSpan[]): ReadableSpan[] {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  return spans.filter((s) => !ids.has(s.parentSpanContext?.spanId ?? ''));
}

function checkTree(spans: readonly ReadableSpan[], client: ClientTrace): { subgraphsServed: string[] } {
  const roots = rootsOf(spans);
  expect(roots.map((s) => s.name)).toEqual(['POST /graphql']);
  const gatewayServer = roots[0]!;
  expect(gatewayServer.parentSpanContext?.spanId).toBe(client.parentId);
  expect(gatewayServer.attributes['server.port']).toBe(portOf(stack.gatewayUrl));
  const ports = subgraphPorts();
  const subgraphServers = serverSpans(spans).filter((s) => s !== gatewayServer);
  expect(subgraphServers.length).toBeGreaterThan(0);
  for (const server of subgraphServers) {
    expect(ports.has(server.attributes['server.port'] as number)).toBe(true);
    const [fetch, ...above] = ancestorsOf(server, spans);
    expect(fetch?.name).toBe('gateway.fetch');
    expect(fetch?.attributes.service).toBe(ports.get(server.attributes['server.port'] as number));
    expect(above).toContain(gatewayServer);
  }
  const statements = statementsOf(spans);
  expect(statements.length).toBeGreaterThan(0);
  for (const statement of statements) {
    const nearestServer = ancestorsOf(statement, spans).find((s) => s.kind === SpanKind.SERVER);
    expect(subgraphServers).toContain(nearestServer);
    expect(statement.attributes['db.system']).toBe('mysql');
    expect(stack.shards.all.map((s) => s.name)).toContain(statement.attributes['db.namespace']);
    expect(statement.name).toBe(`${statement.attributes['db.operation.name']} ${statement.attributes['db.namespace']}`);
  }
  expect(statements.some((s) => String(s.attributes['db.query.text']).includes('?'))).toBe(true);
  return {
    subgraphsServed: [...new Set(subgraphServers.map((s) => ports.get(s.attributes['server.port'] as number)!))].sort(),
  };
}

/** Each subgraph request of the trace carried the traceparent of the gateway.fetch span it was made in. */
function expectTraceparentSent(
  received: ReturnType<typeof recordReceivedRequests>['received'],
  spans: readonly ReadableSpan[],
  client: ClientTrace,
): void {
  const ports = subgraphPorts();
  const sent = received.filter((r) => ports.has(r.port!)).map((r) => r.traceparent);
  const fetches = spans.filter((s) => s.name === 'gateway.fetch');
  expect(sent.sort()).toEqual(fetches.map((f) => `00-${client.traceId}-${f.spanContext().spanId}-01`).sort());
}

/** No attribute of any span holds one of these values (ids, keys, amounts bound into statements). */
function expectNoBoundValues(spans: readonly ReadableSpan[], values: readonly string[]): void {
  const text = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events.map((e) => e.attributes)]));
  for (const value of values) expect(text).not.toContain(value);
}

/** An error's message and its causes' messages. */
function messagesOf(error: unknown): string {
  const messages: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) messages.push(current.message);
  return messages.join('\n');
}
