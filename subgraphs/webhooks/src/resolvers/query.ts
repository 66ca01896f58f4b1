import { allowed, badUserInput } from '@paygraph/shared/graphql/errors';
import type { QueryResolvers } from '../generated/resolvers-types';
import { listEndpoints, readEndpoint } from '../services/endpoints';
import { endpointsPerOwnerMax } from '../limits';

export const queryResolvers = {
  webhookEndpoint: async (_, args, ctx) => allowed(await readEndpoint(ctx, args.id)),
  webhookEndpoints: async (_, args, ctx) => {
    const first = args.first ?? endpointsPerOwnerMax;
    if (!Number.isInteger(first) || first < 0 || first > endpointsPerOwnerMax)
      throw badUserInput(`first must be between 0 and ${endpointsPerOwnerMax}`);
    return allowed(await listEndpoints(ctx, first));
  },
} satisfies QueryResolvers;
