import { assertPlanBounded, assertSizeRules, assertTimingRules, sizeLimits, timingLimits } from './invariants';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { GraphQLError, isScalarType, type GraphQLSchema } from 'graphql';
import { ApolloServer } from '@apollo/server';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { SubgraphClient, subgraphTimeoutHeader } from './subgraph-client';
import type { TokenSettings } from '@paygraph/shared/identity';
import {
  gatewaySecretHeader,
  gatewayIdentityHeader,
  type SubgraphTrust,
  type SubgraphTrusts,
} from '@paygraph/shared/gateway-trust';
import { log, requestIdHeader, type Logger } from '@paygraph/shared/log';
import { AmountScalar, DateScalar, DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { createGraphQLHttpServer, refusedAsCsrf, serviceRoutes } from '@paygraph/shared/server/http';
import { injectTraceContext } from '@paygraph/shared/tracing';
import { withTimeout } from '@paygraph/shared/server/health';
import { healthProbeTimeoutMs, subscriptionKeepAliveMsDefault } from '@paygraph/shared/limits';
import { supergraphPath } from './compose';
import { buildContext, type GatewayContext } from './context';
import { admitByAddress, refusedUnread } from './security/refusal-admission';
import { identityTokenFor } from './identity-tokens';
import { Metrics } from './metrics';
import { metricsPlugin, requireIdentity, slowOperations } from './plugins';
import { isForwardedCall, isLaneCall, passThroughGateway, type PassThrough } from './pass-through/gateway';
import { laneCall } from './pass-through/lane-call';
import { expressLane } from './pass-through/express-lane';
import { answerBodyOf, answerBodyOfCopy, resultWriter } from './pass-through/raw-answer';
import { sameAnswerBytes } from './pass-through/rendered-copies';
import { renderedHaveHeader, renderedSameHeader } from '@paygraph/shared/server/subgraph-lane';
import { subgraphFields, type SubgraphFields } from './subscriptions/served-by';
import {
  serveGatewaySubscriptions,
  type SubscriptionLimits,
  type SubscriptionServer,
  type UpstreamTarget,
} from './subscriptions/server';
import { streamingSubgraphs } from './subscriptions/operation';
import { createGatewaySecurity, type GatewaySecurity, type GatewaySecurityOptions } from './security/gateway-security';
import { explorer, type Explorer } from './explorer';
import {
  contractManifestClient,
  contractManifestPath,
  resolveTrustedRequest,
  trustedDocumentsGate,
  trustedDocumentsPlugin,
  uniformModes,
  type TrustedDocumentsGate,
  type TrustedDocumentsOptions,
} from './security/trusted-documents';
import { loadTrustedDocuments, type TrustedDocumentSet } from './security/trusted-manifests';
import { persistedQueries, type PersistedQueries } from './persisted-queries';
import { ClientLabels } from './client-awareness';
import {
  subscriptionConsumerStallMsMax,
  subscriptionPageEventsMax,
  subscriptionSocketBufferBytesMax,
  subscriptionsPerConnectionMax,
  subscriptionsPerPrincipalMax,
  upstreamReconnectAttemptsMax,
  upstreamReconnectDelayMs,
} from './limits';
import { clientDeviceIdCharsMax, clientUserAgentCharsMax } from '@paygraph/shared/limits';
import { statementUploadRoute, uploadTargetOf, type UploadLimits } from './statement-uploads';
import { statementUploadsPath } from '@paygraph/shared/server/http';

/** Where each subgraph of the supergraph is, by name. */
export type SubgraphUrls = Record<string, string>;

/** The subgraph that stores statement uploads: settlement, which owns reconciliation's tables. */
const uploadsSubgraph = 'settlement';

/**
 * Proves to the subgraph that the request comes from the gateway (its secret) and says who is
 * calling (an identity token signed for that subgraph), and where the request came from. The
 * client's token and its own x-client-* headers are never passed through. Requests go through
 * `fetcher` (subgraph-client.ts); only Apollo's documented hooks are overridden.
 */
class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    readonly name: string,
    url: string,
    private readonly trust: SubgraphTrust,
    fetcher: Fetcher,
  ) {
    super({ url, fetcher });
  }

  /**
   * The express lane's calls skip node-fetch's per-call objects (pass-through/lane-call.ts), which does what process
   * does without automatic persisted queries or didReceiveResponse: with either, every call is Apollo's process.
   */
  override process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const plain = !this.apq && this.didReceiveResponse === undefined;
    return plain && isLaneCall(options) ? laneCall(this, options) : super.process(options);
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    const headers = request.http?.headers;
    if (!headers) return;
    headers.set(gatewaySecretHeader, this.trust.secret);
    injectTraceContext(headers);
    if (!isGatewayContext(context)) return;
    if (context.requestId) headers.set(requestIdHeader, context.requestId);
    const identity = identityTokenFor(context, this.trust);
    if (identity) headers.set(gatewayIdentityHeader, await identity);
    if (context.client.ip) headers.set('x-client-ip', context.client.ip);
    if (context.client.userAgent)
      headers.set('x-client-user-agent', context.client.userAgent.slice(0, clientUserAgentCharsMax));
    if (context.client.deviceId) headers.set('x-device-id', context.client.deviceId.slice(0, clientDeviceIdCharsMax));
    // Read and removed by the fetcher (subgraph-client.ts): the subgraph never sees it.
    if (context.subgraphTimeoutMs) headers.set(subgraphTimeoutHeader, String(context.subgraphTimeoutMs));
    if (context.renderedCopy) headers.set(renderedHaveHeader, context.renderedCopy.tag);
  }

  /**
   * A forwarded operation's answer is handed on as the subgraph wrote it when it is data alone
   * (pass-through/raw-answer.ts); an answer "the same" as the copy the express lane asked about is
   * that copy's bytes (pass-through/rendered-copies.ts); every other answer is parsed as Apollo's
   * parseBody parses it.
   */
  override async parseBody(
    response: FetcherResponse,
    request?: Parameters<RemoteGraphQLDataSource['parseBody']>[1],
    context?: GatewayContext,
  ): Promise<object | string> {
    const same = response.headers.get(renderedSameHeader);
    if (same !== null) return answerBodyOfCopy(sameAnswerBytes(same, context?.renderedCopy));
    if (!isForwardedCall(context) || !isJsonAnswer(response)) return super.parseBody(response, request, context);
    return answerBodyOf(await response.text());
  }

  /**
   * A non-2xx answer. HTTP 5xx means the subgraph could not serve: the client may retry, and the
   * body (which may name hosts or SQL) goes to the log, written by didEncounterError, which has
   * the request's logger. For a refusal (4xx) Apollo's error carries the subgraph's URL and body
   * in extensions.response: not for clients, who keep the status that explains the refusal.
   */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    if (response.status >= 500) {
      const error = subgraphUnavailable(this.name);
      serverErrorBodies.set(error, (await response.text()).slice(0, 500));
      return error;
    }
    const error = await super.errorFromResponse(response);
    const { response: _response, ...extensions } = error.extensions;
    return new GraphQLError(error.message, {
      extensions: { ...extensions, response: { status: response.status, statusText: response.statusText } },
    });
  }

  /**
   * Apollo calls this with every error of a subgraph call, and the fetch response when there was
   * one. Without one the subgraph did not answer (refused, reset, or nothing within
   * subgraphRequestTimeoutMs): the client may retry. That error's text names the subgraph's
   * address, so it goes to the log only.
   */
  override didEncounterError(
    error: Error,
    _fetchRequest: unknown,
    fetchResponse?: FetcherResponse,
    context?: GatewayContext | Record<string, unknown>,
  ): never {
    const logger = requestLogger(context);
    if (fetchResponse !== undefined) {
      const detail = serverErrorBodies.get(error);
      if (detail !== undefined) logger.error({ detail }, `subgraph ${this.name} answered HTTP ${fetchResponse.status}`);
      throw error;
    }
    logger.error({ err: error }, `subgraph ${this.name} did not answer`);
    throw subgraphUnavailable(this.name);
  }
}

