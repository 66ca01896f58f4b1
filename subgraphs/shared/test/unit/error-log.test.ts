import { ApolloServer } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorLogPlugin, type BaseSubgraphContext } from '../../src/server/subgraph';
import { ShardUnavailable } from '../../src/shards/unavailable';

/**
 * A subgraph's error lines are written with the request's own logger (ctx.log), which names the
 * request's id: Apollo's formatError, where they were written before, is not given the request.
 */
interface Line {
  requestId?: string;
  msg?: string;
  detail?: string;
}

const server = new ApolloServer<BaseSubgraphContext>({
  typeDefs: 'type Query { broken: Int  away: Int  refused: Int  fine: Int }',
  resolvers: {
    Query: {
      broken: () => {
        throw new Error('cannot read properties of undefined');
      },
      away: () => {
        throw new ShardUnavailable('paygraph_s1', 'connect ECONNREFUSED');
      },
      refused: () => {
        throw new GraphQLError('not yours', { extensions: { code: 'FORBIDDEN' } });
      },
      fine: () => 1,
    },
  },
  plugins: [errorLogPlugin],
});

async function linesOf(query: string, requestId: string): Promise<Line[]> {
  const lines: Line[] = [];
  const log = pino({}, { write: (line: string) => void lines.push(JSON.parse(line) as Line) }).child({ requestId });
  await server.executeOperation(
    { query },
    { contextValue: { identity: { sub: 'error-log', role: 'operator' }, shards: undefined as never, log } },
  );
  return lines;
}

describe("a subgraph's error lines", () => {
  it('name the request for an unexpected error', async () => {
    expect(await linesOf('{ broken fine }', 'req-broken.1')).toEqual([
      expect.objectContaining({ requestId: 'req-broken.1', msg: 'resolver failed' }),
    ]);
  });

  it('name the request and the shard for an unreachable shard', async () => {
    expect(await linesOf('{ away }', 'req-away.1')).toEqual([
      expect.objectContaining({
        requestId: 'req-away.1',
        msg: 'shard paygraph_s1 unavailable',
        detail: 'connect ECONNREFUSED',
      }),
    ]);
  });

  it('are not written for a refusal the client is told of, nor for an answer without errors', async () => {
    expect(await linesOf('{ refused }', 'req-refused.1')).toEqual([]);
    expect(await linesOf('{ fine }', 'req-fine.1')).toEqual([]);
  });
});
