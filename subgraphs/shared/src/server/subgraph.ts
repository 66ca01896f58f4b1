import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApolloServer, type ApolloServerPlugin, type BaseContext, type GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type DocumentNode, type GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { ShardSet } from '../shards/pool';
import { LockTimeout } from '../shards/transaction';
import { ShardUnavailable } from '../shards/unavailable';
import { shardUnavailable } from '../graphql/errors';
import { partialErrorsPlugin } from '../graphql/partial';
import { loadAssets, TamperDetected } from '../ledger/index';
import type { Identity } from '../identity';
import { authenticateGatewayRequest, type SubgraphTrust } from '../gateway-trust';
import { createGraphQLHttpServer, requestLogOf, sendUnauthorized, serviceRoutes, type RouteHandler } from './http';
import { readiness } from './health';
import { collectProcessDefaults, processRegistry } from '../metrics';
import { log, type Logger } from '../log';
import { jitExecution } from '../graphql/jit-executor';
import { assert } from '../result';
import { subgraphLane, type LaneAnswers } from './subgraph-lane';
import { answerWriter } from '../graphql/rendered-answers';

/** What every subgraph's context starts from: who is calling, where the data lives, and the request's logger. */
export interface BaseSubgraphContext extends BaseContext {
  identity: Identity;
  shards: ShardSet;
  /** Its lines name the request's id (requestLogOf); the process's logger on graphql-ws. */
  log: Logger;
}

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** A subgraph's schema: schema/<its part's name>.graphql. */
export function readSchema(name: string): string {
  return readFileSync(`${repoRoot}schema/${name}.graphql`, 'utf8');
}

/**
 * One schema module as buildSubgraphSchema's public signature takes it (@apollo/subgraph's entry
 * does not export its name, GraphQLSchemaModule, which lives under dist/).
 */
type SubgraphModule = Exclude<Extract<Parameters<typeof buildSubgraphSchema>[0], unknown[]>[number], DocumentNode>;

/**
 * The resolvers of one subgraph, by type and field. Each subgraph checks its map against the
 * types generated from its schema (`satisfies Resolvers`, generated/resolvers-types.ts), so the
 * map is handed over as it is, without a cast.
 */
export type SubgraphResolverMap = NonNullable<SubgraphModule['resolvers']>;

/** What main.ts gives every subgraph's create function from its configuration. */
export interface SubgraphServerOptions {
  /** NODE_ENV=production (config.production): no stack traces, no unexpected error's text. */
  production?: boolean;
}

export interface SubgraphOptions<C extends BaseSubgraphContext> extends SubgraphServerOptions {
  name: string;
  typeDefs: string;
  resolvers: SubgraphResolverMap;
  shards: ShardSet;
  /** The secret only this subgraph and the gateway share: see gateway-trust.ts. */
  trust: SubgraphTrust;
  extendContext: (base: BaseSubgraphContext, req: http.IncomingMessage) => C;
  /**
   * Paths served beside /graphql to the gateway alone (the settlement subgraph's /uploads/statements): like /graphql,
   * a request without the subgraph's secret and a gateway-signed identity gets a bare 401 before its body is read.
   */
  routes?: Record<string, GatewayRoute>;
  /** Apollo Server plugins of the subgraph's own, run after the shared ones (the account subgraph's rendered answers). */
  plugins?: Array<ApolloServerPlugin<C>>;
  /**
   * Answer the gateway's operations on the express lane (server/subgraph-lane.ts) instead of Apollo Server's pipeline
   * where the answer is data alone. The lane runs no plugin hook: with plugins of the subgraph's own, `answers` does
   * on the lane what they do (the account subgraph's rendered answers).
   */
  expressLane?: { answers?: LaneAnswers<C> };
}

/** A path the gateway calls with a caller's identity, as it calls /graphql (gateway-trust.ts). */
export type GatewayRoute = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  caller: { identity: Identity; log: Logger },
) => Promise<void>;

export interface SubgraphServer {
  apollo: ApolloServer<BaseSubgraphContext>;
  http: http.Server;
  /** The executable subgraph schema, for transports beside HTTP (graphql-ws). */
  schema: GraphQLSchema;
  /** Run on shutdown before the shard pools close: WebSocket servers, feeds, Redis connections. */
  disposers: Array<() => Promise<void>>;
}

