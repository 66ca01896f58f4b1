import type { Resolvers } from '../generated/resolvers-types';
import { AmountScalar, DateScalar, DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { accountResolvers } from './account';
import { mutationResolvers } from './mutation';
import { paymentResolvers } from './payment';
import { queryResolvers } from './query';
import { settlementResolvers } from './settlement';
import { advanceOfferResolvers, advanceResolvers, advanceTermsResolvers } from './advance';

export const resolvers = {
  Amount: AmountScalar,
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query: queryResolvers,
  Mutation: mutationResolvers,
  Settlement: settlementResolvers,
  Account: accountResolvers,
  Payment: paymentResolvers,
  Advance: advanceResolvers,
  AdvanceTerms: advanceTermsResolvers,
  AdvanceOffer: advanceOfferResolvers,
} satisfies Resolvers;
