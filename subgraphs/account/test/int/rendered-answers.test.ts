import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse, type GraphQLSchema } from 'graphql';
import { newId } from '@paygraph/shared/ids';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { log } from '@paygraph/shared/log';
import { renderedAnswers } from '@paygraph/shared/metrics';
import { readSchema } from '@paygraph/shared/server/subgraph';
import type { Role } from '@paygraph/shared/identity';
import { extendContext, type BalanceServices } from '@paygraph/account/context';
import { resolvers } from '@paygraph/account/resolvers/index';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation } from '../../../../test/support/graphql';
import { asGateway, testTrusts, unique } from '../../../../test/support/env';
import { listen } from '@paygraph/shared/server/http';
import { createAccountSubgraph } from '@paygraph/account/server';
import { renderedAnswerBoundsDefault, type RenderedAnswerBounds } from '@paygraph/account/services/rendered-answers';
import { depositFromReserve, withdrawToReserve } from '../../../../test/support/ledger';

/**
 * The account subgraph's rendered answers (services/rendered-answers.ts): a read answered again
 * from the text it was answered with is byte for byte what graphql-js executes for it now, over
 * varied documents (aliases, fragments, variables, directives, operation names, nulls); it reads
 * only the account's row; it is never served to another reader, nor after anything of the
 * account changed (an entry, its status, its credit limit); answers with errors are never kept;
 * documents that read more than the row and its first page are executed every time.
 */
let stack: Stack;
/** graphql-js's own execution of the subgraph's schema, without Apollo Server, graphql-jit or the plugin. */
let plainSchema: GraphQLSchema;

beforeAll(async () => {
  stack = await defaultStack();
  plainSchema = buildSubgraphSchema([{ typeDefs: parse(readSchema('account')), resolvers }]);
});

afterAll(async () => {
  await stack.stop();
});

interface Reader {
  sub: string;
  role: Role;
}

const operator: Reader = { sub: 'rendered-operator', role: 'operator' };

/** A PERSONAL account of `owner` with `count` entries, on the first shard. */
async function accountWithEntries(owner: string, count: number): Promise<string> {
  const shard = stack.shards.all[0]!;
  const id = newId('account', stack.shards.logicalOn(shard)[0]!);
  await insertAccount(shard.db, { id, ownerId: owner, type: 'PERSONAL', currency: 'USD' });
  for (let i = 0; i < count; i++) {
    const outcome =
      i % 4 === 3
        ? await withdrawToReserve(stack.shards, id, 5n)
        : await depositFromReserve(stack.shards, id, 100n + BigInt(i));
    expect(outcome.status).toBe('APPLIED');
  }
  return id;
}

interface Asked {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

/** The subgraph's answer as text, as the gateway receives it, and the statements it ran on the first shard. */
async function ask(
  reader: Reader,
  asked: Asked,
  url: string = stack.subgraphUrls.account,
): Promise<{ text: string; statements: number }> {
  const shard = stack.shards.all[0]!;
  const before = shard.queryCount;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await asGateway('account', reader.sub, reader.role)) },
    body: JSON.stringify(asked),
  });
  const text = await response.text();
  return { text, statements: shard.queryCount - before };
}

/** What graphql-js answers for a request of data alone, written as Apollo Server writes it. */
async function graphqlJs(reader: Reader, asked: Asked): Promise<string> {
  const context = extendContext(
    { identity: reader, shards: stack.shards, log: log() },
    // The balance services serve subscriptions and entities, which no document here asks.
    {} as BalanceServices,
  );
  const result = await execute({
    schema: plainSchema,
    document: parse(asked.query),
    contextValue: context,
    variableValues: asked.variables ?? {},
    operationName: asked.operationName ?? null,
  });
  expect(result.errors).toBeUndefined();
  return `${JSON.stringify({ data: result.data })}\n`;
}

async function outcomes(): Promise<Record<string, number>> {
  const metric = await renderedAnswers.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.outcome), v.value]));
}

async function countsSince(before: Record<string, number>): Promise<Record<string, number>> {
  const now = await outcomes();
  return Object.fromEntries(['hit', 'miss', 'kept'].map((k) => [k, (now[k] ?? 0) - (before[k] ?? 0)]));
}

const entryNode = 'node { id sequence amount direction balanceAfter createdAt }';