/** A JSON answer by its content type, as RemoteGraphQLDataSource's parseBody tells one. */
function isJsonAnswer(response: FetcherResponse): boolean {
  const contentType = response.headers.get('content-type');
  return (
    contentType !== null &&
    (contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json'))
  );
}

/** The body of a subgraph's HTTP 5xx answer, by the error made of it, for didEncounterError to log. */
const serverErrorBodies = new WeakMap<Error, string>();

/** The request's logger when Apollo's fetch was for a client's HTTP request; the process's otherwise. */
function requestLogger(context: GatewayContext | Record<string, unknown> | undefined): Logger {
  return (context && isGatewayContext(context) ? context.log : undefined) ?? log();
}

/** A subgraph that did not answer in time (or at all): nothing is known to have happened, and a retry is safe. */
function subgraphUnavailable(name: string): GraphQLError {
  return new GraphQLError(
    `the ${name} service did not answer; retry the same request (with the same idempotency key)`,
    {
      extensions: { code: 'SUBGRAPH_UNAVAILABLE', retryable: true, subgraph: name },
    },
  );
}

/** Apollo also fetches outside any client request (with a bare context), which then carries no identity. */
function isGatewayContext(context: GatewayContext | Record<string, unknown>): context is GatewayContext {
  return 'auth' in context;
}

export interface Gateway {
  apollo: ApolloServer<GatewayContext>;
  http: http.Server;
  metrics: Metrics;
  subscriptions: SubscriptionServer;
  /** Operation limits, rate limits and the audit trail (security/gateway-security.ts). */
  security: GatewaySecurity;
  /** The trusted documents in force; reload() re-reads the manifests (main.ts on SIGHUP). */
  trustedDocuments: TrustedDocumentSet;
  /** Closes every WebSocket (1001) and stops the Apollo server. */
  stop(): Promise<void>;
}

export interface GatewayOptions {
  subscriptions?: Partial<SubscriptionLimits>;
  keepAliveMs?: number;
  security?: GatewaySecurityOptions;
  /**
   * Introspection, field suggestions and stack traces off (config.production: NODE_ENV=production); false when absent.
   */
  production?: boolean;
  /**
   * Operations whose query plan is one fetch to one subgraph are sent to it as the client wrote
   * them (pass-through/gateway.ts); true when absent. False: every operation is planned (the
   * tests that compare the two paths).
   */
  passThrough?: boolean;
  /**
   * The express lane (pass-through/express-lane.ts) for trusted documents one subgraph serves alone; true when absent
   * (with passThrough). False: Apollo Server runs every request (the tests that compare the two).
   */
  expressLane?: boolean;
  /**
   * Manifests and modes (security/trusted-documents.ts); absent: the contract's manifest, every mode off, no reload.
   */
  trustedDocuments?: TrustedDocumentsOptions;
  /**
   * Automatic persisted queries in this Redis (REDIS_URL), shared by every replica; absent or null: in memory, per
   * process (persisted-queries.ts).
   */
  persistedQueries?: { redisUrl: string | null; keyPrefix?: string };
  /** How long a statement upload waits for the settlement subgraph (statement-uploads.ts); limits.ts when absent. */
  uploads?: Partial<UploadLimits>;
}

export const defaultSubscriptionLimits: SubscriptionLimits = {
  perConnectionMax: subscriptionsPerConnectionMax,
  perPrincipalMax: subscriptionsPerPrincipalMax,
  pageSize: subscriptionPageEventsMax,
  consumerStallMsMax: subscriptionConsumerStallMsMax,
  socketBufferBytesMax: subscriptionSocketBufferBytesMax,
  reconnectAttemptsMax: upstreamReconnectAttemptsMax,
  reconnectDelayMs: upstreamReconnectDelayMs,
};

/** The supergraph's gateway, its subgraphs' clients and data sources, and what the loaded schema tells. */
interface Supergraph {
  gateway: ApolloGateway;
  clients: SubgraphClient[];
  dataSources: Map<string, SubgraphDataSource>;
  apiSchema(): GraphQLSchema | null;
  /** The fields a streaming subgraph serves alone (subscriptions to them are forwarded); null before the first load. */
  servedBy(subgraph: string): SubgraphFields | null;
}

function loadSupergraph(urls: SubgraphUrls, trusts: SubgraphTrusts): Supergraph {
  const clients: SubgraphClient[] = [];
  const dataSources = new Map<string, SubgraphDataSource>();
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(supergraphPath, 'utf8'),
    experimental_didResolveQueryPlan: assertPlanBounded,
    buildService: ({ name }) => {
      const subgraph = name.toLowerCase();
      const url = urls[subgraph];
      const trust = trusts[subgraph];
      // A supergraph naming a subgraph without a secret or URL is a build mistake: fail at start-up.
      if (url === undefined || trust === undefined)
        throw new Error(`the supergraph names subgraph ${name}, which has no secret or URL`);
      const client = new SubgraphClient(url);
      clients.push(client);
      const dataSource = new SubgraphDataSource(subgraph, url, trust, client.fetcher);
      dataSources.set(name, dataSource);
      return dataSource;
    },
  });
  let apiSchema: GraphQLSchema | null = null;
  let served = new Map<string, SubgraphFields>();
  gateway.onSchemaLoadOrUpdate((loaded) => {
    parseScalarsAsSubgraphsDo(loaded.apiSchema);
    apiSchema = loaded.apiSchema;
    served = new Map(streamingSubgraphs.map((name) => [name, subgraphFields(loaded.coreSupergraphSdl, name)]));
  });
  return {
    gateway,
    clients,
    dataSources,
    apiSchema: () => apiSchema,
    servedBy: (subgraph) => served.get(subgraph) ?? null,
  };
}

