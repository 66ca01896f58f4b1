import { AmountScalar, DateTimeScalar } from '@paygraph/shared/graphql/scalars';
import { accountResolvers } from './account';
import { entryResolvers } from './entry';
import { mutationResolvers } from './mutation';
import { externalTransferResolvers, legResolvers, paymentResolvers, refundResolvers } from './payment';
import { campaignResolvers } from './campaign';
import { queryResolvers } from './query';
import { portfolioQueryResolvers } from './portfolio';
import { holdResolvers } from './hold';
import {
  fxMutationResolvers,
  fxQueryResolvers,
  fxQuoteResolvers,
  fxRateResolvers,
  paymentFx,
  paymentFxResolvers,
} from './fx';
import {
  externalAccountMutationResolvers,
  externalAccountResolvers,
  transferExternalAccount,
} from './external-account';
import {
  externalAccountEventQueryResolvers,
  externalAccountEventResolvers,
  externalAccountSubscriptionResolvers,
} from './external-account-event';
import type { Resolvers } from '../generated/resolvers-types';

export const resolvers = {
  Amount: AmountScalar,
  DateTime: DateTimeScalar,
  Query: { ...queryResolvers, ...fxQueryResolvers, ...portfolioQueryResolvers, ...externalAccountEventQueryResolvers },
  Mutation: { ...mutationResolvers, ...fxMutationResolvers, ...externalAccountMutationResolvers },
  Account: accountResolvers,
  Entry: entryResolvers,
  Payment: { ...paymentResolvers, fx: paymentFx },
  FxRate: fxRateResolvers,
  FxQuote: fxQuoteResolvers,
  PaymentFx: paymentFxResolvers,
  Refund: refundResolvers,
  Hold: holdResolvers,
  Leg: legResolvers,
  Campaign: campaignResolvers,
  Deposit: { ...externalTransferResolvers, externalAccount: transferExternalAccount },
  Withdrawal: { ...externalTransferResolvers, externalAccount: transferExternalAccount },
  ExternalAccount: externalAccountResolvers,
  ExternalAccountEvent: externalAccountEventResolvers,
  Subscription: externalAccountSubscriptionResolvers,
} satisfies Resolvers;
