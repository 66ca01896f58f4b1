import { GraphQLError } from 'graphql';

/**
 * Authentication and authorization failures are GraphQL errors (the top-level `errors`),
 * never union members: the client did not get to ask a business question.
 */
export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(`not authenticated: ${message}`, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(`forbidden: ${message}`, { extensions: { code: 'FORBIDDEN' } });
}

/** Nothing was written and the same request may be sent again. */
export function retryable(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'RETRYABLE', retryable: true } });
}

export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * The contract's answer when a shard an operation needs cannot be reached: retryable, naming the
 * shard's database, never its host, port or SQL (see shards/unavailable.ts).
 */
export function shardUnavailable(shard: string): GraphQLError {
  return new GraphQLError(`shard ${shard} is unavailable; retry the same request (with the same idempotency key)`, {
    extensions: { code: 'SHARD_UNAVAILABLE', retryable: true, shard },
  });
}
