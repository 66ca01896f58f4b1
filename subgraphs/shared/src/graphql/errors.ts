import { GraphQLError } from 'graphql';
import type { Forbidden } from '../authorization';
import { err, type Result } from '../result';

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

/** The resolver edge of a service's authorization: a refusal (a value there) is thrown as FORBIDDEN. */
export function allowed<T>(result: Result<T, Forbidden>): T {
  if (!result.ok) throw forbidden(result.error.message);
  return result.value;
}

/** A service's answer with its Forbidden refusal thrown as FORBIDDEN, and its business errors kept as values. */
export function authorized<T, E extends { kind: string }>(
  result: Result<T, E | Forbidden>,
): Result<T, Exclude<E, Forbidden>> {
  if (result.ok) return result;
  if (result.error.kind === 'Forbidden') throw forbidden((result.error as Forbidden).message);
  return err(result.error as Exclude<E, Forbidden>);
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