/** trusts: each subgraph's secret, which it alone shares with the gateway (gateway-trust.ts). */
export async function createGateway(
  tokens: TokenSettings,
  urls: SubgraphUrls,
  trusts: SubgraphTrusts,
  options: GatewayOptions = {},
): Promise<Gateway> {
  // The limits' timing rules hold, or the gateway would time out before a subgraph answers why.
  assertTimingRules(timingLimits);
  assertSizeRules(sizeLimits);
  const supergraph = loadSupergraph(urls, trusts);
  const streaming = streamingTargets(urls, trusts);
  // Subscriptions are served once the HTTP server exists; the gauge reads them at scrape time.
  let subscriptions: SubscriptionServer | undefined;
  const metrics = new Metrics(() => sumOf(subscriptions?.activeByPrincipal().values() ?? []));
  const production = options.production ?? false;
  // One bounded set of client names for the metrics and the audit lines.
  const clientLabels = new ClientLabels();
  const trusted = openTrustedDocuments(options.trustedDocuments);
  // A trusted document's text is screened once (security/document-analysis.ts).
  const security = createGatewaySecurity({
    ...options.security,
    clientLabels,
    trustedDocumentOfText: (text) => trusted.documents.byBody(text),
  });
  const apq = persistedQueries(options.persistedQueries?.redisUrl ?? null, options.persistedQueries?.keyPrefix);
  // GraphiQL from dist/explorer in development; no landing page in production.
  const explorerPage = explorer(production, (message) => log().warn(message));
  const passThrough = passThroughGateway(supergraph.gateway, supergraph.dataSources, {
    enabled: options.passThrough ?? true,
    onPath: (path) => metrics.recordPath(path),
  });
  const apollo = apolloServer({ passThrough, options, metrics, clientLabels, security, trusted, explorerPage, apq });
  await apollo.start();
  const lane =
    options.expressLane === false ? undefined : laneOf({ tokens, supergraph, passThrough, trusted, security, metrics });
  const http = createGraphQLHttpServer<GatewayContext>({
    apollo,
    context: (req) => buildContext(req, tokens),
    // The socket's own address: with no trusted-proxy setting, X-Forwarded-For is never read (refusal-throttle.ts).
    admit: (req) => admitByAddress(req, tokens, security.refusals),
    screen: security.screen,
    resolve: (request) => resolveTrustedRequest(request, trusted.documents),
    ...(lane ? { express: lane } : {}),
    routes: {
      ...explorerPage.routes,
      ...serviceRoutes('gateway', () => gatewayReadiness(urls), metrics),
      [statementUploadsPath]: statementUploadRoute(tokens, uploadTarget(urls, trusts), metrics, options.uploads),
    },
  });
  holdBodiesUntilAsked(http, (req) => refusedUnread(req, tokens, security.refusals));
  const served = serveSubscriptions(http, { apollo, tokens, supergraph, streaming, security, trusted, options });
  subscriptions = served;
  return {
    apollo,
    http,
    metrics,
    subscriptions: served,
    security,
    trustedDocuments: trusted.documents,
    stop: async () => {
      await trusted.documents.stop();
      await apq.close();
      await served.dispose();
      await apollo.stop();
      await security.close();
      await Promise.all(supergraph.clients.map((c) => c.close()));
    },
  };
}

