import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, responsePathAsArray, type GraphQLResolveInfo } from 'graphql';
import { pushTo } from '../collections';

/**
 * Partial answers, as GraphQL intends them: `data` AND `errors`. A resolver that can still
 * answer most of its field (a list read from every shard, one of which is down) returns what it
 * has and reports the error here, at its own path; partialErrorsPlugin adds it to the response's
 * `errors`. A thrown error would instead null the field, and with it every non-null parent.
 * The error is sent as given (formatError does not see it), so it must already be safe to show.
 */
const reported = new WeakMap<object, GraphQLError[]>();

/** Whether a resolver reported an error beside its data in the request of this context. */
export function reportedBesideData(context: object): boolean {
  return (reported.get(context)?.length ?? 0) > 0;
}

/** The errors reported with one context, moved to another (Apollo Server's copy of it: server/subgraph-lane.ts). */
export function moveReported(from: object, to: object): void {
  const errors = reported.get(from);
  if (errors === undefined || from === to) return;
  reported.delete(from);
  reported.set(to, errors);
}

export function reportBesideData(context: object, info: GraphQLResolveInfo, error: GraphQLError): void {
  const located = new GraphQLError(error.message, {
    nodes: info.fieldNodes,
    path: responsePathAsArray(info.path),
    extensions: error.extensions,
  });
  pushTo(reported, context, located);
}

export function partialErrorsPlugin<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const errors = reported.get(contextValue);
          if (!errors || errors.length === 0 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.errors = [...(result.errors ?? []), ...errors.map((e) => e.toJSON())];
        },
      };
    },
  };
}
