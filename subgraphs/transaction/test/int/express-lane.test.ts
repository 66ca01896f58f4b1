import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { renderedAnswers, subgraphLaneRequests } from '@paygraph/shared/metrics';
import { renderedHaveHeader, renderedTagHeader } from '@paygraph/shared/server/subgraph-lane';
import type { Stack } from '../../../../test/support/stack';
import { asGateway, token, unique } from '../../../../test/support/env';
import { contractOperation } from '../../../../test/support/graphql';
import { shardCostOf } from '../../../../test/support/shard-cost';
import { paymentEnded } from '../../../../test/support/bank';
import { type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * The subgraphs' express lane (subgraphs/shared/src/server/subgraph-lane.ts), on the transaction subgraph and on the
 * account subgraph with its rendered answers: what it answers is what Apollo Server answers for the same request, byte
 * for byte, headers and status included; what it ran and could not answer alone (errors) Apollo Server answers without
 * running it again; what it does not recognise Apollo Server answers as before. A body with `extensions` is Apollo Server's alone: the same request with and
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
  /** The kept answer's tag the subgraph named (renderedTagHeader), when it served one again. */
  tag?: string;
}

/** A POST to a subgraph (the transaction one unless named) as the gateway sends one, as `sub` with `role`. */
async function send(
  sub: string,
  role: 'customer' | 'operator',
  body: unknown,
  accept?: string,
  subgraph: 'transaction' | 'account' = 'transaction',
): Promise<Sent> {
  const answer = await request(stack.subgraphUrls[subgraph], {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(accept ? { accept } : {}),
      ...(await asGateway(subgraph, sub, role)),
    },
    body: JSON.stringify(body),
  });
  const text = await answer.body.text();
  const tag = answer.headers[renderedTagHeader];
  const skip = new Set(['date', 'x-request-id', 'content-length', 'keep-alive', 'connection']);
  return {
    status: answer.statusCode,
    contentType: answer.headers['content-type'] as string | undefined,
    headerNames: Object.keys(answer.headers)
      .filter((h) => !skip.has(h))
      .sort(),
    text,
    ...(typeof tag === 'string' ? { tag } : {}),
  };
}

/** A POST of the trusted text to the gateway, as a client with `bearer` (and any headers of its own): the answer's text. */
async function viaGateway(bearer: string, body: unknown, headers: Record<string, string>): Promise<string> {
  const answer = await request(stack.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, ...headers },
    body: JSON.stringify(body),
  });
  return answer.body.text();
}

async function counts(): Promise<Record<string, number>> {
  const lane = await subgraphLaneRequests.get();
  const rendered = await renderedAnswers.get();
  return Object.fromEntries([
    ...lane.values.map((v) => [String(v.labels.outcome), v.value]),
    ...rendered.values.map((v) => [`rendered ${String(v.labels.outcome)}`, v.value]),
  ]);
}

/** What the lane did for the requests `fn` sent (answered, handed to Apollo Server, declined), and rendered answers. */
async function laneDid<T>(fn: () => Promise<T>): Promise<{ value: T; did: Record<string, number> }> {
  const before = await counts();
  const value = await fn();
  const after = await counts();
  const names = ['answered', 'same', 'handed', 'declined', 'rendered hit', 'rendered miss', 'rendered kept'];
  const did = Object.fromEntries(names.map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
  return { value, did };
}

/** An error's text as Apollo Server writes it, without the stack trace (it names the functions that ran it). */
function withoutStacks(text: string): unknown {
  const answer = JSON.parse(text) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
  for (const error of answer.errors ?? []) delete error.extensions?.stacktrace;
  return answer;
}

describe("the subgraphs' express lane", () => {
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

  it("serves the account subgraph's rendered answer again on the lane, as its plugin does in the pipeline", async () => {
    const owner = unique('lane-reader');
    const account = await kit.open(owner);
    await kit.fund(account, '300');
    const body = { query: contractOperation('GetAccount'), variables: { id: account } };
    const read = () => send(owner, 'customer', body, undefined, 'account');
    const first = await laneDid(read);
    expect(first.did).toMatchObject({ answered: 1, 'rendered miss': 1, 'rendered kept': 1 });
    const again = await laneDid(read);
    expect(again.did).toMatchObject({ answered: 1, 'rendered hit': 1, 'rendered miss': 0 });
    const pipeline = await laneDid(() => send(owner, 'customer', { ...body, extensions: {} }, undefined, 'account'));
    expect(pipeline.did).toMatchObject({ answered: 0, declined: 1, 'rendered hit': 1 });
    // Kept as it was written, and served again, the answer names its kept text's tag (renderedTagHeader); served
    // again, in the pipeline as on the lane.
    expect(first.value.headerNames).toContain(renderedTagHeader);
    expect(again.value).toEqual(first.value);
    expect(pipeline.value).toEqual(again.value);
    // Another reader is refused (FORBIDDEN: handed to Apollo Server), and its plugin does not count it twice.
    const stranger = await laneDid(() => send(unique('lane-stranger'), 'customer', body, undefined, 'account'));
    expect(stranger.did).toMatchObject({ handed: 1, 'rendered miss': 1, 'rendered hit': 0, 'rendered kept': 0 });
  });

  it("keeps the gateway a copy of a kept answer, which it writes when the subgraph answers 'the same'", async () => {
    const owner = unique('copy-reader');
    const bearer = await token(owner, 'customer');
    const account = await kit.open(owner);
    await kit.fund(account, '300');
    const body = { query: contractOperation('GetAccount'), variables: { id: account } };
    const read = (as: string = bearer, headers: Record<string, string> = {}) =>
      laneDid(() => viaGateway(as, body, headers));
    // Rendered and kept, with its tag, which the gateway keeps with the text; then "the same".
    const first = await read();
    expect(first.did).toMatchObject({ answered: 1, 'rendered miss': 1, 'rendered kept': 1, same: 0 });
    const copied = await read();
    expect(copied.did).toMatchObject({ answered: 0, same: 1, 'rendered hit': 1 });
    expect(copied.value).toBe(first.value);
    expect(JSON.parse(copied.value)).toMatchObject({
      data: { account: { id: account, balance: { available: '300' } } },
    });
    // A payment moves the row: the copy is not the answer any more, and what is written is the new state.
    const payee = await kit.open(unique('copy-payee'));
    await paymentEnded(await kit.paid(bearer, { payer: account, payee, amount: '25' }));
    const moved = await read();
    expect(moved.did).toMatchObject({ same: 0, 'rendered miss': 1, 'rendered kept': 1 });
    expect(JSON.parse(moved.value)).toMatchObject({ data: { account: { balance: { available: '275' } } } });
    const copiedAgain = await read();
    expect(copiedAgain.did).toMatchObject({ same: 1 });
    expect(copiedAgain.value).toBe(moved.value);
    // Another reader, sending the owner's tag as a header of its own: refused, and never served the owner's copy.
    const tag = (await send(owner, 'customer', body, undefined, 'account')).tag!;
    const stranger = await token(unique('copy-stranger'), 'customer');
    for (let i = 0; i < 3; i++) {
      const theirs = await read(stranger, { [renderedHaveHeader]: tag });
      expect(theirs.did).toMatchObject({ same: 0 });
      expect(JSON.parse(theirs.value)).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    }
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
