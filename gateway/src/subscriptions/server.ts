import type http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode, createClient, type Client, type SubscribePayload } from 'graphql-ws';
import {
  GraphQLError,
  Kind,
  parse,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { ApolloServer } from '@apollo/server';
import { verifyAuthorization, type Identity, type TokenSettings } from '@paygraph/shared/identity';
import { coerceVariables } from '../coerced-variables';
import {
  checkOperation,
  checkSource,
  fragmentsOf,
  limitError as operationLimitError,
  type OperationLimits,
} from '../security/operation-limits';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { honouredUntil, type GatewayContext } from '../context';
import { upstreamAuth } from '../identity-tokens';
import { assertPrincipalComplete } from '../invariants';
import { bridgeEventStream, toGraphQLErrors, type BridgeLimits } from './bridge';
import { planOperation, type OperationPlan, type ServedFields } from './operation';
import { resolveTrustedRequest, type TrustedDocumentsGate } from '../security/trusted-documents';
import { documentHash, type TrustedDocumentSet } from '../security/trusted-manifests';
import { log } from '@paygraph/shared/log';
import { requestBodyBytesMax } from '@paygraph/shared/limits';

/**
 * graphql-ws (graphql-transport-ws) on the gateway's own port and path /graphql. The token
 * comes once, in connectionParams.authorization; without a valid one the socket closes with
 * 4401 before anything else happens, and a subscription to an account (or an owner's links) that
 * is not the caller's closes it with 4403. Queries and mutations sent over the socket run like
 * HTTP ones.
 */
export interface SubscriptionLimits extends BridgeLimits {
  perConnectionMax: number;
  perPrincipalMax: number;
}

export interface GatewaySubscriptionOptions {
  apollo: ApolloServer<GatewayContext>;
  tokens: TokenSettings;
  /** The gateway's API schema, once the supergraph is loaded. */
  apiSchema: () => GraphQLSchema | null;
  /** The fields each streaming subgraph serves alone, once the supergraph is loaded: their subscriptions are forwarded. */
  servedBy: ServedFields;
  /**
   * Each streaming subgraph's graphql-ws endpoint and secret, by name (operation.ts streamingSubgraphs): the upstream
   * socket carries the same trust as an HTTP fetch.
   */
  upstreams: ReadonlyMap<string, UpstreamTarget>;
  limits: SubscriptionLimits;
  /** The same depth, alias, cost and size limits as over HTTP, checked before anything runs. */
  operationLimits: OperationLimits;
  /** The manifests in force and the gate HTTP requests pass too (security/trusted-documents.ts). */
  trustedDocuments: { documents: TrustedDocumentSet; gate: TrustedDocumentsGate };
  keepAliveMs: number;
}

export interface UpstreamTarget {
  wsUrl: string;
  trust: SubgraphTrust;
}

interface Connection {
  context: GatewayContext;
  identity: Identity;
  /** One graphql-ws client per streaming subgraph this connection has subscribed through, made at its first stream. */
  upstreams: Map<string, Client>;
  active: number;
}

interface PlannedContext {
  plan: OperationPlan;
  connection: Connection;
  socket: WebSocket;
}

export interface SubscriptionServer {
  /** Active subscriptions per principal, for tests and metrics. */
  activeByPrincipal(): ReadonlyMap<string, number>;
  /** Streams ended because their consumer fell behind, since start. */
  slowConsumers(): number;
  /**
   * Subscriptions served since start, by how: forwarded to the stream's subgraph, or read page
   * by page through the gateway's query execution; and how often a forwarded one was dropped
   * and taken up again because its client was pageSize events behind.
   */
  streams(): { forwarded: number; paged: number; forwardPauses: number };
  dispose(): Promise<void>;
}

type SocketExtra = { socket: WebSocket; request: http.IncomingMessage };
type ConnectionKey = object;

export function serveGatewaySubscriptions(
  server: http.Server,
  options: GatewaySubscriptionOptions,
): SubscriptionServer {
  // A message is bounded as an HTTP request's body is (requestBodyBytesMax), before anything parses it or knows who sent
  // it: ws's own default (100 MiB) let a client not yet authenticated make the gateway buffer and JSON.parse a
  // 100 MB connection_init. A larger frame closes the socket with 1009 (message too big), never read whole.
  const sockets = new WebSocketServer({ server, path: '/graphql', maxPayload: requestBodyBytesMax });
  const hub = new SubscriptionHub(options);
  const handle = useServer<Record<string, unknown>, SocketExtra>(
    {
      onConnect: (ctx) => hub.connect(ctx, ctx.connectionParams?.authorization, ctx.extra),
      onSubscribe: (ctx, _id, payload) => hub.admit(ctx, payload, ctx.extra.socket),
      subscribe: (args) => hub.subscribe(args.contextValue as PlannedContext),
      execute: (args) => {
        const { plan, connection } = args.contextValue as PlannedContext;
        return execute(options.apollo, connection, plan);
      },
      onClose: (ctx) => hub.close(ctx),
    },
    sockets,
    options.keepAliveMs,
  );
  return {
    activeByPrincipal: () => hub.perPrincipal,
    slowConsumers: () => hub.slowConsumers,
    streams: () => ({ ...hub.streams }),
    dispose: async () => {
      await handle.dispose();
    },
  };
}

/**
 * The text of a subscribe message's document, judged as an HTTP request's is: a `documentId`
 * (GraphQL-over-HTTP's, beside an empty `query`, which graphql-ws requires) or Apollo's
 * persistedQuery hash names a trusted document; a malformed, unknown or mismatched id, or a text
 * the caller's role may not send, is refused with the same codes. Apollo's automatic persisted
 * queries are HTTP's only: over the socket an unknown hash is refused.
 */
function trustedQuery(
  payload: SubscribePayload,
  identity: Identity,
  trusted: GatewaySubscriptionOptions['trustedDocuments'],
): string | GraphQLError[] {
  const resolved = resolveTrustedRequest({ method: 'POST', search: '', body: payload }, trusted.documents);
  if ('status' in resolved) {
    const [error] = (resolved.body as { errors: Array<{ message: string; extensions: Record<string, unknown> }> })
      .errors;
    return [new GraphQLError(error!.message, { extensions: error!.extensions })];
  }
  const query = (resolved.body as { query?: unknown }).query;
  if (typeof query !== 'string' || query === '') {
    return [
      new GraphQLError('send the document: its text, or the id of a trusted document', {
        extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
      }),
    ];
  }
  const judged = trusted.gate(documentHash(query), identity.role, payload.operationName ?? null, log());
  return judged.kind === 'refused' ? [judged.error] : query;
}

/** The gateway's subscriptions: one method per graphql-ws event, and the counts they keep. */
class SubscriptionHub {
  private readonly connections = new WeakMap<ConnectionKey, Connection>();
  readonly perPrincipal = new Map<string, number>();
  slowConsumers = 0;
  readonly streams = { forwarded: 0, paged: 0, forwardPauses: 0 };

  constructor(private readonly options: GatewaySubscriptionOptions) {}

  /** A connection's token, checked once: without a valid one the socket closes with 4401. */
  async connect(key: ConnectionKey, header: unknown, extra: SocketExtra): Promise<boolean> {
    const authorization = typeof header === 'string' ? header : undefined;
    const verified = await verifyAuthorization(authorization, this.options.tokens);
    if (!verified.ok) {
      // Returning false would close with 4403; a missing or bad token is 4401.
      extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
      return false;
    }
    assertPrincipalComplete(verified.identity, verified.expiresAt);
    const { request } = extra;
    const text = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' && value !== '' ? value : null;
    };
    this.connections.set(key, {
      identity: verified.identity,
      upstreams: new Map(),
      active: 0,
      context: {
        authorization,
        auth: { ok: true, identity: verified.identity, expiresAt: verified.expiresAt },
        client: {
          ip: request.socket.remoteAddress ?? null,
          userAgent: text('user-agent'),
          deviceId: text('x-device-id'),
        },
        // admit judges each client document; what the socket server runs for it is its own text.
        documentJudged: true,
      },
    });
    return true;
  }

  /**
   * An operation checked and planned as over HTTP, and a subscription counted against its connection's and principal's
   * limits.
   */
  admit(key: ConnectionKey, payload: SubscribePayload, socket: WebSocket): ExecutionArgs | GraphQLError[] {
    const connection = this.connections.get(key)!;
    const schema = this.options.apiSchema();
    if (!schema)
      return [
        new GraphQLError('the gateway is still loading its schema; try again', { extensions: { code: 'RETRYABLE' } }),
      ];
    const query = trustedQuery(payload, connection.identity, this.options.trustedDocuments);
    if (typeof query !== 'string') return query;
    const checked = checkedDocument(schema, { ...payload, query }, this.options.operationLimits);
    if (Array.isArray(checked)) return checked;
    const planned = planOperation(
      schema,
      checked,
      payload.operationName ?? null,
      payload.variables ?? {},
      this.options.servedBy,
    );
    if (!planned.ok) return planned.error;
    if (planned.value.kind === 'subscription') {
      const refused = this.count(connection);
      if (refused) return [refused];
    }
    const contextValue: PlannedContext = { plan: planned.value, connection, socket };
    return {
      schema,
      document: checked,
      contextValue,
      operationName: payload.operationName ?? null,
      variableValues: payload.variables ?? {},
    };
  }

  /** Counts one more subscription, or answers why it may not be held. */
  private count(connection: Connection): GraphQLError | null {
    const { limits } = this.options;
    const principal = principalOf(connection.identity);
    if (connection.active >= limits.perConnectionMax)
      return limitError(`a connection may hold at most ${limits.perConnectionMax} subscriptions`);
    if ((this.perPrincipal.get(principal) ?? 0) >= limits.perPrincipalMax)
      return limitError(`one caller may hold at most ${limits.perPrincipalMax} subscriptions`);
    connection.active += 1;
    this.perPrincipal.set(principal, (this.perPrincipal.get(principal) ?? 0) + 1);
    return null;
  }

  private release(connection: Connection): () => void {
    const principal = principalOf(connection.identity);
    return () => {
      connection.active -= 1;
      const left = (this.perPrincipal.get(principal) ?? 1) - 1;
      if (left > 0) this.perPrincipal.set(principal, left);
      else this.perPrincipal.delete(principal);
    };
  }

  subscribe({
    plan,
    connection,
    socket,
  }: PlannedContext): AsyncGenerator<ExecutionResult, void, undefined> | Promise<ExecutionResult> {
    const { options } = this;
    if (plan.kind !== 'subscription') return execute(options.apollo, connection, plan);
    const subscription = plan.subscription;
    if (subscription.forwardQuery === null) this.streams.paged += 1;
    else this.streams.forwarded += 1;
    return bridgeEventStream(
      subscription,
      {
        upstream: this.upstreamOf(connection, subscription.stream.subgraph),
        socket,
        limits: options.limits,
        readPage: (after, first) =>
          runQuery(options.apollo, connection, subscription.pageQuery, subscription.operationName, {
            ...subscription.variables,
            [subscription.afterVariable]: after,
            [subscription.firstVariable]: first,
          }),
        onSlowConsumer: () => {
          this.slowConsumers += 1;
        },
        onForwardPaused: () => {
          this.streams.forwardPauses += 1;
        },
        tokenHonoured: () => {
          const { auth } = connection.context;
          return auth.ok && honouredUntil(auth) > Math.floor(Date.now() / 1000);
        },
      },
      this.release(connection),
    );
  }

  /** The connection's graphql-ws client to a streaming subgraph, made at its first stream there. */
  private upstreamOf(connection: Connection, subgraph: string): Client {
    const known = connection.upstreams.get(subgraph);
    if (known) return known;
    const target = this.options.upstreams.get(subgraph);
    // The gateway checks at start-up that every stream's subgraph has a URL and secret (server.ts).
    if (!target) throw new Error(`no graphql-ws endpoint for the ${subgraph} subgraph`);
    const client = upstreamClient(target.wsUrl, upstreamAuth(target.trust, connection.context));
    connection.upstreams.set(subgraph, client);
    return client;
  }

  close(key: ConnectionKey): void {
    const connection = this.connections.get(key);
    for (const client of connection?.upstreams.values() ?? []) void client.dispose();
  }
}

