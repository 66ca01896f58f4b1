import type { ApolloServerOptions, BaseContext } from '@apollo/server';
import { BREAK, GraphQLError, execute, visit, type DocumentNode, type ExecutionResult, type GraphQLSchema, type Source } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';
import { compiledQueriesMax } from '../limits';

/** What Apollo Server's `gateway` option takes (GatewayInterface), as its public constructor type declares it. */
export type GatewayOption = NonNullable<Extract<ApolloServerOptions<BaseContext>, { gateway?: unknown }>['gateway']>;

/**
 * Runs a subgraph's operations with graphql-jit instead of graphql-js's execute, through the one
 * extension point Apollo Server 5 offers for an executor of one's own: its `gateway` option
 * (load() returns the executor; the schema comes from onSchemaLoadOrUpdate). Apollo Server still
 * parses, validates, builds the context, formats errors and writes the answer; only execution
 * changes. A document is compiled once and kept, by its hash and operation name, in a bounded
 * cache (compiledQueriesMax): the subgraph's callers are the gateway's query plans, a small set.
 * Apollo's inline tracing wraps the schema's resolvers the first time a request asks for a trace
 * (our gateway does not): a document compiled before then keeps the resolvers it was compiled
 * with, so its traces carry no per-field timings; its answers are the same.
 */
export function jitExecutor(schema: GraphQLSchema): GatewayOption {
  // A document that graphql-js executes instead (hasConditions) is kept as { graphqlJs: true }.
  const compiled = new LRUCache<string, CompiledQuery | { graphqlJs: true }>({ max: compiledQueriesMax });
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => {};
    },
    async load() {
      return {
        executor: async (request) => {
          const key = `${request.queryHash}:${request.operationName ?? ''}`;
          let query = compiled.get(key);
          if (query === undefined) {
            if (hasConditions(request.document)) {
              query = { graphqlJs: true };
            } else {
              const made = compileQuery(schema, request.document, request.operationName ?? undefined);
              // A document graphql-jit refuses comes back as an execution result with its errors.
              if (!isCompiledQuery(made)) return made;
              query = made;
            }
            compiled.set(key, query);
          }
          const variables = request.request.variables ?? {};
          if ('graphqlJs' in query) {
            return execute({ schema, document: request.document, contextValue: request.context, variableValues: variables, operationName: request.operationName });
          }
          const result = await query.query(undefined, request.context, variables);
          return withGraphQLErrors(result, request.document.loc?.source);
        },
      };
    },
    async stop() {},
  };
}

/**
 * Whether a document uses @skip or @include anywhere. graphql-jit 0.8.9 gets one such shape wrong:
 * a named fragment spread inside a skipped field is answered when another field of the same
 * response key is not skipped (jit-executor.test.ts has it). graphql-js executes these
 * documents: none of the contract's has a condition, and the gateway's query plans have them
 * only where a client's document did.
 */
function hasConditions(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Directive(node) {
      if (node.name.value === 'skip' || node.name.value === 'include') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/**
 * graphql-jit's errors are GraphQLErrors without `extensions` when the thrown error had none,
 * and Apollo Server reads `error.extensions.code` of every error (graphql-js always gives an
 * object): such an answer would lose its code and formatError would never see it. Each error is
 * made again as graphql-js makes a resolver's error, with the same message, path, original
 * error (what formatSubgraphError reads: SHARD_UNAVAILABLE, LOCK_TIMEOUT) and locations, and
 * placed before `data` as graphql-js places them.
 */
function withGraphQLErrors(result: ExecutionResult, source: Source | undefined): ExecutionResult {
  if (!result.errors || result.errors.length === 0) return result;
  const lineStarts = source ? lineStartsOf(source.body) : [];
  const errors = result.errors.map((error) => new GraphQLError(error.message, {
    ...(source && error.locations ? { source, positions: error.locations.map((l) => lineStarts[l.line - 1]! + l.column - 1) } : {}),
    ...(error.path ? { path: error.path } : {}),
    ...(error.originalError ? { originalError: error.originalError } : {}),
    ...(error.extensions ? { extensions: error.extensions } : {}),
  }));
  // graphql-js writes errors before data; the answer's bytes stay the same.
  return { errors, ...(result.data !== undefined ? { data: result.data } : {}), ...(result.extensions ? { extensions: result.extensions } : {}) };
}

/** Where each line of a document starts, as graphql-js counts lines (\r\n, \n or \r). */
function lineStartsOf(body: string): number[] {
  const starts = [0];
  for (const match of body.matchAll(/\r\n|[\n\r]/g)) starts.push(match.index + match[0].length);
  return starts;
}
