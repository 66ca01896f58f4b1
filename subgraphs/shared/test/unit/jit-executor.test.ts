import { describe, it, expect } from 'vitest';
import { ApolloServer } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import { jitExecutor } from '@paygraph/shared/graphql/jit-executor';
import { formatSubgraphError } from '@paygraph/shared/server/subgraph';
import { ShardUnavailable } from '@paygraph/shared/shards/unavailable';

/**
 * A subgraph's answers are the same whether graphql-js or graphql-jit executes them: data,
 * and errors with their message, locations, path and extensions as formatSubgraphError makes them.
 */
const typeDefs = parse(`
  type Query { items: [Item!]! item(id: ID!): Item }
  type Item @key(fields: "id") { id: ID! name: String! broken: String coded: String down: String }
`);
const resolvers = {
  Query: {
    items: () => [{ id: '1', name: 'one' }, { id: '2', name: 'two' }],
    item: (_: unknown, args: { id: string }) => ({ id: args.id, name: `item ${args.id}` }),
  },
  Item: {
    __resolveReference: (ref: { id: string }) => (ref.id === 'gone' ? Promise.reject(new ShardUnavailable('s9', 'unreachable')) : { id: ref.id, name: `item ${ref.id}` }),
    broken: () => { throw new Error('a bug'); },
    coded: () => { throw new GraphQLError('refused', { extensions: { code: 'FORBIDDEN' } }); },
    down: async () => { throw new ShardUnavailable('s1', 'connect ECONNREFUSED'); },
  },
};

function server(jit: boolean): ApolloServer {
  const schema = buildSubgraphSchema({ typeDefs, resolvers } as Parameters<typeof buildSubgraphSchema>[0]);
  return new ApolloServer({
    ...(jit ? { gateway: jitExecutor(schema) } : { schema }),
    formatError: (formatted, error) => formatSubgraphError(formatted, error, false),
    includeStacktraceInErrorResponses: false,
  });
}

const documents = [
  '{ items { id name } }',
  '{ items { id\n  broken coded\n    down } }',
  'query One($id: ID!) { item(id: $id) { name down } }',
  '{ _entities(representations: [{ __typename: "Item", id: "a" }, { __typename: "Item", id: "gone" }]) { ... on Item { id name } } }',
  '{ _service { sdl } }',
  // A field merged with a skipped one of the same response key: graphql-jit 0.8.9 answered the
  // skipped one's selection too (found by gateway/test/pass-through.test.ts).
  '{ items @include(if: false) { name } items { id } }',
  '{ items @include(if: false) { ...F } items { id } } fragment F on Item { n: name id }',
  'query Skip($id: ID!, $no: Boolean = false) { item(id: $id) @include(if: $no) { n: name } item(id: $id) { id ... @skip(if: true) { name } } }',
];

describe('the graphql-jit executor', () => {
  it('answers every document as graphql-js does, errors included', async () => {
    const plain = server(false);
    const compiled = server(true);
    await plain.start();
    await compiled.start();
    try {
      for (const query of documents) {
        for (let round = 0; round < 2; round++) {
          const request = { query, variables: { id: '7' } };
          const [a, b] = await Promise.all([plain.executeOperation(request), compiled.executeOperation(request)]);
          expect(JSON.stringify(b.body)).toBe(JSON.stringify(a.body));
        }
      }
      const down = await compiled.executeOperation({ query: documents[1]! });
      const errors = down.body.kind === 'single' ? down.body.singleResult.errors : undefined;
      expect(errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR', 'FORBIDDEN', 'INTERNAL_SERVER_ERROR', 'FORBIDDEN', 'SHARD_UNAVAILABLE', 'SHARD_UNAVAILABLE']);
    } finally {
      await plain.stop();
      await compiled.stop();
    }
  });
});
