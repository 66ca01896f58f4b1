import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { subgraphLaneRequests } from '@paygraph/shared/metrics';
import type { Stack } from '../../../../test/support/stack';
import { asGateway, token, unique } from '../../../../test/support/env';
import { shardCostOf } from '../../../../test/support/shard-cost';
import { paymentEnded } from '../../../../test/support/bank';
import { type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * The subgraph's express lane (subgraphs/shared/src/server/subgraph-lane.ts) on the transaction subgraph: what it
 * answers is what Apollo Server answers for the same request, byte for byte, headers and status included; what it
 * ran and could not answer alone (errors) Apollo Server answers without running it again; what it does not recognise
 * Apollo Server answers as before. A body with `extensions` is Apollo Server's alone: the same request with and
 * without it is the same request through the pipeline and through the lane.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const paymentRead = 'query Read($id: ID!) { payment(id: $id) { id status amount currency payer { id } } }';

interface Sent {
  status: number;
  contentType: string | undefined;
  headerNames: string[];
  text: string;
}

/** A POST to the transaction subgraph as the gateway sends one, as `sub` with `role`; `body` is sent as it is. */
async function send(sub: string, role: 'customer' | 'operator', body: unknown, accept?: string): Promise<Sent> {
  const answer = await request(stack.subgraphUrls.transaction, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(accept ? { accept } : {}),
      ...(await asGateway('transaction', sub, role)),
    },
    body: JSON.stringify(body),
  });
  const text = await answer.body.text();
  const skip = new Set(['date', 'x-request-id', 'content-length', 'keep-alive', 'connection']);
  return {
    status: answer.statusCode,
    contentType: answer.headers['content-type'] as string | undefined,
    headerNames: Object.keys(answer.headers)
      .filter((h) => !skip.has(h))
      .sort(),
    text,
  };
}

async function laneCounts(): Promise<Record<string, number>> {
  const metric = await subgraphLaneRequests.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.outcome), v.value]));
}

/** What the lane did for the requests `fn` sent: answered, handed to Apollo Server, declined. */
async function laneDid<T>(fn: () => Promise<T>): Promise<{ value: T; did: Record<string, number> }> {
  const before = await laneCounts();
  const value = await fn();
  const after = await laneCounts();
  const did = Object.fromEntries(
    ['answered', 'handed', 'declined'].map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]),
  );
  return { value, did };
}

/** An error's text as Apollo Server writes it, without the stack trace (it names the functions that ran it). */
function withoutStacks(text: string): unknown {
  const answer = JSON.parse(text) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
  for (const error of answer.errors ?? []) delete error.extensions?.stacktrace;
  return answer;
}

describe("the transaction subgraph's express lane", () => {
  it("answers the gateway's payment and read, byte for byte what Apollo Server answers", async () => {
    const owner = unique('lane-payer');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    await kit.fund(payer, '1000');
    const payee = await kit.open(unique('lane-payee'));
    // Through the gateway: the payment is the lane's to answer.
    const paid = await laneDid(() => kit.paid(bearer, { payer, payee, amount: '25' }));
    expect(paid.did).toMatchObject({ answered: 1, handed: 0 });
    const body = { query: paymentRead, variables: { id: paid.value } };
    const lane = await laneDid(() => send(owner, 'customer', body));
    const apollo = await laneDid(() => send(owner, 'customer', { ...body, extensions: {} }));
    expect(lane.did).toMatchObject({ answered: 1, handed: 0, declined: 0 });
    expect(apollo.did).toMatchObject({ answered: 0, handed: 0, declined: 1 });
    expect(JSON.parse(lane.value.text)).toMatchObject({ data: { payment: { id: paid.value, amount: '25' } } });
    expect(lane.value).toEqual(apollo.value);
    // Apollo Server's content type for the accept header sent, and its 406 for one it cannot answer.
    for (const accept of ['application/graphql-response+json', 'application/json;q=0.5, */*;q=0.1', 'text/html'])
      expect(await send(owner, 'customer', body, accept)).toEqual(
        await send(owner, 'customer', { ...body, extensions: {} }, accept),
      );
  });

  it('hands an answer with errors to Apollo Server, which answers it without running it again', async () => {
    const owner = unique('lane-owner');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    await kit.fund(payer, '100');
    const id = await kit.paid(bearer, { payer, payee: await kit.open(unique('lane-payee')), amount: '5' });
    // A cross-shard payment's ending follows its answer: waited for, so that it lands in neither count below.
    await paymentEnded(id);
    // Another customer's read of the payment: FORBIDDEN, after the payment's row is read.
    const body = { query: paymentRead, variables: { id } };
    const stranger = unique('lane-stranger');
    const cost = (b: unknown) => shardCostOf(stack.shards.all, () => laneDid(() => send(stranger, 'customer', b)));
    const lane = await cost(body);
    const apollo = await cost({ ...body, extensions: {} });
    expect(lane.answer.did).toMatchObject({ answered: 0, handed: 1 });
    expect(apollo.answer.did).toMatchObject({ declined: 1, handed: 0 });
    expect(JSON.parse(lane.answer.value.text)).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    expect({ ...lane.answer.value, text: withoutStacks(lane.answer.value.text) }).toEqual({
      ...apollo.answer.value,
      text: withoutStacks(apollo.answer.value.text),
    });
    // Run once: as many statements as the pipeline's own run (a second run would double them).
    expect(lane.statements).toEqual(apollo.statements);
  });

  it('leaves to Apollo Server what it does not recognise, which answers it as before', async () => {
    const owner = unique('lane-odd');
    const cases: unknown[] = [
      { query: '{ payment(id: "x") { nope } }' },
      { query: 'query { __schema { queryType { name } } }' },
      { query: paymentRead, variables: { id: null } },
      { query: paymentRead, variables: '{}' },
      { query: 'query A { fxPositions { currency } } query B { fxPositions { currency } }' },
      { query: '{ payment(id: ' },
    ];
    for (const body of cases) {
      const lane = await laneDid(() => send(owner, 'operator', body));
      const apollo = await send(owner, 'operator', { ...(body as object), extensions: {} });
      expect({ ...lane.value, text: withoutStacks(lane.value.text) }).toEqual({
        ...apollo,
        text: withoutStacks(apollo.text),
      });
      expect(lane.did.answered, JSON.stringify(body)).toBe(0);
    }
  });
});