/**
 * The document, within the same size, depth, alias and cost limits as over HTTP, measured with
 * the variables execution will use (defaults applied); variables that do not coerce are refused
 * here, BAD_USER_INPUT naming each, as over HTTP.
 */
function checkedDocument(
  schema: GraphQLSchema,
  payload: SubscribePayload,
  limits: OperationLimits,
): DocumentNode | GraphQLError[] {
  const tooBig = checkSource(payload.query, limits);
  if (tooBig) return [operationLimitError(tooBig)];
  let document: DocumentNode;
  try {
    document = parse(payload.query);
  } catch (error) {
    return [error instanceof GraphQLError ? error : new GraphQLError('the document cannot be parsed')];
  }
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION &&
      (payload.operationName == null || d.name?.value === payload.operationName),
  );
  if (!operation) return document;
  const variables = coerceVariables(schema, operation, payload.variables ?? undefined);
  if (!variables.ok)
    return variables.errors.map(
      (e) =>
        new GraphQLError(e.message, {
          nodes: e.nodes ?? null,
          originalError: e,
          extensions: { code: 'BAD_USER_INPUT' },
        }),
    );
  const measured = checkOperation(schema, fragmentsOf(document.definitions), operation, variables.values, limits);
  return measured.ok ? document : [operationLimitError(measured.error)];
}

