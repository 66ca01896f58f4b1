import { formatAmount } from '@paygraph/shared/money';
import type { SettlementContext } from '../context';
import type { SettlementRow } from '../db/schema/settlement';
import { settlementPaymentIds } from '../services/settlements';
import { readableSettlement } from './authorization';

export const settlementResolvers = {
  __resolveReference: (ref: { id: string }, ctx: SettlementContext) => readableSettlement(ctx, ref.id),
  grossAmount: (s: SettlementRow) => formatAmount(s.grossAmount),
  refundedAmount: (s: SettlementRow) => formatAmount(s.refundedAmount),
  feeAmount: (s: SettlementRow) => formatAmount(s.feeAmount),
  netAmount: (s: SettlementRow) => formatAmount(s.netAmount),
  merchantAccount: (s: SettlementRow) => ({ __typename: 'Account', id: s.merchantAccountId }),
  payments: async (s: SettlementRow, _: unknown, ctx: SettlementContext) =>
    (await settlementPaymentIds(ctx.shards, s)).map((id) => ({ __typename: 'Payment', id })),
};
