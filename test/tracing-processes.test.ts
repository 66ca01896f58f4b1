import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessStack, type ProcessStack } from './support/process-stack';
import { testShards, token, unique } from './support/env';
import { contractOperation, gql } from './support/graphql';
import { deposit, openAccount } from './support/balance-events';
import { eventually } from './support/bank';
import { clientTrace, startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from './support/traces';

/**
 * Traces across processes, as `npm start` runs them: the gateway and the three subgraphs as
 * child processes with OTEL_EXPORTER_OTLP_ENDPOINT naming a small OTLP/HTTP receiver in this
 * test. A payment sent with the client's traceparent comes back as one trace from four
 * processes' exports, each subgraph's server span the child of the gateway's span for that call.
 */
let receiver: OtlpReceiver;
let stack: ProcessStack;
/** OTLP's span kinds. */
const server = 2;
const client = 3;
/** Distinctive amounts: their digits appear in no export unless a bound value leaked. */
const funded = 86_420_753n;
const paid = 7_531_902n;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const shards = testShards(1);
  const shardUrls = shards.topology.urls.join(',');
  await shards.close();
  stack = await startProcessStack({
    shardUrls,
    subgraphEnv: { MYSQL_POOL_SIZE: '2' },
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

describe('traces across processes', () => {
  it('make one trace of a payment from the client through the gateway process to the subgraph processes and their statements', async () => {
    const operator = await token(unique('trace-operator'), 'operator');
    const payer = await openAccount(stack.gatewayUrl, operator, unique('trace-payer'));
    const payee = await openAccount(stack.gatewayUrl, operator, unique('trace-payee'));
    await deposit(stack.gatewayUrl, operator, payer, funded);
    const trace = clientTrace();
    const key = unique('trace-pay');
    const answer = await gql(
      stack.gatewayUrl,
      contractOperation('CreatePayment'),
      {
        input: {
          idempotencyKey: key,
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: paid.toString(),
          currency: 'USD',
        },
      },
      operator,
      { traceparent: trace.traceparent },
    );
    expect(answer.data?.createPayment?.__typename).toBe('Payment');
    // Each process exports on its own schedule (traceExportDelayMs), and a span ends (and is exported) before its
    // parent: a subgraph's statements can arrive in one export and its server span in the next. Wait for the
    // transaction subgraph's statements and for a whole tree: every span's parent arrived, or is the client's.
    const spans = await eventually("the payment's whole trace from every process", 20_000, async () => {
      const ours = receiver.spans().filter((s) => s.traceId === trace.traceId);
      const ids = new Set(ours.map((s) => s.spanId));
      const whole = ours.every((s) => s.parentSpanId === trace.parentId || ids.has(s.parentSpanId ?? ''));
      return whole &&
        ours.some((s) => s.service === 'transaction' && s.kind === client) &&
        ours.some((s) => s.service === 'gateway' && s.kind === server)
        ? ours
        : undefined;
    });
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const gatewayServer = spans.filter((s) => s.service === 'gateway' && s.kind === server);
    expect(gatewayServer.map((s) => s.parentSpanId)).toEqual([trace.parentId]);
    const subgraphServers = spans.filter((s) => s.service !== 'gateway' && s.kind === server);
    expect(subgraphServers.map((s) => s.service)).toContain('transaction');
    for (const span of subgraphServers) {
      // The parent is in another process's export: the traceparent the gateway sent.
      const fetch = byId.get(span.parentSpanId!);
      expect(fetch).toMatchObject({ service: 'gateway', name: 'gateway.fetch', attributes: { service: span.service } });
      expect(ancestors(fetch!, byId)).toContain(gatewayServer[0]);
    }
    const statements = spans.filter((s) => s.kind === client && s.attributes['db.query.text'] !== undefined);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(statement.service).not.toBe('gateway');
      const nearestServer = ancestors(statement, byId).find((s) => s.kind === server);
      expect(nearestServer?.service).toBe(statement.service);
    }
    // Nothing any process exported holds an id, a key or an amount of this run.
    const exported = receiver.bodies().join('\n');
    for (const value of [payer, payee, key, funded.toString(), paid.toString()]) expect(exported).not.toContain(value);
  });
});

function ancestors(span: ExportedSpan, byId: ReadonlyMap<string, ExportedSpan>): ExportedSpan[] {
  const found: ExportedSpan[] = [];
  for (let parent = byId.get(span.parentSpanId ?? ''); parent; parent = byId.get(parent.parentSpanId ?? ''))
    found.push(parent);
  return found;
}
