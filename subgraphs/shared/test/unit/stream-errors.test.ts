import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { formatStreamErrors } from '../../src/server/subgraph';
import { ShardUnavailable } from '../../src/shards/unavailable';

/**
 * Errors the account subgraph sends over graphql-ws (balance streams) are formatted as its HTTP
 * answers are: graphql-ws alone would send a resolver's error as graphql-js made it, without a
 * code, with a database error's SQL in its message.
 */
function thrownAt(field: string, original: Error): GraphQLError {
  return new GraphQLError(original.message, { path: [field], originalError: original });
}

describe('errors leaving a subgraph over graphql-ws', () => {
  it('answer an unreachable shard as SHARD_UNAVAILABLE, retryable, named by database only', () => {
    const [formatted] = formatStreamErrors(
      [thrownAt('balanceChanged', new ShardUnavailable('paygraph_s1', 'connect ECONNREFUSED 10.1.2.3:3306'))],
      false,
    );
    expect(formatted?.extensions).toEqual({ code: 'SHARD_UNAVAILABLE', retryable: true, shard: 'paygraph_s1' });
    expect(formatted?.path).toEqual(['balanceChanged']);
    expect(JSON.stringify(formatted)).not.toContain('10.1.2.3');
  });

  it("keep a database error's SQL and text from the client, in development and production", () => {
    const failed = Object.assign(
      new Error('Failed query: select `id` from `accounts` where `id` = ?\nparams: acc_secret'),
      {
        sql: 'select `id` from `accounts` where `id` = ?',
      },
    );
    for (const production of [false, true]) {
      const [formatted] = formatStreamErrors([thrownAt('balanceChanged', failed)], production);
      expect(formatted?.message).toBe('internal error');
      expect(formatted?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(formatted)).not.toMatch(/select|accounts|acc_secret/);
    }
  });

  it('hide an unexpected error in production and keep its text in development', () => {
    const bug = new Error('cannot read properties of undefined');
    expect(formatStreamErrors([thrownAt('balanceEvents', bug)], true)[0]?.message).toBe('internal error');
    expect(formatStreamErrors([thrownAt('balanceEvents', bug)], false)[0]?.message).toBe(
      'cannot read properties of undefined',
    );
  });

  it("keep an error's own code, and a validation error as graphql-js wrote it", () => {
    const refused = new GraphQLError('after is not a cursor of this account', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(formatStreamErrors([refused], true)).toEqual([
      { message: 'after is not a cursor of this account', extensions: { code: 'BAD_USER_INPUT' } },
    ]);
    const invalid = new GraphQLError('Cannot query field "nope" on type "Subscription".');
    expect(formatStreamErrors([invalid], true)).toEqual([
      { message: 'Cannot query field "nope" on type "Subscription".' },
    ]);
  });
});
