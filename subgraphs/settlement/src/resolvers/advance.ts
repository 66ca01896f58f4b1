import { formatAmount } from '@paygraph/shared/money';
import type { AdvanceOfferResolvers, AdvanceResolvers, AdvanceTermsResolvers } from '../generated/resolvers-types';

export const advanceResolvers = {
  amount: (a) => formatAmount(a.amount),
  feeAmount: (a) => formatAmount(a.feeAmount),
  netAmount: (a) => formatAmount(a.netAmount),
  merchantAccount: (a) => ({ id: a.merchantAccountId }),
} satisfies AdvanceResolvers;

export const advanceTermsResolvers = {
  outstandingMax: (t) => formatAmount(t.outstandingMax),
} satisfies AdvanceTermsResolvers;

export const advanceOfferResolvers = {
  allowedAmount: (o) => formatAmount(o.allowedAmount),
  outstanding: (o) => formatAmount(o.outstanding),
} satisfies AdvanceOfferResolvers;
