import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { describeIdentityFailure } from '@paygraph/shared/identity';
import { unauthenticated } from '@paygraph/shared/graphql/errors';
import { honouredUntil, type GatewayContext } from './context';
import type { Metrics } from './metrics';
import type { ClientLabels } from './client-awareness';
import { slowFieldTimeoutsMs } from './limits';
import { fragmentsOf } from './security/operation-limits';
import { rootSelectionsOf } from './security/root-fields';

/**
 * Every operation needs a valid token, except a pure introspection query (so GraphQL
 * Explorer can load the schema before a token is pasted in; production turns introspection
 * off altogether). The refusal happens before any subgraph is called. A graphql-ws connection
 * verifies its token once and then runs operations for as long as it stays open, so the
 * token's expiry is checked again for each one.
 */
export const requireIdentity: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operation }) {
        const { auth } = contextValue;
        if (auth.ok && honouredUntil(auth) <= Math.floor(Date.now() / 1000)) {
          throw unauthenticated(describeIdentityFailure({ kind: 'TokenExpired' }));
        }
        if (auth.ok || (operation && isIntrospectionOnly(operation))) return;
        throw unauthenticated(describeIdentityFailure(auth.failure));
      },
    };
  },
};

function isIntrospectionOnly(operation: OperationDefinitionNode): boolean {
  return (
    operation.operation === 'query' &&
    operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__'))
  );
}

export function metricsPlugin(metrics: Metrics, clients: ClientLabels): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ operationName, response, request }) {
          const body = response.body;
          const ok = body.kind === 'single' ? !body.singleResult.errors?.length : true;
          metrics.record(operationName ?? 'anonymous', ok, performance.now() - started);
          metrics.recordClient(clients.of(request), ok);
        },
      };
    },
  };
}

/**
 * An operation that does a file's worth of work (importBankStatement, createPayments, channelReconciliation) gets the
 * subgraph timeout of its slowest root field (limits.ts slowFieldTimeoutsMs) in place of subgraphRequestTimeoutMs;
 * every other operation keeps that.
 */
export const slowOperations: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operation, document, schema }) {
        if (!operation) return;
        const fields = rootSelectionsOf(schema, fragmentsOf(document.definitions), operation);
        const timeoutMs = slowTimeoutMsOf(fields);
        if (timeoutMs > 0) contextValue.subgraphTimeoutMs = timeoutMs;
      },
    };
  },
};

/** The subgraph timeout an operation's root fields take (their slowest's), or 0 for subgraphRequestTimeoutMs. */
export function slowTimeoutMsOf(fields: ReadonlyArray<{ name: string }>): number {
  return Math.max(0, ...fields.map((f) => slowFieldTimeoutsMs[f.name] ?? 0));
}
