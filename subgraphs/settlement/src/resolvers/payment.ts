import type { PaymentResolvers } from '../generated/resolvers-types';
import { allowed } from '@paygraph/shared/graphql/errors';
import { readableSettlement } from '../services/settlements';

export const paymentResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
  /** Batched: a page of payments costs one query per shard for their settlement ids (the context's loader). */
  settlement: async (payment, _, ctx) => {
    const settlementId = await ctx.settlementIdOfPayment.load(payment.id);
    return settlementId ? allowed(await readableSettlement(ctx, settlementId)) : null;
  },
} satisfies PaymentResolvers;
