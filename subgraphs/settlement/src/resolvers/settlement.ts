import { formatAmount } from '@paygraph/shared/money';
import type { SettlementResolvers } from '../generated/resolvers-types';
import { readableSettlement, settlementPaymentIds } from '../services/settlements';
import { allowed } from '@paygraph/shared/graphql/errors';

export const settlementResolvers = {
  __resolveReference: async (ref, ctx) => allowed(await readableSettlement(ctx, ref.id)),
  grossAmount: (s) => formatAmount(s.grossAmount),
  refundedAmount: (s) => formatAmount(s.refundedAmount),
  advancedAmount: (s) => formatAmount(s.advancedAmount),
  feeAmount: (s) => formatAmount(s.feeAmount),
  netAmount: (s) => formatAmount(s.netAmount),
  creditRepaidAmount: (s) => formatAmount(s.creditRepaidAmount),
  merchantAccount: (s) => ({ id: s.merchantAccountId }),
  payments: async (s, _, ctx) => (await settlementPaymentIds(ctx, s)).map((id) => ({ id })),
} satisfies SettlementResolvers;