/** The parts the express lane reads (pass-through/express-lane.ts). */
interface LaneParts {
  tokens: TokenSettings;
  supergraph: Supergraph;
  passThrough: PassThrough;
  trusted: TrustedDocuments;
  security: GatewaySecurity;
  metrics: Metrics;
}

/** The express lane over the supergraph's router and data sources, judging with the gateway's own security. */
function laneOf(parts: LaneParts): ReturnType<typeof expressLane> {
  return expressLane({
    tokens: parts.tokens,
    apiSchema: parts.supergraph.apiSchema,
    router: parts.passThrough.router,
    dataSources: parts.supergraph.dataSources,
    documents: parts.trusted.documents,
    security: parts.security,
    metrics: parts.metrics,
  });
}

/** The settlement subgraph's upload URL and secret (statement-uploads.ts); a supergraph without them fails at start-up. */
function uploadTarget(urls: SubgraphUrls, trusts: SubgraphTrusts): ReturnType<typeof uploadTargetOf> {
  const url = urls[uploadsSubgraph];
  const trust = trusts[uploadsSubgraph];
  if (url === undefined || trust === undefined)
    throw new Error(
      `the gateway streams statement uploads to the ${uploadsSubgraph} subgraph, which has no URL or secret`,
    );
  return uploadTargetOf(url, trust);
}