/** Reusable documents: each is a function of the reader, the variables and the row's state. */
function reusableDocuments(id: string): Array<{ name: string; asked: Asked; entries: boolean }> {
  return [
    {
      name: 'the contract GetAccount',
      asked: { query: contractOperation('GetAccount'), variables: { id } },
      entries: true,
    },
    {
      name: 'aliases, fields in another order, a page of 3',
      asked: {
        query: `query($id: ID!) { acct: account(id: $id) { b: balance { t: total available } status cur: currency id
          e: entries(first: 3) { pageInfo { endCursor hasNextPage } edges { node { createdAt amount s: sequence } c: cursor } } } }`,
        variables: { id },
      },
      entries: true,
    },
    {
      name: 'named fragments on Account, Balance and Entry, nested',
      asked: {
        query: `query Get($id: ID!) { account(id: $id) { ...Head } }
          fragment Head on Account { id type ...Money entries(first: 4) { edges { cursor node { ...Line } } } }
          fragment Money on Account { balance { ...Sums } }
          fragment Sums on Balance { available frozen pending total creditLimit creditUsed }
          fragment Line on Entry { id bucket postingId direction balanceAfter __typename }`,
        variables: { id },
      },
      entries: true,
    },
    {
      name: 'inline fragments and __typename at every level',
      asked: {
        query: `query($id: ID!) { __typename account(id: $id) { __typename ... on Account { id ownerId }
          ... { version createdAt entries(first: 2) { __typename edges { __typename ${entryNode} }
          pageInfo { __typename hasNextPage } } } } }`,
        variables: { id },
      },
      entries: true,
    },
    {
      name: 'the page size from a variable',
      asked: {
        query: `query($id: ID!, $n: Int) { account(id: $id) { entries(first: $n) { edges { cursor ${entryNode} } } } }`,
        variables: { id, n: 5 },
      },
      entries: true,
    },
    {
      name: 'the page size variable left out (the default, 20)',
      asked: {
        query: `query($id: ID!, $n: Int) { account(id: $id) { entries(first: $n) { edges { cursor } pageInfo { endCursor } } } }`,
        variables: { id },
      },
      entries: true,
    },
    {
      name: '@include and @skip from variables',
      asked: {
        query: `query($id: ID!, $money: Boolean!, $lines: Boolean!) { account(id: $id) { id
          balance @include(if: $money) { total } entries(first: 2) @skip(if: $lines) { edges { cursor } } } }`,
        variables: { id, money: true, lines: false },
      },
      entries: true,
    },
    {
      name: 'a literal id, no entries',
      asked: {
        query: `{ account(id: "${id}") { id version createdAt ownerId type currency status } }`,
      },
      entries: false,
    },
    {
      name: 'one of two operations, by name',
      asked: {
        query: `query A($id: ID!) { account(id: $id) { id } }
          query B($id: ID!) { account(id: $id) { status balance { creditLimit creditUsed } } }`,
        variables: { id },
        operationName: 'B',
      },
      entries: false,
    },
  ];
}

describe('a rendered answer served again', () => {
  it('is byte for byte what graphql-js answers, over varied documents, and reads only the row', async () => {
    const owner = unique('rendered-owner');
    const full = await accountWithEntries(owner, 9);
    const empty = await accountWithEntries(owner, 0);
    for (const id of [full, empty]) {
      for (const { name, asked, entries } of reusableDocuments(id)) {
        const expected = await graphqlJs(operator, asked);
        const before = await outcomes();
        const first = await ask(operator, asked);
        expect(first.text, `${name}: rendered`).toBe(expected);
        // Nothing kept yet: the row and its page are read as ever, in one round trip.
        expect(first.statements, name).toBe(entries ? 2 : 1);
        expect(await countsSince(before), name).toEqual({ hit: 0, miss: 1, kept: 1 });
        const again = await ask(operator, asked);
        expect(again.text, `${name}: served again`).toBe(expected);
        expect(again.statements, name).toBe(1);
        expect(await countsSince(before), name).toEqual({ hit: 1, miss: 1, kept: 1 });
      }
    }
  });

  it('is served under its variables only: another page size is rendered for itself', async () => {
    const id = await accountWithEntries(unique('rendered-owner'), 6);
    const query = `query($id: ID!, $n: Int) { account(id: $id) { entries(first: $n) { edges { ${entryNode} } } } }`;
    for (const n of [1, 2, 1, 2]) await ask(operator, { query, variables: { id, n } });
    const before = await outcomes();
    const three = await ask(operator, { query, variables: { id, n: 3 } });
    expect(three.text).toBe(await graphqlJs(operator, { query, variables: { id, n: 3 } }));
    expect(await countsSince(before)).toEqual({ hit: 0, miss: 1, kept: 1 });
  });
});

