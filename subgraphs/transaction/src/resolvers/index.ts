import { AmountScalar, DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { accountResolvers } from './account';
import { entryResolvers } from './entry';
import { mutationResolvers } from './mutation';
import { externalTransferResolvers, paymentResolvers, refundResolvers } from './payment';
import { queryResolvers } from './query';
import { holdResolvers } from './hold';

export const resolvers = {
  Amount: AmountScalar,
  DateTime: DateTimeScalar,
  Query: queryResolvers,
  Mutation: mutationResolvers,
  Account: accountResolvers,
  Entry: entryResolvers,
  Payment: paymentResolvers,
  Refund: refundResolvers,
  Hold: holdResolvers,
  Deposit: externalTransferResolvers,
  Withdrawal: externalTransferResolvers,
};