/**
 * A client that sends `Expect: 100-continue` waits to be told before it sends its body; Node's server tells it at once
 * unless asked otherwise. The upload route tells it only once the request is authorized (statement-uploads.ts), so a
 * refused client never sends the file; /graphql is not told when its address's refusal budget would refuse it unread
 * (refusal-admission.ts), so that its 429 comes before the body, nor when Apollo Server refuses it as CSRF from its
 * headers (http.ts refusedAsCsrf: answered without its body); every other path is told at once, as before. (Should
 * the window free room between this check and the admit step, the client sends its body after its own wait.)
 */
function holdBodiesUntilAsked(server: http.Server, refusedUnread: (req: http.IncomingMessage) => boolean): void {
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== statementUploadsPath && !(path === '/graphql' && (refusedUnread(req) || refusedAsCsrf(req))))
      res.writeContinue();
    server.emit('request', req, res);
  });
}

/** The trusted documents in force, and the one gate that judges documents against them for HTTP and graphql-ws. */
interface TrustedDocuments {
  documents: TrustedDocumentSet;
  gate: TrustedDocumentsGate;
}

/**
 * Each streaming subgraph's graphql-ws URL and secret (the account subgraph's balance streams, the transaction
 * subgraph's link events: subscriptions/operation.ts streamKinds); a supergraph without one fails at start-up.
 */