describe('a rendered answer and its readers', () => {
  it('is never served to another reader: the owner, a stranger, another role of the same subject', async () => {
    const owner = unique('rendered-owner');
    const id = await accountWithEntries(owner, 3);
    const asked = { query: contractOperation('GetAccount'), variables: { id } };
    await ask(operator, asked);
    expect((await ask(operator, asked)).statements).toBe(1);

    const ownerReader: Reader = { sub: owner, role: 'customer' };
    let before = await outcomes();
    expect((await ask(ownerReader, asked)).text).toBe(await graphqlJs(ownerReader, asked));
    expect(await countsSince(before)).toEqual({ hit: 0, miss: 1, kept: 1 });

    // A stranger is refused, every time: nothing rendered for a reader is shown to it, and a refusal is not kept.
    const stranger: Reader = { sub: unique('stranger'), role: 'customer' };
    before = await outcomes();
    for (let i = 0; i < 2; i++) {
      const refused = JSON.parse((await ask(stranger, asked)).text) as {
        data: { account: { ownerId: unknown; balance: unknown; entries: unknown } | null };
        errors?: Array<{ extensions?: { code?: string } }>;
      };
      expect(refused.errors?.map((e) => e.extensions?.code)).toContain('FORBIDDEN');
      expect(JSON.stringify(refused.data)).not.toContain(owner);
    }
    expect(await countsSince(before)).toEqual({ hit: 0, miss: 2, kept: 0 });

    // The owner's subject with another role is another reader (a partner may read its own accounts too).
    const partner: Reader = { sub: owner, role: 'partner' };
    before = await outcomes();
    expect((await ask(partner, asked)).text).toBe(await graphqlJs(partner, asked));
    expect(await countsSince(before)).toEqual({ hit: 0, miss: 1, kept: 1 });
  });
});

describe('a rendered answer and the account', () => {
  it('is never served once the account changed: a new entry, its status, its credit limit', async () => {
    const owner = unique('rendered-owner');
    const id = await accountWithEntries(owner, 4);
    const asked = {
      query: `query($id: ID!) { account(id: $id) { status balance { available creditLimit }
        entries(first: 3) { edges { cursor ${entryNode} } } } }`,
      variables: { id },
    };
    const changes: Array<[string, () => Promise<void>]> = [
      ['a deposit', async () => void (await depositFromReserve(stack.shards, id, 77n))],
      ['a withdrawal', async () => void (await withdrawToReserve(stack.shards, id, 3n))],
      ['freezing', () => mutate(`mutation($id: ID!) { freezeAccount(id: $id) { __typename } }`, { id })],
      ['unfreezing', () => mutate(`mutation($id: ID!) { unfreezeAccount(id: $id) { __typename } }`, { id })],
      [
        'a credit limit',
        () =>
          mutate(`mutation($a: ID!) { setCreditLimit(input: { accountId: $a, limit: "500" }) { __typename } }`, {
            a: id,
          }),
      ],
    ];
    let previous = (await ask(operator, asked)).text;
    expect((await ask(operator, asked)).text).toBe(previous);
    for (const [name, change] of changes) {
      await change();
      const before = await outcomes();
      const now = await ask(operator, asked);
      expect(now.text, name).not.toBe(previous);
      expect(now.text, name).toBe(await graphqlJs(operator, asked));
      expect(await countsSince(before), name).toEqual({ hit: 0, miss: 1, kept: 1 });
      // The row read to look the answer up, then the row and its page read to render it.
      expect(now.statements, name).toBe(3);
      previous = now.text;
    }
  });
});

describe('documents that read more than the row and its first page', () => {
  it('are executed every time', async () => {
    const owner = unique('rendered-owner');
    const id = await accountWithEntries(owner, 3);
    const other = await accountWithEntries(owner, 1);
    const page = JSON.parse((await ask(operator, { query: contractOperation('GetAccount'), variables: { id } })).text);
    const after = page.data.account.entries.edges[0].cursor as string;
    const documents: Asked[] = [
      { query: contractOperation('AccountsByOwner'), variables: { ownerId: owner } },
      {
        query: `query($id: ID!, $a: String) { account(id: $id) { entries(first: 2, after: $a) { edges { cursor } } } }`,
        variables: { id, a: after },
      },
      {
        query: `query($id: ID!) { account(id: $id) { statement(from: "2020-01-01", to: "2020-01-02") { closing } } }`,
        variables: { id },
      },
      {
        query: `query($id: ID!, $o: ID!) { a: account(id: $id) { id } b: account(id: $o) { id } }`,
        variables: { id, o: other },
      },
      {
        query: `query($id: ID!, $t: Boolean!) { account(id: $id) @include(if: $t) { id } }`,
        variables: { id, t: true },
      },
    ];
    for (const asked of documents) {
      const before = await outcomes();
      for (let i = 0; i < 2; i++) expect((await ask(operator, asked)).text).toBe(await graphqlJs(operator, asked));
      expect(await countsSince(before), asked.query).toEqual({ hit: 0, miss: 0, kept: 0 });
    }
  });
});

