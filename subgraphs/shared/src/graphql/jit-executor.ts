import type { ApolloServerOptions, BaseContext } from '@apollo/server';
import {
  BREAK,
  GraphQLError,
  execute,
  isNonNullType,
  locatedError,
  responsePathAsArray,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type Source,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';
import { compiledQueriesMax } from '../limits';
import { moveReported } from './partial';

/** What Apollo Server's `gateway` option takes (GatewayInterface), as its public constructor type declares it. */
export type GatewayOption = NonNullable<Extract<ApolloServerOptions<BaseContext>, { gateway?: unknown }>['gateway']>;

/** One operation to run: what Apollo Server hands its executor, or what the subgraph's express lane read itself. */
export interface OperationToRun {
  /** The document's text's SHA-256 in hex, as Apollo Server computes it: with the operation name, the cache key. */
  queryHash: string;
  operationName: string | null;
  document: DocumentNode;
  variables: Record<string, unknown> | undefined;
  context: object;
}

/** The executor Apollo Server runs (`gateway`), and the same execution for the lane (server/subgraph-lane.ts). */
export interface JitExecution {
  gateway: GatewayOption;
  run(operation: OperationToRun): Promise<ExecutionResult>;
}

/**
 * Runs a subgraph's operations with graphql-jit instead of graphql-js's execute, through the one
 * extension point Apollo Server 5 offers for an executor of one's own: its `gateway` option
 * (load() returns the executor; the schema comes from onSchemaLoadOrUpdate), and for the
 * subgraph's express lane (`run`). Apollo Server, or the lane, still parses, validates, builds the
 * context and writes the answer; only execution changes. A document is compiled once and kept, by
 * its hash and operation name, in a bounded cache (compiledQueriesMax): the subgraph's callers are
 * the gateway's query plans, a small set.
 * Apollo's inline tracing wraps the schema's resolvers the first time a request asks for a trace
 * (our gateway does not): a document compiled before then keeps the resolvers it was compiled
 * with, so its traces carry no per-field timings; its answers are the same.
 */
export function jitExecution(schema: GraphQLSchema): JitExecution {
  trackRootFields(schema);
  // A document that graphql-js executes instead (hasConditions) is kept as { graphqlJs: true }.
  const compiled = new LRUCache<string, CompiledQuery | { graphqlJs: true }>({ max: compiledQueriesMax });
  const run = async (operation: OperationToRun): Promise<ExecutionResult> => {
    const { document, operationName, context } = operation;
    const key = `${operation.queryHash}:${operationName ?? ''}`;
    let query = compiled.get(key);
    if (query === undefined) {
      if (hasConditions(document)) {
        query = { graphqlJs: true };
      } else {
        const made = compileQuery(schema, document, operationName ?? undefined);
        // A document graphql-jit refuses comes back as an execution result with its errors.
        if (!isCompiledQuery(made)) return made;
        query = made;
      }
      compiled.set(key, query);
    }
    const variables = operation.variables ?? {};
    const roots: RootField[] = [];
    rootFieldsByContext.set(context, roots);
    if ('graphqlJs' in query) {
      const result = await execute({
        schema,
        document,
        contextValue: context,
        variableValues: variables,
        operationName,
      });
      return result.data === null ? withEveryRootError(result, roots) : result;
    }
    const result = withGraphQLErrors(await query.query(undefined, context, variables), document.loc?.source);
    return result.data === null ? withEveryRootError(result, roots) : result;
  };
  const gateway: GatewayOption = {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => {};
    },
    async load() {
      return {
        executor: async (request) => {
          // What the express lane ran already and hands to Apollo Server to answer (its errors): not run again.
          const handed = takeHandedOver(request.context);
          if (handed !== undefined) return handed;
          return run({
            queryHash: request.queryHash,
            operationName: request.operationName ?? null,
            document: request.document,
            variables: request.request.variables,
            context: request.context,
          });
        },
      };
    },
    async stop() {},
  };
  return { gateway, run };
}

/**
 * An outcome the express lane hands to Apollo Server with the request's context, kept on the context itself: Apollo
 * Server runs the executor with a shallow copy of the context it is given (its own properties, symbols included), so a
 * map keyed by the lane's context would not find it. A thrown error is thrown again, as if the executor had thrown it.
 */
const handedOver = Symbol('handed over by the express lane');

type Handed = { result: ExecutionResult } | { thrown: unknown };

export function handOver(context: object, outcome: Handed): void {
  (context as Record<symbol, { outcome: Handed; ranWith: object } | undefined>)[handedOver] = {
    outcome,
    ranWith: context,
  };
}

/**
 * Whether this request's context carries what the express lane ran: a plugin hook before execution (the account
 * subgraph's rendered answers) then leaves it alone, having run on the lane already.
 */
export function handedOverByLane(context: object): boolean {
  return (context as Record<symbol, unknown>)[handedOver] !== undefined;
}

function takeHandedOver(context: object): ExecutionResult | undefined {
  const holder = context as Record<symbol, { outcome: Handed; ranWith: object } | undefined>;
  const handed = holder[handedOver];
  if (handed === undefined) return undefined;
  holder[handedOver] = undefined;
  // What the resolvers reported beside their data (graphql/partial.ts) is keyed by the context they ran with.
  moveReported(handed.ranWith, context);
  if ('thrown' in handed.outcome) throw handed.outcome.thrown;
  return handed.outcome.result;
}