function streamingTargets(urls: SubgraphUrls, trusts: SubgraphTrusts): Map<string, UpstreamTarget> {
  return new Map(
    streamingSubgraphs.map((name) => {
      const url = urls[name];
      const trust = trusts[name];
      if (url === undefined || trust === undefined)
        throw new Error(`the gateway bridges event streams to the ${name} subgraph, which has no URL or secret`);
      return [name, { wsUrl: url.replace(/^http/, 'ws'), trust }];
    }),
  );
}

/**
 * The trusted documents in force and their gate; absent options: the contract's manifest, every mode off, no reload.
 */
function openTrustedDocuments(options: TrustedDocumentsOptions | undefined): TrustedDocuments {
  const trusted = options ?? { manifests: [], modes: uniformModes('off'), reloadMs: null };
  // The contract's operations are the first manifest; a broken manifest stops the start here.
  const documents = loadTrustedDocuments(
    [{ client: contractManifestClient, path: contractManifestPath }, ...trusted.manifests],
    trusted.reloadMs,
  );
  // One gate for HTTP and graphql-ws: the same modes, one log of untrusted documents.
  return { documents, gate: trustedDocumentsGate(documents, trusted.modes) };
}

/** What the Apollo server is built from: the supergraph, the gateway's options, and its plugins' parts. */
interface ApolloParts {
  passThrough: PassThrough;
  options: GatewayOptions;
  metrics: Metrics;
  clientLabels: ClientLabels;
  security: GatewaySecurity;
  trusted: TrustedDocuments;
  explorerPage: Explorer;
  apq: PersistedQueries;
}

/** The Apollo server over the supergraph, its plugins in the order their refusals take precedence (not started). */
function apolloServer({
  passThrough,
  options,
  metrics,
  clientLabels,
  security,
  trusted,
  explorerPage,
  apq,
}: ApolloParts): ApolloServer<GatewayContext> {
  const production = options.production ?? false;
  return new ApolloServer<GatewayContext>({
    // Operations one subgraph serves alone go straight to it; the rest through the query plan.
    gateway: passThrough.gateway,
    // Trusted documents, then the security plugin: their refusals (untrusted, limits, rate) win over the others'.
    plugins: [
      trustedDocumentsPlugin(trusted.gate),
      security.plugin,
      requireIdentity,
      slowOperations,
      metricsPlugin(metrics, clientLabels),
      explorerPage.plugin,
    ],
    introspection: !production,
    // A forwarded answer that is data alone is written as the subgraph wrote it (pass-through/raw-answer.ts).
    stringifyResult: resultWriter(() => metrics.recordUnparsedAnswer()),
    persistedQueries: apq.options,
    includeStacktraceInErrorResponses: !production,
    // No "Did you mean ...?" in validation errors: they would hand out the schema piece by piece.
    hideSchemaDetailsFromClientErrors: production,
    // main.ts handles SIGTERM itself: Apollo's own handler would race it.
    stopOnTerminationSignals: false,
  });
}

/** What the gateway's graphql-ws server is served with, besides the HTTP server it shares. */
interface SubscriptionParts {
  apollo: ApolloServer<GatewayContext>;
  tokens: TokenSettings;
  supergraph: Supergraph;
  streaming: ReadonlyMap<string, UpstreamTarget>;
  security: GatewaySecurity;
  trusted: TrustedDocuments;
  options: GatewayOptions;
}

