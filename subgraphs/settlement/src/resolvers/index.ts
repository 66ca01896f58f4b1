import { AmountScalar, DateScalar, DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { accountResolvers, mutationResolvers, paymentResolvers, queryResolvers, settlementResolvers } from './operations';

export const resolvers = {
  Amount: AmountScalar,
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query: queryResolvers,
  Mutation: mutationResolvers,
  Settlement: settlementResolvers,
  Account: accountResolvers,
  Payment: paymentResolvers,
};
