import { authorized } from '@paygraph/shared/graphql/errors';
import type { MutationResolvers } from '../generated/resolvers-types';
import { createEndpoint, disableEndpointBy, redeliver, rotateSecret } from '../services/endpoints';
import { createError, manageError } from './user-errors';

/** Thin: parse, call the service (which authorizes; a refusal is FORBIDDEN here), map its result union. */
export const mutationResolvers = {
  createWebhookEndpoint: async (_, args, ctx) => {
    const result = authorized(await createEndpoint(ctx, args.input));
    return result.ok ? { __typename: 'WebhookEndpoint', ...result.value } : createError(result.error);
  },
  disableWebhookEndpoint: async (_, args, ctx) => {
    const result = authorized(await disableEndpointBy(ctx, args.input.endpointId));
    return result.ok ? { __typename: 'WebhookEndpoint', ...result.value } : manageError(result.error);
  },
  rotateWebhookSecret: async (_, args, ctx) => {
    const result = authorized(await rotateSecret(ctx, args.input.endpointId));
    return result.ok ? { __typename: 'WebhookEndpoint', ...result.value } : manageError(result.error);
  },
  redeliverWebhookEvents: async (_, args, ctx) => {
    const result = authorized(await redeliver(ctx, args.input.endpointId, new Date(args.input.since)));
    return result.ok ? { __typename: 'RedeliveryQueued', ...result.value } : manageError(result.error);
  },
} satisfies MutationResolvers;