/**
 * graphql-ws on the gateway's HTTP server: balance streams bridged to the account subgraph and link events to the
 * transaction subgraph, under HTTP's operation limits and trusted documents.
 */
function serveSubscriptions(
  server: http.Server,
  { apollo, tokens, supergraph, streaming, security, trusted, options }: SubscriptionParts,
): SubscriptionServer {
  return serveGatewaySubscriptions(server, {
    apollo,
    tokens,
    apiSchema: supergraph.apiSchema,
    servedBy: supergraph.servedBy,
    upstreams: streaming,
    limits: { ...defaultSubscriptionLimits, ...options.subscriptions },
    operationLimits: security.limits,
    trustedDocuments: trusted,
    keepAliveMs: options.keepAliveMs ?? subscriptionKeepAliveMsDefault,
  });
}

/** ready: every subgraph ready; degraded: some serve; unavailable (503): none does. */
async function gatewayReadiness(urls: SubgraphUrls): Promise<{ httpStatus: number; report: unknown }> {
  const checks = await probeSubgraphs(urls);
  const serving = checks.filter((c) => c.ok);
  const status =
    serving.length === checks.length && checks.every((c) => c.status === 'ready')
      ? 'ready'
      : serving.length > 0
        ? 'degraded'
        : 'unavailable';
  return { httpStatus: serving.length > 0 ? 200 : 503, report: { service: 'gateway', status, subgraphs: checks } };
}

/**
 * The supergraph gives the gateway custom scalars that take anything, so a JSON number, a
 * malformed amount or a date that is not one would reach a subgraph, whose refusal (an HTTP 400)
 * comes back as an opaque INTERNAL_SERVER_ERROR. The gateway's Amount, Date and DateTime parse as
 * the subgraphs' do (the same objects' functions): such a request is refused here, BAD_USER_INPUT,
 * naming the variable or literal, before any subgraph is called, on the planned path and the
 * forwarded one alike (both coerce against this schema).
 */
function parseScalarsAsSubgraphsDo(schema: GraphQLSchema): void {
  for (const subgraphs of [AmountScalar, DateScalar, DateTimeScalar]) {
    const scalar = schema.getType(subgraphs.name);
    if (!scalar || !isScalarType(scalar)) throw new Error(`the supergraph has no ${subgraphs.name} scalar`);
    scalar.parseValue = subgraphs.parseValue;
    scalar.parseLiteral = subgraphs.parseLiteral;
  }
}

interface SubgraphCheck {
  subgraph: string;
  /** The subgraph can serve something (its /health/ready answered 200). */
  ok: boolean;
  /** Its own readiness (ready, degraded, unavailable), or unreachable when it did not answer. */
  status: string;
  /** Its shards that do not answer, by database name. */
  down: string[];
}

/**
 * The gateway is ready while any subgraph can serve anything: one down shard, or one down
 * subgraph, degrades the operations that need it and no others. The subgraphs' answers name
 * shards by database only; an unreachable subgraph's error (its address) goes to the log.
 */
async function probeSubgraphs(urls: SubgraphUrls): Promise<SubgraphCheck[]> {
  return Promise.all(
    Object.entries(urls).map(async ([name, url]) => {
      const readyUrl = url.replace(/\/graphql$/, '/health/ready');
      try {
        const response = await withTimeout(fetch(readyUrl), healthProbeTimeoutMs);
        const body = (await response.json()) as { status?: unknown; down?: unknown };
        const down = Array.isArray(body.down) ? body.down.filter((d): d is string => typeof d === 'string') : [];
        return {
          subgraph: name,
          ok: response.status === 200,
          status: typeof body.status === 'string' ? body.status : 'unknown',
          down,
        };
      } catch (error) {
        log().error({ err: error }, `health probe of subgraph ${name} failed`);
        return { subgraph: name, ok: false, status: 'unreachable', down: [] };
      }
    }),
  );
}

function sumOf(values: Iterable<number>): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum;
}