describe('rendered answers kept', () => {
  /** An account subgraph of its own on the stack's shards, keeping answers within `bounds`, or none (false). */
  async function subgraphWithin(bounds: Partial<RenderedAnswerBounds> | false) {
    const server = await createAccountSubgraph(stack.shards, testTrusts().account, undefined, {
      renderedAnswers: bounds === false ? false : { ...renderedAnswerBoundsDefault, ...bounds },
      // Its first pass would read every shard as this file counts one answer's statements.
      booksCheckIntervalMs: null,
    });
    const port = await listen(server.http, 0, '127.0.0.1');
    const stop = async () => {
      await Promise.all(server.disposers.map((dispose) => dispose()));
      server.http.closeAllConnections();
      server.http.close();
      await server.apollo.stop();
    };
    return { url: `http://127.0.0.1:${port}/graphql`, stop };
  }

  it("stay within a reader's count and bytes, everyone's bytes, and one answer's size", async () => {
    const owner = unique('rendered-owner');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await accountWithEntries(owner, 2));
    const asked = (id: string) => ({ query: contractOperation('GetAccount'), variables: { id } });
    const served = async (url: string, reader: Reader, id: string) => {
      const before = await outcomes();
      const answer = await ask(reader, asked(id), url);
      expect(answer.text).toBe(await graphqlJs(reader, asked(id)));
      return (await countsSince(before)).hit === 1;
    };
    const size = (await ask(operator, asked(ids[0]!))).text.length;

    // Two answers per reader: the third pushes out the least recently used.
    const two = await subgraphWithin({ answersPerReader: 2 });
    try {
      for (const id of ids) expect(await served(two.url, operator, id)).toBe(false);
      expect(await served(two.url, operator, ids[0]!)).toBe(false);
      expect(await served(two.url, operator, ids[2]!)).toBe(true);
    } finally {
      await two.stop();
    }

    // Room for one answer per reader and two in all: a third reader's pushes out the least recently used reader.
    const readers: Reader[] = [0, 1, 2].map((i) => ({ sub: `${owner}-op${i}`, role: 'operator' }));
    const small = await subgraphWithin({ bytesOfOne: size, bytesPerReader: size, bytes: 2 * size });
    try {
      expect(await served(small.url, readers[0]!, ids[0]!)).toBe(false);
      expect(await served(small.url, readers[0]!, ids[1]!)).toBe(false);
      expect(await served(small.url, readers[0]!, ids[0]!)).toBe(false);
      expect(await served(small.url, readers[1]!, ids[0]!)).toBe(false);
      expect(await served(small.url, readers[2]!, ids[0]!)).toBe(false);
      expect(await served(small.url, readers[0]!, ids[0]!)).toBe(false);
      expect(await served(small.url, readers[2]!, ids[0]!)).toBe(true);
    } finally {
      await small.stop();
    }

    // An answer larger than one may be is never kept.
    const tiny = await subgraphWithin({ bytesOfOne: size - 1 });
    try {
      for (let i = 0; i < 2; i++) expect(await served(tiny.url, operator, ids[0]!)).toBe(false);
    } finally {
      await tiny.stop();
    }
  });

  it('are none with RENDERED_ANSWERS=false: every read is rendered, its row and page read each time', async () => {
    const id = await accountWithEntries(unique('rendered-owner'), 3);
    const asked = { query: contractOperation('GetAccount'), variables: { id } };
    const expected = await graphqlJs(operator, asked);
    const off = await subgraphWithin(false);
    try {
      const before = await outcomes();
      for (let i = 0; i < 3; i++) {
        const answer = await ask(operator, asked, off.url);
        expect(answer.text).toBe(expected);
        expect(answer.statements).toBe(2);
      }
      expect(await countsSince(before)).toEqual({ hit: 0, miss: 0, kept: 0 });
    } finally {
      await off.stop();
    }
  });
});

async function mutate(query: string, variables: Record<string, unknown>): Promise<void> {
  const answer = JSON.parse((await ask(operator, { query, variables })).text) as { errors?: unknown };
  expect(answer.errors).toBeUndefined();
}
