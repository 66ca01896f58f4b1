import type { SettlementContext } from '../context';
import { readableSettlement } from './authorization';

export const paymentResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  /** Batched: a page of payments costs one query per shard for their settlement ids (the context's loader). */
  settlement: async (payment: { id: string }, _: unknown, ctx: SettlementContext) => {
    const settlementId = await ctx.settlementIdOfPayment.load(payment.id);
    return settlementId ? readableSettlement(ctx, settlementId) : null;
  },
};