function principalOf(identity: Identity): string {
  return `${identity.role}:${identity.sub}`;
}

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'SUBSCRIPTION_LIMIT_REACHED' } });
}

/** One upstream connection per client connection, carrying the gateway's secret and that client's identity. */
function upstreamClient(url: string, auth: ReturnType<typeof upstreamAuth>): Client {
  return createClient({
    url,
    ...auth,
    lazy: true,
    lazyCloseTimeout: 1_000,
    // The bridge resubscribes from its last cursor itself; the client's own retries would
    // resubscribe from the first one.
    retryAttempts: 0,
  });
}

async function runQuery(
  apollo: ApolloServer<GatewayContext>,
  connection: Connection,
  query: string,
  operationName: string | null,
  variables: Record<string, unknown>,
): Promise<FormattedExecutionResult> {
  const response = await apollo.executeOperation(
    { query, variables, ...(operationName ? { operationName } : {}) },
    { contextValue: connection.context },
  );
  if (response.body.kind !== 'single') {
    return {
      errors: [
        { message: 'incremental delivery is not supported over graphql-ws', extensions: { code: 'BAD_REQUEST' } },
      ],
    };
  }
  return response.body.singleResult;
}

async function execute(
  apollo: ApolloServer<GatewayContext>,
  connection: Connection,
  plan: OperationPlan,
): Promise<ExecutionResult> {
  if (plan.kind !== 'execute') throw new Error('a subscription reached execute');
  const response = await apollo.executeOperation(
    {
      query: plan.document,
      variables: plan.variables,
      ...(plan.operationName ? { operationName: plan.operationName } : {}),
    },
    { contextValue: connection.context },
  );
  if (response.body.kind !== 'single') {
    return {
      errors: [
        new GraphQLError('incremental delivery is not supported over graphql-ws', {
          extensions: { code: 'BAD_REQUEST' },
        }),
      ],
    };
  }
  const result = response.body.singleResult;
  const errors = toGraphQLErrors(result.errors);
  return { data: (result.data ?? null) as Record<string, unknown> | null, ...(errors ? { errors } : {}) };
}