export async function createSubgraph<C extends BaseSubgraphContext>(
  options: SubgraphOptions<C>,
): Promise<SubgraphServer> {
  const production = options.production ?? false;
  const schema = buildSubgraphSchema([{ typeDefs: parse(options.typeDefs), resolvers: options.resolvers }]);
  const lane = options.expressLane;
  assert(!lane || !options.plugins?.length || lane.answers, 'the express lane runs no plugin hook: say what it does');
  const execution = jitExecution(schema);
  const writeAnswer = answerWriter();
  const apollo = new ApolloServer<BaseSubgraphContext>({
    // Operations run compiled by graphql-jit (graphql/jit-executor.ts): GetAccount's 800 fields
    // per page cost the account subgraph 2.4–2.7 ms of CPU per read with graphql-js's execute
    // and 1.5–1.8 ms compiled, the answer byte for byte the same (a micro-benchmark, 2,000 reads
    // at 16 clients, this VM under load).
    gateway: execution.gateway,
    formatError: (formatted, error) => formatSubgraphError(formatted, error, production),
    // Apollo's cache-control plugin is on by default and runs a hook on every field of every
    // answer (and wraps every resolver) to compute a max-age that is always 0 here: no type or
    // field has a cache hint, and the gateway takes a subgraph answer without a cache-control
    // header as uncacheable, as it took this one's "no-store". It was about a tenth of the
    // account subgraph's CPU on GetAccount (docs/PERFORMANCE.md, "Reads"). Inline tracing stays
    // on: it does per-field work only for a request that asks for a trace
    // (apollo-federation-include-trace), which our gateway does not send.
    plugins: [
      partialErrorsPlugin(),
      errorLogPlugin,
      ApolloServerPluginCacheControlDisabled(),
      ...((options.plugins ?? []) as Array<ApolloServerPlugin<BaseSubgraphContext>>),
    ],
    // Apollo Server's own writer, JSON.stringify(result) + '\n', but for answers whose text a plugin
    // already holds or keeps (graphql/rendered-answers.ts).
    stringifyResult: writeAnswer,
    includeStacktraceInErrorResponses: !production,
    // The process handles SIGTERM itself (server/main.ts); Apollo's own handler raced it and
    // left apollo.stop() waiting until the shutdown grace ran out.
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  collectProcessDefaults();
  await startWithAssets(options.shards, options.name);
  // Who the gateway said is calling, per request: set by authenticate, read by context.
  const identities = new WeakMap<http.IncomingMessage, Identity>();
  const context = async (req: http.IncomingMessage): Promise<BaseSubgraphContext> => {
    const identity = identities.get(req);
    if (!identity) throw new Error('a GraphQL request reached the context without passing authenticate');
    return options.extendContext({ identity, shards: options.shards, log: requestLogOf(req) }, req);
  };
  const http = createGraphQLHttpServer<BaseSubgraphContext>({
    apollo,
    authenticate: async (req) => {
      const identity = await authenticateGatewayRequest(req, options.trust);
      if (identity) identities.set(req, identity);
      return identity !== null;
    },
    context,
    ...(lane ? { express: subgraphLane({ schema, execution, context, writeAnswer, ...answersOf(lane) }) } : {}),
    // The state of each shard by database name and nothing else (a failed probe's error goes to
    // the log, since it names hosts and users).
    routes: {
      ...serviceRoutes(options.name, (firstFormat) => readiness(options.name, options.shards, { firstFormat }), {
        render: () => processRegistry.metrics(),
        contentType: processRegistry.contentType,
      }),
      ...gatewayRoutes(options.routes ?? {}, options.trust),
    },
  });
  return { apollo, http, schema, disposers: [] };
}

/** The lane's hooks of a subgraph's own plugins, when it has some: the context they see is the subgraph's. */
function answersOf<C extends BaseSubgraphContext>(lane: {
  answers?: LaneAnswers<C>;
}): { answers?: LaneAnswers<BaseSubgraphContext> } {
  return lane.answers ? { answers: lane.answers as unknown as LaneAnswers<BaseSubgraphContext> } : {};
}

/**
 * The platform's assets, read once where the subgraph starts (money.ts's registry; an asset
 * defined later is read on its first miss, ledger/assets.ts). A control shard that cannot be read
 * now does not keep the subgraph down: the first request naming an asset reads them then.
 */
async function startWithAssets(shards: ShardSet, name: string): Promise<void> {
  try {
    await loadAssets(shards);
  } catch (error) {
    // The reason alone: a database not migrated yet is expected here, and its stack says nothing more.
    const reason = error instanceof Error ? error.message : String(error);
    log().warn({ reason, subgraph: name }, 'platform assets not read at start; the first request naming one will');
  }
}

/** Each route behind the gateway's secret and signed identity, checked before anything of the request is read. */
function gatewayRoutes(routes: Record<string, GatewayRoute>, trust: SubgraphTrust): Record<string, RouteHandler> {
  return Object.fromEntries(
    Object.entries(routes).map(([path, route]): [string, RouteHandler] => [
      path,
      async (req, res) => {
        const identity = await authenticateGatewayRequest(req, trust);
        if (!identity) return sendUnauthorized(res);
        return route(req, res, { identity, log: requestLogOf(req) });
      },
    ]),
  );
}

/**
 * A lock timeout or an unreachable shard is the client's to retry; anything unexpected is logged
 * (errorLogPlugin, logSubgraphError) and kept vague. Drizzle wraps a failed statement in an error
 * of its own whose message holds the SQL, so the answer is chosen by the error's causes, and a
 * database error's text never reaches the client in any mode: mysql2's errors carry the
 * statement (and, for a refused connection, the host and port).
 */
export function formatSubgraphError(
  formatted: GraphQLFormattedError,
  error: unknown,
  production: boolean,
): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof TamperDetected) {
    return { message: original.message, extensions: { code: 'TAMPER_DETECTED', accountId: original.accountId } };
  }
  const unavailable = causeOf(original, isShardUnavailable);
  if (unavailable) {
    const answer = shardUnavailable(unavailable.shard);
    return { message: answer.message, ...where(formatted), extensions: answer.extensions };
  }
  const lockTimeout = causeOf(original, isLockTimeout);
  if (lockTimeout) {
    return { message: lockTimeout.message, ...where(formatted), extensions: { code: 'LOCK_TIMEOUT', retryable: true } };
  }
  if (formatted.extensions?.code === 'INTERNAL_SERVER_ERROR' && (production || causeOf(original, isDatabaseError))) {
    return { message: 'internal error', ...where(formatted), extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  }
  return formatted;
}

/**
 * The log line of an error formatSubgraphError answers: a failed integrity check, an unavailable
 * shard, and anything unexpected (code is what the client is told: INTERNAL_SERVER_ERROR).
 */
export function logSubgraphError(logger: Logger, error: unknown, code: unknown): void {
  const original = unwrapResolverError(error);
  if (original instanceof TamperDetected) {
    logger.error({ detail: original.message }, 'integrity check failed');
    return;
  }
  const unavailable = causeOf(original, isShardUnavailable);
  if (unavailable) {
    logger.error({ detail: unavailable.detail }, `shard ${unavailable.shard} unavailable`);
    return;
  }
  if (!causeOf(original, isLockTimeout) && code === 'INTERNAL_SERVER_ERROR')
    logger.error({ err: original }, 'resolver failed');
}

/**
 * Logs the errors of a request with its own logger, so that each line names the request's id
 * (Apollo's formatError is not given the request). Apollo answers an error without a code as
 * INTERNAL_SERVER_ERROR, and the same code decides here.
 */
export const errorLogPlugin: ApolloServerPlugin<BaseSubgraphContext> = {
  async requestDidStart() {
    return errorLogListener;
  },
  async contextCreationDidFail({ error }) {
    logSubgraphError(log(), error, 'INTERNAL_SERVER_ERROR');
  },
};

const errorLogListener: GraphQLRequestListener<BaseSubgraphContext> = {
  async didEncounterErrors({ contextValue, errors }) {
    for (const error of errors)
      logSubgraphError(contextValue.log, error, error.extensions.code ?? 'INTERNAL_SERVER_ERROR');
  },
};

/**
 * Errors a subgraph sends over its own graphql-ws endpoint, formatted as its HTTP answers are.
 * graphql-ws sends graphql-js's errors as they are: a resolver's error there has no code, so a
 * shard that is away would reach the gateway as a bare message (not retryable) and a database
 * error with its SQL text. Apollo gives an error thrown by code (one with an originalError)
 * INTERNAL_SERVER_ERROR unless it carries a code; the same is done here before formatSubgraphError.
 */
export function formatStreamErrors(
  errors: readonly GraphQLError[],
  production: boolean,
  logger: Logger = log(),
): GraphQLFormattedError[] {
  return errors.map((error) => {
    const formatted = error.toJSON();
    const coded =
      formatted.extensions?.code !== undefined || !error.originalError
        ? formatted
        : { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
    logSubgraphError(logger, error, coded.extensions?.code);
    return formatSubgraphError(coded, error, production);
  });
}

/** Where in the document and the answer an error happened: kept when its text and extensions are replaced. */
function where(formatted: GraphQLFormattedError): Pick<GraphQLFormattedError, 'locations' | 'path'> {
  return {
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
  };
}

function isShardUnavailable(error: Error): error is ShardUnavailable {
  return error instanceof ShardUnavailable;
}

function isLockTimeout(error: Error): error is LockTimeout {
  return error instanceof LockTimeout;
}

/** The error or the first of its causes that matches. */
function causeOf<T extends Error>(error: unknown, matches: (e: Error) => e is T): T | undefined;
function causeOf(error: unknown, matches: (e: Error) => boolean): Error | undefined;
function causeOf(error: unknown, matches: (e: Error) => boolean): Error | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (matches(current)) return current;
    current = current.cause;
  }
  return undefined;
}

/** mysql2's errors carry the statement (sql) or MySQL's own text (sqlMessage); drizzle's name the failed query. */
function isDatabaseError(error: Error): boolean {
  return (
    'sql' in error ||
    'sqlMessage' in error ||
    error.name === 'DrizzleQueryError' ||
    error.message.startsWith('Failed query:')
  );
}
