import type { Resolvers } from '../generated/resolvers-types';
import { DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { mutationResolvers } from './mutation';
import { queryResolvers } from './query';
import { webhookEndpointResolvers } from './webhook-endpoint';

export const resolvers = {
  DateTime: DateTimeScalar,
  Query: queryResolvers,
  Mutation: mutationResolvers,
  WebhookEndpoint: webhookEndpointResolvers,
} satisfies Resolvers;