/** A root field's resolver call in one request: what it was asked and what it answered (a promise). */
interface RootField {
  info: GraphQLResolveInfo;
  outcome: Promise<unknown>;
}

/**
 * Each request's root-field calls, in the order they were made (the operation's field order), by the request's context.
 */
const rootFieldsByContext = new WeakMap<object, RootField[]>();
/** Root fields already wrapped: a schema given to jitExecution twice is wrapped once. */
const trackedResolvers = new WeakSet<GraphQLFieldResolver<unknown, unknown>>();

/**
 * Root fields run in parallel, and when a non-null one fails, graphql-js (and graphql-jit) answer
 * `data: null` at once: the errors of the other root fields that had failed by then are in the
 * answer, those still running are not, and of several non-null ones only the first to fail is
 * (the rest are dropped). So the same request could answer one error or two (seen as a flake in
 * gateway/test/pass-through.test.ts: `account` and `balanceChanges` both FORBIDDEN, forwarded and
 * planned answering differently). Each Query field's resolver is wrapped to note its call and its
 * promise (nothing is awaited, so a successful field costs one array push); an answer whose data
 * is null then waits for every root field to settle and reports all their errors in field order
 * (withEveryRootError). Mutations run serially and stop at their first failure: deterministic.
 */
function trackRootFields(schema: GraphQLSchema): void {
  const fields = schema.getQueryType()?.getFields() ?? {};
  for (const field of Object.values(fields)) {
    const resolve = field.resolve;
    if (resolve === undefined || trackedResolvers.has(resolve)) continue;
    const tracked: GraphQLFieldResolver<unknown, unknown> = (source, args, context, info) => {
      const roots = typeof context === 'object' && context !== null ? rootFieldsByContext.get(context) : undefined;
      if (roots === undefined) return resolve(source, args, context, info);
      let value: unknown;
      try {
        value = resolve(source, args, context, info);
      } catch (error) {
        // Settled now; handled here, as it is read only when data is null.
        const outcome = Promise.reject(error);
        outcome.catch(() => undefined);
        roots.push({ info, outcome });
        throw error;
      }
      if (value instanceof Promise) roots.push({ info, outcome: value });
      return value;
    };
    trackedResolvers.add(tracked);
    field.resolve = tracked;
  }
}

/**
 * An answer whose data a failed root field nulled, made the same whatever the timing: once every
 * root field has settled, the errors are each failed root field's, in field order, as graphql-js
 * locates a resolver's error.
 *
 * When a non-null root field's resolver failed, that alone nulls `data`, and nothing else is
 * answered: a deeper error (a field under another root field) is in graphql-js's answer only if
 * it came before the null did, and its value is discarded either way. It was in one path's answer
 * and not the other's in a clean-clone CI run (gateway/test/pass-through.test.ts, seed 3914156917:
 * `account.balanceAt` refused beside a FORBIDDEN `balanceChanges`). Otherwise a deeper error
 * nulled `data` through non-null fields up to the root, and the answer's other errors stay, as
 * they came.
 */
async function withEveryRootError(result: ExecutionResult, roots: RootField[]): Promise<ExecutionResult> {
  const settled = await Promise.allSettled(roots.map((root) => root.outcome));
  const rootErrors: GraphQLError[] = [];
  const reasons = new Set<unknown>();
  let nonNullRootFailed = false;
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    const { info } = roots[i]!;
    reasons.add(outcome.reason);
    nonNullRootFailed ||= isNonNullType(info.returnType);
    rootErrors.push(locatedError(outcome.reason, info.fieldNodes, responsePathAsArray(info.path)));
  });
  if (rootErrors.length === 0) return result;
  const others = nonNullRootFailed
    ? []
    : (result.errors ?? []).filter((error) => !reasons.has(error.originalError ?? error) && !reasons.has(error));
  return {
    errors: [...rootErrors, ...others],
    data: null,
    ...(result.extensions ? { extensions: result.extensions } : {}),
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
  const errors = result.errors.map(
    (error) =>
      new GraphQLError(error.message, {
        ...(source && error.locations
          ? { source, positions: error.locations.map((l) => lineStarts[l.line - 1]! + l.column - 1) }
          : {}),
        ...(error.path ? { path: error.path } : {}),
        ...(error.originalError ? { originalError: error.originalError } : {}),
        ...(error.extensions ? { extensions: error.extensions } : {}),
      }),
  );
  // graphql-js writes errors before data; the answer's bytes stay the same.
  return {
    errors,
    ...(result.data !== undefined ? { data: result.data } : {}),
    ...(result.extensions ? { extensions: result.extensions } : {}),
  };
}

/** Where each line of a document starts, as graphql-js counts lines (\r\n, \n or \r). */
function lineStartsOf(body: string): number[] {
  const starts = [0];
  for (const match of body.matchAll(/\r\n|[\n\r]/g)) starts.push(match.index + match[0].length);
  return starts;
}
