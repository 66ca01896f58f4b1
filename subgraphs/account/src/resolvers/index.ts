import { AmountScalar, DateScalar, DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { accountResolvers } from './account';
import { balanceEventQueryResolvers, balanceEventResolvers, subscriptionResolvers } from './balance-event';
import { entryResolvers } from './entry';
import { mutationResolvers } from './mutation';
import { queryResolvers } from './query';
import type { Resolvers } from '../generated/resolvers-types';

export const resolvers = {
  Amount: AmountScalar,
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query: { ...queryResolvers, ...balanceEventQueryResolvers },
  Subscription: subscriptionResolvers,
  BalanceChangeEvent: balanceEventResolvers,
  Mutation: mutationResolvers,
  Account: accountResolvers,
  Entry: entryResolvers,
} satisfies Resolvers;
