import type http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode, createClient, type Client, type SubscribePayload } from 'graphql-ws';
import { GraphQLError, Kind, parse, type ExecutionArgs, type ExecutionResult, type FormattedExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { ApolloServer } from '@apollo/server';
import { verifyAuthorization, type Identity, type TokenSettings } from '@paygraph/shared/identity';
import { coerceVariables } from '../coerced-variables';
import { checkOperation, checkSource, fragmentsOf, limitError as operationLimitError, type OperationLimits } from '../security/operation-limits';
import type { SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { honouredUntil, type GatewayContext } from '../context';
import { upstreamAuth } from '../identity-tokens';
import { assertPrincipalComplete } from '../invariants';
import { bridgeBalanceStream, toGraphQLErrors, type BridgeLimits } from './bridge';
import { planOperation, type OperationPlan } from './operation';
import type { SubgraphFields } from './served-by';
import { resolveTrustedRequest, type TrustedDocumentsGate } from '../security/trusted-documents';
import { documentHash, type TrustedDocumentSet } from '../security/trusted-manifests';
import { log } from '@paygraph/shared/log';

/**
 * graphql-ws (graphql-transport-ws) on the gateway's own port and path /graphql. The token
 * comes once, in connectionParams.authorization; without a valid one the socket closes with
 * 4401 before anything else happens, and a subscription to an account that is not the
 * caller's closes it with 4403. Queries and mutations sent over the socket run like HTTP ones.
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
  /** The fields the account subgraph serves alone, once the supergraph is loaded: their subscriptions are forwarded. */
  accountFields: () => SubgraphFields | null;
  /** The account subgraph's graphql-ws endpoint. */
  accountWsUrl: string;
  /** The account subgraph's secret: the upstream socket carries the same trust as an HTTP fetch. */
  accountTrust: SubgraphTrust;
  limits: SubscriptionLimits;
  /** The same depth, alias, cost and size limits as over HTTP, checked before anything runs. */
  operationLimits: OperationLimits;
  /** The manifests in force and the gate HTTP requests pass too (security/trusted-documents.ts). */
  trustedDocuments: { documents: TrustedDocumentSet; gate: TrustedDocumentsGate };
  keepAliveMs: number;
}

interface Connection {
  context: GatewayContext;
  identity: Identity;
  upstream: Client | null;
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
   * Subscriptions served since start, by how: forwarded to the account subgraph, or read page
   * by page through the gateway's query execution; and how often a forwarded one was dropped
   * and taken up again because its client was pageSize events behind.
   */
  streams(): { forwarded: number; paged: number; forwardPauses: number };
  dispose(): Promise<void>;
}

export function serveGatewaySubscriptions(server: http.Server, options: GatewaySubscriptionOptions): SubscriptionServer {
  const sockets = new WebSocketServer({ server, path: '/graphql' });
  const connections = new WeakMap<object, Connection>();
  const perPrincipal = new Map<string, number>();
  const { limits } = options;
  let slowConsumers = 0;
  const streams = { forwarded: 0, paged: 0, forwardPauses: 0 };

  const release = (connection: Connection, principal: string) => () => {
    connection.active -= 1;
    const left = (perPrincipal.get(principal) ?? 1) - 1;
    if (left > 0) perPrincipal.set(principal, left);
    else perPrincipal.delete(principal);
  };

  const handle = useServer<Record<string, unknown>, { socket: WebSocket; request: http.IncomingMessage }>(
    {
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization;
        const authorization = typeof header === 'string' ? header : undefined;
        const verified = await verifyAuthorization(authorization, options.tokens);
        if (!verified.ok) {
          // Returning false would close with 4403; a missing or bad token is 4401.
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
          return false;
        }
        assertPrincipalComplete(verified.identity, verified.expiresAt);
        const request = ctx.extra.request;
        const text = (name: string) => {
          const value = request.headers[name];
          return typeof value === 'string' && value !== '' ? value : null;
        };
        connections.set(ctx, {
          identity: verified.identity,
          upstream: null,
          active: 0,
          context: {
            authorization,
            auth: { ok: true, identity: verified.identity, expiresAt: verified.expiresAt },
            client: { ip: request.socket.remoteAddress ?? null, userAgent: text('user-agent'), deviceId: text('x-device-id') },
            // onSubscribe judges each client document; what the socket server runs for it is its own text.
            documentJudged: true,
          },
        });
        return true;
      },
      onSubscribe: (ctx, _id, payload): ExecutionArgs | GraphQLError[] => {
        const connection = connections.get(ctx)!;
        const schema = options.apiSchema();
        if (!schema) return [new GraphQLError('the gateway is still loading its schema; try again', { extensions: { code: 'RETRYABLE' } })];
        const query = trustedQuery(payload, connection.identity, options.trustedDocuments);
        if (typeof query !== 'string') return query;
        const tooBig = checkSource(query, options.operationLimits);
        if (tooBig) return [operationLimitError(tooBig)];
        let document;
        try {
          document = parse(query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('the document cannot be parsed')];
        }
        const operation = document.definitions.find((d): d is OperationDefinitionNode =>
          d.kind === Kind.OPERATION_DEFINITION && (payload.operationName == null || d.name?.value === payload.operationName));
        if (operation) {
          // Measured with the variables execution will use, defaults applied; variables that do
          // not coerce are refused here, BAD_USER_INPUT naming each, as over HTTP.
          const variables = coerceVariables(schema, operation, payload.variables ?? undefined);
          if (!variables.ok) return variables.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes ?? null, originalError: e, extensions: { code: 'BAD_USER_INPUT' } }));
          const measured = checkOperation(schema, fragmentsOf(document.definitions), operation, variables.values, options.operationLimits);
          if (!measured.ok) return [operationLimitError(measured.error)];
        }
        const planned = planOperation(schema, document, payload.operationName ?? null, payload.variables ?? {}, options.accountFields());
        if (!planned.ok) return planned.error;
        if (planned.value.kind === 'subscription') {
          const principal = principalOf(connection.identity);
          if (connection.active >= limits.perConnectionMax) {
            return [limitError(`a connection may hold at most ${limits.perConnectionMax} subscriptions`)];
          }
          if ((perPrincipal.get(principal) ?? 0) >= limits.perPrincipalMax) {
            return [limitError(`one caller may hold at most ${limits.perPrincipalMax} subscriptions`)];
          }
          connection.active += 1;
          perPrincipal.set(principal, (perPrincipal.get(principal) ?? 0) + 1);
        }
        const contextValue: PlannedContext = { plan: planned.value, connection, socket: ctx.extra.socket };
        return {
          schema, document, contextValue,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? {},
        };
      },
      subscribe: (args) => {
        const { plan, connection, socket } = args.contextValue as PlannedContext;
        if (plan.kind !== 'subscription') return execute(options.apollo, connection, plan);
        const subscription = plan.subscription;
        if (subscription.forwardQuery === null) streams.paged += 1;
        else streams.forwarded += 1;
        connection.upstream ??= upstreamClient(options.accountWsUrl, upstreamAuth(options.accountTrust, connection.context));
        return bridgeBalanceStream(
          subscription,
          {
            upstream: connection.upstream,
            socket,
            limits,
            readPage: (after, first) => runQuery(options.apollo, connection, subscription.pageQuery, subscription.operationName, {
              ...subscription.variables,
              [subscription.afterVariable]: after,
              [subscription.firstVariable]: first,
            }),
            onSlowConsumer: () => {
              slowConsumers += 1;
            },
            onForwardPaused: () => {
              streams.forwardPauses += 1;
            },
            tokenHonoured: () => {
              const { auth } = connection.context;
              return auth.ok && honouredUntil(auth) > Math.floor(Date.now() / 1000);
            },
          },
          release(connection, principalOf(connection.identity)),
        );
      },
      execute: (args) => {
        const { plan, connection } = args.contextValue as PlannedContext;
        return execute(options.apollo, connection, plan);
      },
      onClose: (ctx) => {
        const connection = connections.get(ctx);
        if (connection?.upstream) void connection.upstream.dispose();
      },
    },
    sockets,
    options.keepAliveMs,
  );

  return {
    activeByPrincipal: () => perPrincipal,
    slowConsumers: () => slowConsumers,
    streams: () => ({ ...streams }),
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
function trustedQuery(payload: SubscribePayload, identity: Identity, trusted: GatewaySubscriptionOptions['trustedDocuments']): string | GraphQLError[] {
  const resolved = resolveTrustedRequest({ method: 'POST', search: '', body: payload }, trusted.documents);
  if ('status' in resolved) {
    const [error] = (resolved.body as { errors: Array<{ message: string; extensions: Record<string, unknown> }> }).errors;
    return [new GraphQLError(error!.message, { extensions: error!.extensions })];
  }
  const query = (resolved.body as { query?: unknown }).query;
  if (typeof query !== 'string' || query === '') {
    return [new GraphQLError('send the document: its text, or the id of a trusted document', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } })];
  }
  const judged = trusted.gate(documentHash(query), identity.role, payload.operationName ?? null, log());
  return judged.kind === 'refused' ? [judged.error] : query;
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
    return { errors: [{ message: 'incremental delivery is not supported over graphql-ws', extensions: { code: 'BAD_REQUEST' } }] };
  }
  return response.body.singleResult;
}

async function execute(apollo: ApolloServer<GatewayContext>, connection: Connection, plan: OperationPlan): Promise<ExecutionResult> {
  if (plan.kind !== 'execute') throw new Error('a subscription reached execute');
  const response = await apollo.executeOperation(
    { query: plan.document, variables: plan.variables, ...(plan.operationName ? { operationName: plan.operationName } : {}) },
    { contextValue: connection.context },
  );
  if (response.body.kind !== 'single') {
    return { errors: [new GraphQLError('incremental delivery is not supported over graphql-ws', { extensions: { code: 'BAD_REQUEST' } })] };
  }
  const result = response.body.singleResult;
  const errors = toGraphQLErrors(result.errors);
  return { data: (result.data ?? null) as Record<string, unknown> | null, ...(errors ? { errors } : {}) };
}
