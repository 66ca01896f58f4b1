import { GraphQLError, execute, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { ERRORS, errorCodeDef } from '@apollo/federation-internals';
import type { ApolloGateway, GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayOption } from '@paygraph/shared/graphql/jit-executor';
import { inClientSpan } from '@paygraph/shared/tracing';
import { coercedVariablesOf } from '../coerced-variables';
import { singleFetchRouter, type SingleFetchRoute, type SingleFetchRouter } from './single-fetch';
import { cacheHintOf, type CacheHint } from './cache-control';

type Executor = NonNullable<Awaited<ReturnType<GatewayOption['load']>>['executor']>;
type ExecutorContext = Parameters<Executor>[0];
/** The data sources as @apollo/gateway types them: its executor's context is `Record<string, any>`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- @apollo/gateway's own context type
export type DataSource = GraphQLDataSource<Record<string, any>>;
type ExecutionResult = Awaited<ReturnType<Executor>>;

/**
 * The kind of a data source call made for a client's operation. @apollo/gateway's package index
 * exports the process options' type but not the enum it names, whose declared value this is.
 */
const incomingOperation = 'incoming operation' as Extract<
  GraphQLDataSourceProcessOptions,
  { incomingRequestContext: unknown }
>['kind'];

/**
 * How an operation was executed: its client's document sent to the one subgraph that serves it, or @apollo/gateway's
 * query plan.
 */
export type OperationPath = 'forwarded' | 'planned';

export interface PassThroughOptions {
  /** Off: every operation takes the planned path (the comparison tests run both). */
  enabled: boolean;
  /** Called once per executed operation with the path it took. */
  onPath?: (path: OperationPath) => void;
}

/**
 * @apollo/gateway behind Apollo Server's `gateway` option, with one shortcut: an operation whose
 * query plan is a single fetch to one subgraph, and whose answer from that subgraph is the
 * planned path's answer (single-fetch.ts), is sent to that subgraph as the client wrote it, and
 * the answer is handed on without @apollo/gateway's result shaping, which walks and rebuilds every
 * field of the answer (17% of the gateway's CPU on GetAccount, docs/PERFORMANCE.md); an answer that
 * is data alone is not even parsed, but written as the subgraph wrote it (raw-answer.ts).
 *
 * Only execution changes: Apollo Server still parses, validates and runs every plugin around the
 * executor (authentication, operation and rate limits, audit, metrics, request ids) and formats
 * errors, and the call goes through the subgraph's own data source (`process`, the documented
 * entry @apollo/gateway's plan executor uses too): the same secret, signed identity, request id,
 * client headers, trace context, timeouts, and SUBGRAPH_UNAVAILABLE for a subgraph that does not
 * answer. Its errors are turned into the gateway's as @apollo/gateway does it (`serviceName` added
 * to extensions, locations dropped), and a call that fails leaves the operation's root fields
 * null, as the planned path's result shaping does over an empty answer. Variables are checked
 * first, as @apollo/gateway's executor checks them: those that do not coerce against the API
 * schema are answered with graphql-js's errors and nothing is sent.
 */
export interface PassThrough {
  /** Apollo Server's `gateway` option. */
  gateway: GatewayOption;
  /** The router of the schema loaded (single-fetch.ts); null before the schema loads, or with pass-through off. */
  router(): SingleFetchRouter | null;
}

export function passThroughGateway(
  inner: ApolloGateway,
  dataSources: ReadonlyMap<string, DataSource>,
  options: PassThroughOptions,
): PassThrough {
  let router: SingleFetchRouter | null = null;
  if (options.enabled) {
    inner.onSchemaLoadOrUpdate(({ apiSchema, coreSupergraphSdl }) => {
      router = singleFetchRouter(coreSupergraphSdl, apiSchema);
    });
  }
  const onPath = options.onPath ?? (() => {});
  const gateway: GatewayOption = {
    onSchemaLoadOrUpdate: (callback) => inner.onSchemaLoadOrUpdate(callback),
    stop: () => inner.stop(),
    async load(loadOptions) {
      const { executor: planned } = await inner.load(loadOptions);
      if (!planned) throw new Error('@apollo/gateway loaded without an executor');
      return {
        executor: async (requestContext) => {
          // The express lane fetched this operation's answer already (express-lane.ts): it is shaped here, not fetched.
          const fetched = (requestContext.context as { prefetched?: Prefetched }).prefetched;
          if (fetched) {
            restrictCachePolicy(requestContext, fetched.outcome);
            return shapedAnswer(requestContext, fetched.outcome, fetched.subgraph);
          }
          const route =
            router?.route(
              requestContext.document,
              requestContext.source,
              requestContext.operationName,
              requestContext.queryHash,
            ) ?? null;
          const dataSource = route ? dataSources.get(route.subgraph) : undefined;
          if (!route || !dataSource) {
            onPath('planned');
            return planned(requestContext);
          }
          onPath('forwarded');
          // Variables that do not coerce are refused here, before any subgraph is called, with
          // the errors @apollo/gateway's executor answers (its validateIncomingRequest): Apollo
          // Server then makes them the same BAD_USER_INPUT and HTTP 400 on either path.
          const operation = requestContext.operation;
          const variables = operation
            ? coercedVariablesOf(
                requestContext.context,
                requestContext.schema as GraphQLSchema,
                operation,
                requestContext.request.variables,
              )
            : null;
          if (variables && !variables.ok) return { errors: [...variables.errors] };
          const outcome = await fetchForwarded(
            requestContext.request,
            requestContext.context,
            route,
            dataSource,
            requestContext,
          );
          return shapedAnswer(requestContext, outcome, route.subgraph);
        },
      };
    },
  };
  return { gateway, router: () => router };
}

/**
 * What a forwarded call came to: the subgraph's answer (its body as the data source parsed it: data alone stays text,
 * raw-answer.ts), or what the data source threw (SUBGRAPH_UNAVAILABLE, a refusal's HTTP status, a bug).
 */
export type ForwardOutcome = { ok: true; response: GraphQLResponseBody } | { ok: false; error: unknown };
type GraphQLResponseBody = Awaited<ReturnType<DataSource['process']>>;

/** An answer the express lane fetched ahead (context.ts `prefetched`): the executor shapes it, Apollo Server writes it. */
interface Prefetched {
  subgraph: string;
  outcome: ForwardOutcome;
}

type IncomingRequestContext = Extract<
  GraphQLDataSourceProcessOptions,
  { incomingRequestContext: unknown }
>['incomingRequestContext'];

/**
 * What the express lane gives as the incoming request's context: RemoteGraphQLDataSource reads it for the cache
 * policy alone (overallCachePolicy), which Apollo Server's cache-control plugin makes and the lane has none of. The
 * lane writes the header the plugin would from the subgraph's answer itself, or hands the answer to Apollo Server,
 * whose policy the executor then restricts as the data source would have (cache-control.ts, restrictCachePolicy).
 */
const noCachePolicy = {} as IncomingRequestContext;

/** A call the express lane makes (its request has no cache policy): the data source makes it by laneCall (lane-call.ts). */
export function isLaneCall(options: GraphQLDataSourceProcessOptions): boolean {
  return options.kind === incomingOperation && options.incomingRequestContext === noCachePolicy;
}

/** The request part of what a forwarded call needs: its variables, operation name, and whether it came over HTTP. */
export interface ForwardedRequest {
  variables?: Record<string, unknown> | undefined;
  operationName?: string | null | undefined;
  /** Set over HTTP, where the answer is written by stringifyResult (and may be the subgraph's text). */
  http?: unknown;
}

/**
 * The client's document sent to the one subgraph that serves it, through the subgraph's own data source (`process`,
 * the documented entry @apollo/gateway's plan executor uses too): the same secret, signed identity, request id,
 * client headers, trace context, timeouts, and SUBGRAPH_UNAVAILABLE for a subgraph that does not answer.
 */
export function fetchForwarded(
  request: ForwardedRequest,
  context: object,
  route: SingleFetchRoute,
  dataSource: DataSource,
  incoming: IncomingRequestContext = noCachePolicy,
): Promise<ForwardOutcome> {
  return inClientSpan('gateway.fetch', { service: route.subgraph }, async () => {
    try {
      const response = await dataSource.process({
        kind: incomingOperation,
        request: {
          query: route.query,
          variables: request.variables ?? {},
          ...(request.operationName ? { operationName: request.operationName } : {}),
        },
        incomingRequestContext: incoming,
        // Over HTTP the answer is written by stringifyResult, which can write the subgraph's text; graphql-ws hands the
        // result object on, so its calls keep the request's context and their answers are parsed.
        context: (request.http ? forwardedCallContext(context) : context) as Record<string, unknown>,
        pathInIncomingRequest: [],
      });
      return { ok: true, response };
    } catch (error) {
      return { ok: false, error };
    }
  });
}

/**
 * The contexts of forwarded calls: each call gets a copy of the request's context of its own (the
 * data source reads the caller's identity, request id and logger from it; nothing writes to it), so
 * that its data source can tell it apart from the planned path's fetches of the same request (a
 * graphql-ws connection runs all its operations with one context) and hand the subgraph's answer on
 * unparsed (raw-answer.ts). A copy, not an object whose prototype is the context: that made a new
 * hidden class per request, and every read of the context in the data source megamorphic.
 */
const forwardedCalls = new WeakSet<object>();

export function isForwardedCall(context: object | undefined): boolean {
  return context !== undefined && forwardedCalls.has(context);
}

function forwardedCallContext<T extends object>(context: T): T {
  const call = { ...context };
  forwardedCalls.add(call);
  return call;
}

/**
 * What the data source does with the request's cache policy when the call is made with the request's context (its
 * respond): the subgraph's cache-control header restricts it. The lane's call had no policy to restrict (noCachePolicy).
 */
function restrictCachePolicy(requestContext: ExecutorContext, outcome: ForwardOutcome): void {
  const policy = requestContext.overallCachePolicy as { restrict?: (hint: CacheHint) => void } | undefined;
  if (outcome.ok && policy?.restrict) policy.restrict(cacheHintOf(outcome.response.http?.headers.get('cache-control')));
}

/**
 * The forwarded call's outcome as the planned path would answer it: data as the subgraph sent it; its errors made the
 * gateway's as @apollo/gateway does it; for a call that failed, the error with the operation's root fields left null.
 */
async function shapedAnswer(
  requestContext: ExecutorContext,
  outcome: ForwardOutcome,
  subgraph: string,
): Promise<ExecutionResult> {
  if (outcome.ok) {
    const { response } = outcome;
    if (!response.errors || response.errors.length === 0) return { data: response.data ?? null };
    const errors = response.errors.map((error) => gatewayErrorOf(error, subgraph));
    return { errors, data: response.data ?? (await rootsLeftNull(requestContext)) };
  }
  // The data source throws GraphQLErrors (SUBGRAPH_UNAVAILABLE, a refusal's HTTP status); anything else is a bug,
  // reported as the planned path would.
  const { error } = outcome;
  return {
    errors: [
      error instanceof GraphQLError ? error : new GraphQLError(String(error), { originalError: error as Error }),
    ],
    data: await rootsLeftNull(requestContext),
  };
}

/**
 * A subgraph's error as @apollo/gateway makes it of a fetch's error (executeQueryPlan's
 * downstreamServiceError): the message, the path (a root fetch's paths are the client's), the
 * subgraph's extensions with `serviceName` added, a federation error code kept as its own, and
 * DOWNSTREAM_SERVICE_ERROR for an error without a code. The subgraph's error object is the
 * original error, as there.
 */
function gatewayErrorOf(error: GraphQLFormattedError, serviceName: string): GraphQLError {
  const message = error.message || `Error while fetching subquery from service "${serviceName}"`;
  const options = {
    originalError: error as unknown as Error,
    ...(error.path ? { path: [...error.path] } : {}),
    extensions: { ...error.extensions, serviceName },
  };
  const codeDef = errorCodeDef(error as unknown as GraphQLError);
  if (!codeDef && error.extensions?.code) return new GraphQLError(message, options);
  return (codeDef ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}

/**
 * The data of an operation none of whose fields could be read: each root field null, or no data
 * at all when a root field may not be null, with @skip/@include, aliases and root fragments
 * applied — what the planned path's shaping answers over an empty fetch.
 */
async function rootsLeftNull(requestContext: ExecutorContext): Promise<Record<string, unknown> | null> {
  const result = await execute({
    schema: requestContext.schema as GraphQLSchema,
    document: requestContext.document,
    operationName: requestContext.operationName,
    variableValues: requestContext.request.variables ?? {},
    rootValue: {},
    fieldResolver: () => null,
  });
  return result.data ?? null;
}
